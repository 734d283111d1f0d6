"""The device kinds beyond the contract: PIN rules (D2), what is stored,
replays (SEC8), sharing (D7) and the delay shown after throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from devices import algorithms
from devices.flows import issue_device
from devices.models import DeviceBinding, DeviceStatus, SecurityDevice, active_binding_for
from devices.pins import validate_pin
from help.refusals import LoginRefusal
from login.models import PendingLogin
from tests.conftest import PASSWORD, check_code_step, check_password_step, csrf_post, run_at_once

IP = "198.51.100.78"


def _swap_card_for(user: User, device_type: str, pin: str | None = None) -> SecurityDevice:
    SecurityDevice.objects.filter(client=user.client).update(status=DeviceStatus.REVOKED)
    return issue_device(user.client, device_type, now=timezone.now(), pin=pin)


def _step_one(username="alice"):
    return check_password_step(username, PASSWORD, ip=IP, channel="web", now=timezone.now())


def _answer(step, token):
    return check_code_step(step.token, token, ip=IP, channel="web", now=timezone.now())


def _question(step) -> str:
    return PendingLogin.objects.get(pk=step.pending.pk).offers[0]["challenge"]["question"]


def _ocra(user, question):
    binding = active_binding_for(user)
    device = binding.security_device
    return algorithms.ocra_response(binding.ocra_suite, device.seed, question, device.pin_digest)


def _totp_now(user):
    binding = active_binding_for(user)
    return algorithms.totp(binding.security_device.seed, digits=6, period=binding.period).at(timezone.now())


# --- D2: PINs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "words"),
    [
        ("", "Enter a PIN"),
        ("12 34", "without spaces"),
        ("12a4", "digits only"),
        ("١٢٣٤", "digits only"),
        ("123", "4 to 8 digits; this one has 3"),
        ("123456789", "4 to 8 digits; this one has 9"),
        ("7777", "same digit"),
    ],
)
def test_D2_a_bad_pin_is_refused_saying_which_rule(pin, words):
    with pytest.raises(ValidationError) as refused:
        validate_pin(pin)
    assert words in refused.value.messages[0]


@pytest.mark.parametrize("pin", ["2580", "00000001", "918273"])
def test_D2_good_pins_pass(pin):
    assert validate_pin(pin) == pin


@pytest.mark.parametrize("device_type", ["dsc_plus", "gold", "platinum"])
def test_D2_a_pin_bound_device_is_not_made_with_a_bad_pin_and_nothing_is_written(alice, device_type):
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.REVOKED)
    before = SecurityDevice.objects.count(), DeviceBinding.objects.count()
    with pytest.raises(ValidationError):
        issue_device(alice.client, device_type, now=timezone.now(), pin="1111")
    assert (SecurityDevice.objects.count(), DeviceBinding.objects.count()) == before


def test_SEC10_dsc_plus_keeps_only_the_encrypted_seed_and_pin_digest(alice):
    device = _swap_card_for(alice, "dsc_plus", pin="2580")
    row = SecurityDevice.objects.filter(pk=device.pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    digest = algorithms.pin_digest("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", "2580")
    assert "2580" not in stored and digest.hex() not in stored
    assert device.pin_digest == digest and len(device.seed) == 32


# --- replays ---------------------------------------------------------------------


def test_SEC8_dsc_plus_the_response_to_an_answered_question_is_refused_later(alice, clock):
    _swap_card_for(alice, "dsc_plus", pin="2580")
    first = _step_one()
    old_response = _ocra(alice, _question(first))
    assert _answer(first, old_response).user == alice
    clock.shift(timedelta(seconds=5))
    second = _step_one()
    assert _question(second) != _question(first)
    with pytest.raises(LoginRefusal) as refused:
        _answer(second, old_response)
    assert refused.value.code == "login_failed"


def test_SEC8_dsc_plus_a_failed_attempt_changes_the_question(alice, clock):
    _swap_card_for(alice, "dsc_plus", pin="2580")
    step = _step_one()
    asked = _question(step)
    with pytest.raises(LoginRefusal):
        _answer(step, "00000000")
    assert _question(step) != asked
    clock.shift(timedelta(seconds=5))
    with pytest.raises(LoginRefusal):
        _answer(step, _ocra(alice, asked))


@pytest.mark.parametrize("device_type", ["mobile", "alpine"])
def test_SEC8_totp_a_used_code_is_refused(alice, clock, device_type):
    _swap_card_for(alice, device_type)
    code = _totp_now(alice)
    assert _answer(_step_one(), code).user == alice
    with pytest.raises(LoginRefusal) as refused:
        _answer(_step_one(), code)
    assert refused.value.code == "login_failed"


def test_SEC8_totp_the_next_code_works_after_a_used_one(alice, clock):
    _swap_card_for(alice, "mobile")
    _answer(_step_one(), _totp_now(alice))
    clock.shift(timedelta(seconds=30))
    assert _answer(_step_one(), _totp_now(alice)).user == alice


def test_SEC8_totp_codes_beyond_one_step_of_drift_are_refused(alice, clock):
    device = _swap_card_for(alice, "mobile")
    generator = algorithms.totp(device.seed, digits=6, period=30)
    late = generator.at(timezone.now() - timedelta(seconds=61))
    with pytest.raises(LoginRefusal):
        _answer(_step_one(), late)
    clock.shift(timedelta(seconds=5))
    assert _answer(_step_one(), generator.at(timezone.now() - timedelta(seconds=30))).user == alice


# --- D7: one device, several usernames ------------------------------------------------------


@pytest.fixture
def alice2(alice) -> User:
    return User.objects.create_user(username="alice2", password=PASSWORD, client=alice.client, email="a2@example.com")


def test_D7_one_device_serves_every_username_of_the_client(alice, alice2, clock):
    device = _swap_card_for(alice, "mobile")
    assert active_binding_for(alice).security_device == device == active_binding_for(alice2).security_device
    assert _answer(_step_one("alice2"), _totp_now(alice2)).user == alice2


def test_D7_a_code_used_for_one_username_is_refused_for_another(alice, alice2, clock):
    _swap_card_for(alice, "mobile")
    code = _totp_now(alice)
    assert _answer(_step_one("alice"), code).user == alice
    with pytest.raises(LoginRefusal) as refused:
        _answer(_step_one("alice2"), code)
    assert refused.value.code == "login_failed"


@pytest.mark.django_db(transaction=True)
def test_D7_SEC8_one_code_many_threads_two_usernames_one_success(alice, alice2, postgresql):
    """N threads, half as alice and half as alice2 (one client, one mobile
    authenticator), each with its own pending login, all with one TOTP code:
    exactly one logs in (the device's row lock and the recorded step)."""
    _swap_card_for(alice, "mobile")
    steps = [_step_one("alice" if index % 2 else "alice2") for index in range(8)]
    code = _totp_now(alice)

    def answer(index: int) -> str:
        try:
            _answer(steps[index], code)
        except LoginRefusal as refusal:
            return refusal.code
        return "logged in"

    results = run_at_once(8, answer)
    assert results.count("logged in") == 1, results
    assert set(results) <= {"logged in", "login_failed"}, results


# --- the delay of a throttled device, shown ----------------------------------------------


def test_L2_step_two_page_shows_when_the_device_can_be_tried_again(web, alice, clock):
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
    throttled = csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
    page = throttled.content.decode()
    assert "Your device can be tried again at" in page
    assert "09:00:0" in page  # NOW is 09:00:00 UTC; the delay is seconds
