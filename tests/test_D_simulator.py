"""The device simulator: a management command and a page, with DEBUG only."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import NoReverseMatch, clear_url_caches, reverse
from django.utils import timezone

from devices import algorithms
from devices.flows import issue_device
from devices.models import DeviceStatus, SecurityDevice, active_binding_for


def _device(alice, device_type, pin=None) -> SecurityDevice:
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.REVOKED)
    return issue_device(alice.client, device_type, now=timezone.now(), pin=pin)


def _run(*args) -> str:
    out = StringIO()
    call_command("device_simulator", *args, stdout=out)
    return out.getvalue()


@override_settings(DEBUG=True)
def test_simulator_prints_the_current_totp_code(alice, clock):
    device = _device(alice, "mobile")
    assert algorithms.totp(device.seed, digits=6, period=30).at(timezone.now()) in _run(device.serial)


@override_settings(DEBUG=True)
def test_simulator_prints_the_ocra_response_to_a_question(alice, clock):
    device = _device(alice, "dsc_plus", pin="2580")
    expected = algorithms.ocra_response("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", device.seed, "12345678", device.pin_digest)
    assert f"12345678 -> {expected}" in _run(device.serial, "--question", "12345678")
    assert "8-digit challenge" in _run(device.serial, "--question", "12ab")


@override_settings(DEBUG=True)
def test_simulator_prints_code_card_codes_at_positions(alice):
    device = active_binding_for(alice).security_device
    from devices import codecard

    out = _run(device.serial, "--question", "12,187")
    assert f"12: {codecard.code_at(device.seed, 12)}" in out and f"187: {codecard.code_at(device.seed, 187)}" in out
    assert "run from 1 to 224" in _run(device.serial, "--question", "999")


@override_settings(DEBUG=True)
def test_simulator_unknown_serial_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No device has the serial"):
        _run("NOPE")


@override_settings(DEBUG=False)
def test_SEC_simulator_command_refuses_without_debug(alice):
    serial = active_binding_for(alice).security_device.serial
    with pytest.raises(CommandError, match="DEBUG"):
        _run(serial)


def _reload_urls():
    import sls_portal.urls

    importlib.reload(sls_portal.urls)
    clear_url_caches()


@pytest.fixture
def urls_with_debug():
    """Rebuild the URLconf as it is built with DEBUG on; put it back after."""
    with override_settings(DEBUG=True):
        _reload_urls()
        yield
    _reload_urls()


def test_SEC_simulator_page_is_not_in_the_urlconf_with_production_settings(alice, web):
    with override_settings(DEBUG=False):
        _reload_urls()
        with pytest.raises(NoReverseMatch):
            reverse("dev-simulator", args=["X"])
        serial = active_binding_for(alice).security_device.serial
        assert web.get(f"/dev/simulator/{serial}/").status_code == 404


def test_simulator_page_shows_the_device_in_debug(urls_with_debug, alice, web, clock):
    device = _device(alice, "alpine")
    page = web.get(reverse("dev-simulator", args=[device.serial]))
    assert page.status_code == 200
    assert algorithms.totp(device.seed, digits=6, period=60).at(timezone.now()) in page.content.decode()
    assert web.get("/dev/simulator/NOPE/").status_code == 404
    assert web.get(f"/dev/simulator/{device.serial}/?question=%00").status_code == 200
