"""The demo data has a client for each device kind; each logs in with what the simulator shows."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from agents.management.commands.seed_demo import DEMO_PASSWORD, DEVICE_PERSONAS
from devices.models import DeviceBinding, DeviceStatus, DeviceType, SecurityDevice
from login.flows import load_pending
from login.views import PENDING
from tests.conftest import csrf_post

KINDS = {persona[0]: persona[5] for persona in DEVICE_PERSONAS}


def _seed() -> str:
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def _simulate(*args: str) -> list[str]:
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("device_simulator", *args, stdout=out)
    return out.getvalue().splitlines()


def test_seed_demo_creates_a_client_with_an_active_device_of_every_kind(db, clock):
    guide = _seed()
    assert set(KINDS.values()) | {DeviceType.CODE_CARD} == set(DeviceType.values)
    for username, _first, _last, _country, _equity, kind, pin in DEVICE_PERSONAS:
        device = SecurityDevice.objects.get(client__users__username=username)
        assert device.type == kind and device.status == DeviceStatus.ACTIVE, username
        assert DeviceBinding.objects.filter(user__username=username, security_device=device).exists()
        assert f"make demo-device CLIENT={username}" in guide
        if DeviceBinding.KINDS[kind].needs_pin:
            assert pin and f"PIN {pin}" in guide and device.pin_digest, username
    assert SecurityDevice.objects.get(client__users__username="enrolled1").type == DeviceType.CODE_CARD
    # Idempotent: a second run keeps the devices and prints the same guide.
    serials = set(SecurityDevice.objects.values_list("serial", flat=True))
    assert _seed() == guide
    assert set(SecurityDevice.objects.values_list("serial", flat=True)) == serials


@pytest.mark.parametrize("username", ["enrolled1", *KINDS])
def test_each_demo_client_logs_in_with_the_simulator_output(db, clock, username):
    _seed()
    http = HttpClient(enforce_csrf_checks=True)
    first = csrf_post(http, "/login/", {"username": username, "password": DEMO_PASSWORD})
    assert first.status_code == 302 and first.url == "/login/code/", first.content[:300]
    challenge = load_pending(http.session[PENDING], timezone.now()).offers[0]["challenge"]
    if username == "enrolled1":
        positions = challenge["positions"]
        lines = _simulate("--client", username, "--question", ",".join(map(str, positions)))
        codes = [line.split(": ")[1] for line in lines[1:]]
        answer = {"code_1": codes[0], "code_2": codes[1]}
    else:
        question = challenge.get("question", "")
        assert bool(question) == DeviceBinding.KINDS[KINDS[username]].needs_pin
        assert question in http.get("/login/code/").content.decode()
        lines = _simulate("--client", username, "--question", question)
        answer = {"code": lines[1].split(" -> ")[-1]}
    done = csrf_post(http, "/login/code/", answer)
    assert done.status_code == 302 and done.url == "/", done.content[:300]
    assert http.get("/").status_code == 200


def test_simulator_by_client_needs_an_active_device(db, clock):
    _seed()
    with pytest.raises(CommandError, match="has no active device"):
        _simulate("--client", "unenrolled1")
    with pytest.raises(CommandError, match="serial, or --client"):
        _simulate()
