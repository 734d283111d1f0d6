"""Activating a new or current device (R1): the client's serial numbers, the
code as at login, the device then required at every login, the replaced
device's sessions ended; a serial not theirs or a wrong code says what to do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from devices import codecard, orders
from devices.models import DeviceBinding, DeviceStatus, SecurityDevice, active_binding_for
from tests.conftest import PASSWORD, csrf_post, login_fully

ACTIVATE = "/settings/security/sls/activate/"


def _codes_for(page: str, device: SecurityDevice) -> dict:
    positions = [int(n) for n in re.findall(r'<label for="id_code_\d">Code number (\d+)</label>', page)]
    assert len(positions) == 2, page
    return {f"code_{i}": codecard.code_at(device.seed, p) for i, p in enumerate(positions, start=1)}


@pytest.fixture
def dan(client_factory):
    person = client_factory("Dan", "Moe", "US", equity="500.00", username="dan")
    return person.users.get()


def _choose(web, serial):
    return csrf_post(web, ACTIVATE, {"step": "serial", "serial": serial})


def _code_post(web, data):
    return web.post(ACTIVATE, {"step": "code", **data, "csrfmiddlewaretoken": web.cookies["csrftoken"].value})


def test_R1_lists_the_clients_serials_and_activates_with_the_code(web, dan, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    device = order.device
    login_fully(web, dan)
    page = web.get(ACTIVATE).content.decode()
    assert device.serial in page
    chosen = _choose(web, device.serial)
    assert chosen.status_code == 200
    response = _code_post(web, _codes_for(chosen.content.decode(), device))
    assert response.status_code == 200, response.content[:300]
    assert "Your device is active" in response.content.decode()
    device.refresh_from_db()
    order.refresh_from_db()
    assert device.status == DeviceStatus.ACTIVE and device.activated_at == timezone.now()
    assert order.activated_at == timezone.now() and order.status(timezone.now()) == "activated"
    assert active_binding_for(dan).security_device == device
    assert AuditEvent.objects.filter(action="device.activated", rule="R1", client=dan.client).exists()
    # The session goes on, now verified by the new device.
    assert web.get("/").status_code == 200


def test_R1_new_device_replaces_the_active_one_and_ends_its_sessions(web, client_factory, agent, clock):
    from devices.flows import issue_code_card

    person = client_factory("Eli", "Tor", "IT", equity="500.00", username="eli")
    eli = person.users.get()
    old = issue_code_card(person, agent=agent, now=timezone.now())
    other = __import__("django.test", fromlist=["Client"]).Client(enforce_csrf_checks=True)
    login_fully(other, eli)  # a session riding on the old card
    assert other.get("/").status_code == 200
    new = orders.place(person, now=timezone.now()).order.device
    login_fully(web, eli)
    chosen = _choose(web, new.serial)
    response = _code_post(web, _codes_for(chosen.content.decode(), new))
    assert response.status_code == 200
    old.refresh_from_db()
    assert old.status == DeviceStatus.REVOKED
    assert SecurityDevice.objects.filter(client=person, status=DeviceStatus.ACTIVE).get() == new
    assert other.get("/").status_code == 302  # the old card's session has ended
    assert web.get("/").status_code == 200


@pytest.mark.parametrize("serial", ["SC9999999999", "", "x" * 5000, "SC\x00", "'; DROP TABLE x;--"])
def test_R1_serial_not_theirs_says_call_with_their_region_numbers(web, dan, client_factory, serial):
    orders.place(dan.client, now=timezone.now())
    login_fully(web, dan)
    response = _choose(web, serial)
    assert response.status_code == 400
    page = response.content.decode()
    assert "call Customer Service" in page or "Choose the serial number" in page
    assert "(203) 618-4006" in page  # the US and Canada number for a US resident
    assert "+41-41-726-9500" not in page  # not another region's
    assert not SecurityDevice.objects.filter(client=dan.client, status=DeviceStatus.ACTIVE).exists()
    assert not AuditEvent.objects.filter(action="device.activated").exists()


def test_R1_another_clients_serial_is_refused(web, dan, client_factory, agent):
    stranger = client_factory("Sam", "Else", "US", equity="500.00", username="sam")
    theirs = orders.place(stranger, now=timezone.now()).order.device
    login_fully(web, dan)
    response = _choose(web, theirs.serial)
    assert response.status_code == 400
    assert "not one of your devices" in response.content.decode()
    assert not DeviceBinding.objects.filter(user=dan, security_device=theirs).exists()


def test_R1_wrong_code_is_refused_throttled_audited_and_activates_nothing(web, dan, clock):
    device = orders.place(dan.client, now=timezone.now()).order.device
    login_fully(web, dan)
    chosen = _choose(web, device.serial)
    codes = _codes_for(chosen.content.decode(), device)
    wrong = {name: "222" if code != "222" else "333" for name, code in codes.items()}
    response = _code_post(web, wrong)
    assert response.status_code == 400
    assert "call Customer Service" in response.content.decode()
    device.refresh_from_db()
    assert device.status == DeviceStatus.ISSUED
    binding = DeviceBinding.objects.get(user=dan, security_device=device)
    assert binding.throttling_failure_count == 1
    assert AuditEvent.objects.filter(action="device.activation.failed", outcome="refused", rule="R1").count() == 1
    # At once again: the device's throttle answers, with the time to wait.
    response = _code_post(web, _codes_for(response.content.decode(), device))
    assert "wait until" in response.content.decode()
    device.refresh_from_db()
    assert device.status == DeviceStatus.ISSUED


def test_R1_code_step_without_a_chosen_device_is_a_clear_400(web, dan):
    login_fully(web, dan)
    web.get(ACTIVATE)
    response = _code_post(web, {"code_1": "AAA", "code_2": "BBB"})
    assert response.status_code == 400
    assert "Choose your device again" in response.content.decode()


def test_R1_needs_login(web, dan):
    assert web.get(ACTIVATE).status_code == 302
    assert User.objects.get(pk=dan.pk).check_password(PASSWORD)


def test_D5_R1_platinum_activates_only_with_its_passphrase(web, client_factory, clock):
    from devices import algorithms

    person = client_factory("Pat", "Rich", "CH", equity="2500000.00", username="pat")
    pat = person.users.get()
    placed = orders.place(person, now=timezone.now())
    device = placed.order.device
    login_fully(web, pat)
    chosen = _choose(web, device.serial)
    assert 'name="passphrase"' in chosen.content.decode()

    def answer(passphrase):
        question = web.session["sls_activation"]["challenge"]["question"]
        binding = DeviceBinding.objects.get(user=pat, security_device=device)
        code = algorithms.ocra_response(binding.ocra_suite, device.seed, question, device.pin_digest)
        return _code_post(web, {"code": code, "passphrase": passphrase})

    wrong = answer("AAAAA-BBBBB-CCCCC-DDDDD")
    assert wrong.status_code == 400 and "passphrase" in wrong.content.decode()
    device.refresh_from_db()
    assert device.status == DeviceStatus.ISSUED
    clock.shift(timedelta(minutes=1))  # past the device's throttle delay
    right = answer(placed.passphrase.lower())
    assert right.status_code == 200, right.content[:400]
    device.refresh_from_db()
    assert device.status == DeviceStatus.ACTIVE


# --- L3: activation codes count like login codes ----------------------------------------


def _wrong_codes(page: str, device: SecurityDevice) -> dict:
    return {name: "222" if code != "222" else "333" for name, code in _codes_for(page, device).items()}


def test_L3_R1_ten_wrong_activation_codes_lock_the_username(web, dan, clock):
    from login.models import LoginAttempt, LoginGuard

    device = orders.place(dan.client, now=timezone.now()).order.device
    login_fully(web, dan)
    clock.shift(timedelta(seconds=1))  # after the login, which reset the count
    page = _choose(web, device.serial).content.decode()
    for attempt in range(1, 10):
        response = _code_post(web, _wrong_codes(page, device))
        assert response.status_code == 400, attempt
        assert "locked" not in response.content.decode()
        page = response.content.decode()
    tenth = _code_post(web, _wrong_codes(page, device))
    assert tenth.status_code == 403
    html = tenth.content.decode()
    assert "This username is locked after 10 failed login attempts." in html
    assert "24 hours after the last failed attempt" in html and "(203) 618-4006" in html
    assert 'name="code_1"' not in html  # no code form while locked
    guard = LoginGuard.objects.get(username="dan")
    assert guard.is_locked(timezone.now())
    assert LoginAttempt.objects.filter(guard=guard, step="code", outcome="failed").count() == 10
    assert AuditEvent.objects.filter(action="device.activation.failed", rule="R1").count() == 10

    # Locked: even the right code is refused, unchecked, and the lock moves on (L3).
    clock.shift(timedelta(minutes=10))  # past the device's own throttle delay
    page = _choose(web, device.serial).content.decode()
    refused = _code_post(web, _codes_for(page, device))
    assert refused.status_code == 403 and "This username is locked" in refused.content.decode()
    device.refresh_from_db()
    assert device.status == DeviceStatus.ISSUED
    assert AuditEvent.objects.filter(action="device.activation.failed", outcome="locked", rule="L3").count() == 1
    guard.refresh_from_db()
    assert guard.locked_until == timezone.now() + timedelta(hours=24)
    # And the login itself is locked for the username.
    from tests.conftest import attempt

    login = attempt(HttpClient(enforce_csrf_checks=True), "dan", PASSWORD)
    assert b"This username is locked after 10 failed login attempts." in login.content


def test_L3_R1_activation_failures_add_to_the_login_failures(web, dan, clock):
    """Seven wrong passwords and three wrong activation codes are the ten of L3."""
    from login.models import LoginGuard
    from tests.conftest import fail

    device = orders.place(dan.client, now=timezone.now()).order.device
    login_fully(web, dan)
    clock.shift(timedelta(seconds=1))  # after the login, which reset the count
    fail(HttpClient(enforce_csrf_checks=True), "dan", 7)
    page = _choose(web, device.serial).content.decode()
    for _ in range(2):
        page = _code_post(web, _wrong_codes(page, device)).content.decode()
    third = _code_post(web, _wrong_codes(page, device))
    assert third.status_code == 403 and b"This username is locked" in third.content
    assert LoginGuard.objects.get(username="dan").is_locked(timezone.now())


def test_L3_R1_a_successful_activation_resets_the_count(web, dan, clock):
    from login.models import LoginGuard

    device = orders.place(dan.client, now=timezone.now()).order.device
    login_fully(web, dan)
    clock.shift(timedelta(seconds=1))  # after the login, which reset the count
    page = _choose(web, device.serial).content.decode()
    for _ in range(3):
        page = _code_post(web, _wrong_codes(page, device)).content.decode()
    clock.shift(timedelta(minutes=5))  # past the device's throttle delay
    page = _choose(web, device.serial).content.decode()
    assert _code_post(web, _codes_for(page, device)).status_code == 200
    guard = LoginGuard.objects.get(username="dan")
    assert guard.reset_at == timezone.now() and not guard.is_locked(timezone.now())
