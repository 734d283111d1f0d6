"""A2-A7: the temporary passcode's windows, at login and on every request,
exact to the second and without any job (J2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import access
from audit.models import AuditEvent
from devices.factors import PLATFORM, WEB
from devices.models import DeviceStatus, SecurityDevice
from help.refusals import LoginRefusal
from login.models import LoginAttempt
from passcodes import windows
from passcodes.models import TemporaryPasscode, passcode_digest
from tests.conftest import (
    PASSWORD,
    check_code_step,
    check_password_step,
    csrf_post,
    give_passcode,
)

pytestmark = pytest.mark.django_db

IP = "198.51.100.9"
FULL_DAYS = timedelta(days=2)
TWELVE_DAYS = timedelta(days=12)
SECOND = timedelta(seconds=1)


@pytest.fixture
def passcode(alice, clock) -> str:
    """Alice called: her card is lost, an agent issued a passcode a second ago
    (the report ended the sessions opened until that instant)."""
    code = give_passcode(alice, device_status="lost")
    clock.shift(SECOND)
    return code


def _passcode_offer(step) -> int:
    return next(i for i, offer in enumerate(step.pending.offers) if "temporarypasscode" in offer["device"])


def _login(code: str, channel: str = WEB):
    step = check_password_step("alice", PASSWORD, ip=IP, channel=channel, now=timezone.now())
    return check_code_step(step.token, code, factor=_passcode_offer(step), ip=IP, channel=channel, now=timezone.now())


def _web_login(web, code: str):
    first = csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    assert first.url == "/login/code/"
    return csrf_post(web, "/login/code/", {"passcode": code, "factor": 0})


def _after_issue(clock, delta):
    """Move the clock to `delta` after the passcode was issued."""
    clock.move_to(TemporaryPasscode.objects.latest("issued_at").issued_at + delta)


def test_A2_phase_is_a_pure_function_exact_to_the_second(clock):
    issued = timezone.now()
    assert windows.passcode_phase(issued, issued + FULL_DAYS - SECOND) == windows.Phase.FULL
    assert windows.passcode_phase(issued, issued + FULL_DAYS) == windows.Phase.RESTRICTED
    assert windows.passcode_phase(issued, issued + TWELVE_DAYS - SECOND) == windows.Phase.RESTRICTED
    assert windows.passcode_phase(issued, issued + TWELVE_DAYS) == windows.Phase.EXPIRED
    assert windows.passcode_phase(issued, issued, ended_at=issued) == windows.Phase.ENDED


def test_A2_passcode_is_stored_only_as_a_keyed_hash(alice, passcode):
    stored = TemporaryPasscode.objects.get(user=alice)
    assert passcode not in stored.code_digest and stored.code_digest == passcode_digest(passcode)
    assert len(passcode) == 12 and passcode.isupper() and passcode.isalnum()
    assert not set(passcode) & set("01OI")


def test_A2_a_new_passcode_replaces_the_previous_one(alice, passcode, clock):
    second = give_passcode(alice)
    clock.shift(SECOND)
    assert TemporaryPasscode.objects.filter(user=alice, ended_at__isnull=True).count() == 1
    with pytest.raises(LoginRefusal):
        _login(passcode)
    clock.shift(2 * SECOND)  # past the device throttle of that failure
    assert _login(second).user == alice


def test_A2_issuing_reports_the_device_and_e_mails_the_client(
    alice, clock, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        give_passcode(alice, device_status="stolen")
    assert SecurityDevice.objects.get(client=alice.client).status == DeviceStatus.STOLEN
    mail = mailoutbox[-1]
    assert "alice" in mail.body and "+41-41-726-9500" in mail.body
    event = AuditEvent.objects.get(action="passcode.issued")
    assert event.rule == "A2" and event.verification_id is not None


def test_A2_full_access_for_two_days_but_no_money(web, alice, passcode, clock):
    response = _web_login(web, passcode)
    assert response.status_code == 302
    assert web.get("/").status_code == 200
    refused = web.get("/withdrawals/")
    assert refused.status_code == 403 and b"temporary passcode" in refused.content


def test_A3_a_session_narrows_at_day_two_without_logging_out(web, alice, passcode, clock):
    """A session opened at hour 47 is restricted at hour 48 (principle 2)."""
    _after_issue(clock, FULL_DAYS - timedelta(minutes=10))
    _web_login(web, passcode)
    _after_issue(clock, FULL_DAYS - SECOND)
    assert web.get("/").status_code == 200
    _after_issue(clock, FULL_DAYS)
    refused = web.get("/")
    assert refused.status_code == 403
    assert b"print and activate your online security card" in refused.content
    assert not re.search(rb"\bA3\b", refused.content), "the rule ID is for the audit, not the page"
    # Still logged in: the Secure Login System page serves the restricted window.
    assert web.get("/settings/security/sls/").status_code == 200


def test_A3_login_in_the_restricted_window_lands_on_the_card_pages(web, alice, passcode, clock):
    _after_issue(clock, FULL_DAYS)
    response = _web_login(web, passcode)
    assert response.status_code == 302 and response.url != "/"


def test_A3_the_platform_refuses_the_passcode_after_day_two(alice, passcode, clock):
    _after_issue(clock, FULL_DAYS - SECOND)
    assert _login(passcode, PLATFORM).factor.access_scope(timezone.now()) == access.FULL_NO_WITHDRAWALS
    clock.shift(SECOND)
    with pytest.raises(LoginRefusal) as refused:
        _login(passcode, PLATFORM)
    assert (refused.value.code, refused.value.rule) == ("passcode_platform_window_over", "A3")
    assert not LoginAttempt.objects.filter(outcome="failed").exists(), "a window refusal never counts toward L3"


def test_A7_after_day_twelve_login_is_refused_with_what_to_do(alice, passcode, clock):
    _after_issue(clock, TWELVE_DAYS - SECOND)
    assert _login(passcode).factor.access_scope(timezone.now()) == access.RESTRICTED_CARD_ONLY
    clock.shift(SECOND)
    with pytest.raises(LoginRefusal) as refused:
        _login(passcode)
    assert (refused.value.code, refused.value.rule) == ("passcode_expired", "A7")
    assert "call" in str(refused.value.message).lower()
    assert not LoginAttempt.objects.filter(outcome="failed").exists()


def test_A7_a_wrong_code_is_plain_login_failed_whatever_the_window(alice, passcode, clock):
    _after_issue(clock, TWELVE_DAYS)
    with pytest.raises(LoginRefusal) as refused:
        _login("ZZZZZZZZZZZZ")
    assert (refused.value.code, refused.value.rule) == ("login_failed", "L2")


def test_A7_a_session_ends_at_day_twelve_and_says_why(web, alice, passcode, clock):
    _after_issue(clock, TWELVE_DAYS - timedelta(minutes=10))
    _web_login(web, passcode)
    _after_issue(clock, TWELVE_DAYS)
    response = web.get("/settings/security/sls/", follow=True)
    assert b"temporary passcode has expired" in response.content


def test_L4_lower_case_passcode_gets_the_hint_and_counts(alice, passcode, clock):
    with pytest.raises(LoginRefusal) as refused:
        _login(passcode.lower())
    assert refused.value.rule == "L4" and "upper case" in refused.value.hint
    assert LoginAttempt.objects.filter(guard__username="alice", outcome="failed").count() == 1


def test_A6_reactivating_the_device_ends_the_passcode(alice, passcode, clock):
    from devices import activation

    device = SecurityDevice.objects.get(client=alice.client)
    binding = activation.begin(alice, device.serial)
    from devices import codecard
    from tests.conftest import card_codes_for  # noqa: F401

    challenge = binding.generate_challenge()
    code = codecard.expected_response(device.seed, challenge["positions"])
    activation.finish(alice, binding.persistent_id, challenge, code, now=timezone.now())
    assert SecurityDevice.objects.get(pk=device.pk).status == DeviceStatus.ACTIVE
    stored = TemporaryPasscode.objects.get(user=alice)
    assert stored.ended_at is not None and stored.access_scope(timezone.now()) is None
    step = check_password_step("alice", PASSWORD, ip=IP, channel=WEB, now=timezone.now())
    assert [offer["device"] for offer in step.pending.offers] == [binding.persistent_id]


def test_A2_allowance_says_what_and_until_when(alice, passcode, clock):
    stored = TemporaryPasscode.objects.get(user=alice)
    now = timezone.now()
    allowance = stored.allowance(now)
    assert (allowance.scope, allowance.until) == (access.FULL_NO_WITHDRAWALS, stored.issued_at + FULL_DAYS)
    assert (allowance.then_scope, allowance.then_until) == (access.RESTRICTED_CARD_ONLY, stored.issued_at + TWELVE_DAYS)
    _after_issue(clock, FULL_DAYS)
    later = stored.allowance(timezone.now())
    assert (later.scope, later.until, later.then_scope) == (
        access.RESTRICTED_CARD_ONLY,
        stored.issued_at + TWELVE_DAYS,
        None,
    )
    _after_issue(clock, TWELVE_DAYS)
    assert stored.allowance(timezone.now()) is None


def test_D5_a_reported_device_never_leaves_the_password_alone(web, alice, clock):
    """A client whose device was reported lost, with no passcode yet, is not
    'unenrolled': the right password is refused with what to do, uncounted."""
    from devices.flows import report_device

    device = SecurityDevice.objects.get(client=alice.client)
    report_device(device, DeviceStatus.LOST, agent=alice, now=timezone.now())
    clock.shift(SECOND)
    with pytest.raises(LoginRefusal) as refused:
        check_password_step("alice", PASSWORD, ip=IP, channel=WEB, now=timezone.now())
    assert (refused.value.code, refused.value.rule) == ("device_needed", "D5")
    assert "temporary passcode" in str(refused.value.message)
    assert not LoginAttempt.objects.filter(outcome="failed").exists()
    page = csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    assert page.status_code == 403 and b"Customer Service" in page.content


def test_D8_a_first_device_on_its_way_leaves_the_password_alone(client_factory, clock):
    from accounts.models import User
    from devices import orders

    person = client_factory("Ugo", "Nuovo", "IT", username="ugo", equity="500.00")
    orders.place(person, now=timezone.now())
    opened = check_password_step("ugo", PASSWORD, ip=IP, channel=WEB, now=timezone.now())
    assert opened.user == User.objects.get(username="ugo") and opened.factor is None


def test_R2_reactivation_and_a_new_device_only_while_a_window_lasts(web, alice, passcode, clock):
    """R2: in the passcode's 2 days of full access the client reaches the
    activation and replacement pages; in the restricted days they are refused
    in words (print the online card first); after day 12 only a call helps."""
    _after_issue(clock, FULL_DAYS - timedelta(minutes=10))
    _web_login(web, passcode)
    assert web.get("/settings/security/sls/activate/").status_code == 200
    assert web.get("/settings/security/sls/replacement/").status_code == 200
    _after_issue(clock, FULL_DAYS)
    for path in ("/settings/security/sls/activate/", "/settings/security/sls/replacement/"):
        refused = web.get(path)
        assert refused.status_code == 403 and b"online security card" in refused.content
    _after_issue(clock, TWELVE_DAYS)
    with pytest.raises(LoginRefusal) as expired:
        _login(passcode)
    assert expired.value.rule == "A7" and "call" in str(expired.value.message).lower()
