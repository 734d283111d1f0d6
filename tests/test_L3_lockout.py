"""L3: ten failed attempts within any 24 hours lock the username; J2: the
lock lifts by the clock, whether or not the job ran.

Design as built (docs/architecture.md, "no password is checked while a
username is locked"): every attempt on a locked username gets the lock
message, whatever the password, and no hash is computed. RULES.md L3 asks
for the plain L2 text after a wrong password while locked; telling the two
apart would need a hash beyond the hard limit of principle 6.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import IdentityVerification
from audit.models import AuditEvent
from help.refusals import LoginRefusal
from login import lockout
from login.models import LoginAttempt, LoginGuard, PendingLogin
from tests.conftest import (
    NOT_VERIFIED,
    NOW,
    PASSWORD,
    VERIFIED,
    WRONG,
    admin_login,
    assert_logs_in,
    attempt,
    check_password_step,
    csrf_post,
    fail,
    lock,
    masked,
    totp_device,
    user_url,
)


def is_locked(username: str) -> bool:
    return lockout.locked_until(username, timezone.now()) is not None


LOCKED = b"This username is locked after 10 failed login attempts."


def assert_locked_page(response, unlocks_at) -> None:
    assert response.status_code == 403
    assert LOCKED in response.content
    text = re.sub(r"<[^>]+>", "", response.content.decode())
    assert f"It unlocks at {unlocks_at:%Y-%m-%d %H:%M} UTC" in text
    assert "Each further attempt while it is locked moves this time" in text
    # The regional Customer Service numbers (A7, H2).
    for number in (b"+41-41-726-9500", b"(203) 618-4006", b"+852-2156-7907", b"+61 (2) 8093-7300"):
        assert number in response.content


def test_L3_nine_failures_do_not_lock(web, alice, clock):
    fail(web, "alice", 9)
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_tenth_failure_locks(web, alice, clock):
    fail(web, "alice", 10)
    assert is_locked("alice")
    assert_locked_page(attempt(web, "alice", PASSWORD), NOW + timedelta(hours=24))


def test_L3_failures_at_step_two_count(web, alice, clock):
    """Wrong card codes count: 5 wrong passwords + 5 wrong code answers lock."""
    fail(web, "alice", 5)
    assert attempt(web, "alice", PASSWORD).url == "/login/code/"
    for _ in range(4):
        response = csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
        assert response.status_code == 401 and b"Login Failed" in response.content
    # The tenth failure says at once that the username is now locked, and
    # the pending login ends with it.
    response = csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
    assert response.status_code == 403 and LOCKED in response.content
    assert is_locked("alice")
    assert not PendingLogin.objects.filter(user=alice, finished_at=None).exists()
    assert web.get("/").status_code == 302


def test_L3_passing_step_one_does_not_reset_the_count(web, alice, clock):
    """Only a completed login resets: the right password alone does not."""
    fail(web, "alice", 9)
    attempt(web, "alice", PASSWORD)
    csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
    assert is_locked("alice")


def test_L3_platform_failures_count_with_web_failures(web, alice, clock):
    """Failures on AM and on the trading platform (channel "api") add up."""
    fail(web, "alice", 5)
    for _ in range(5):
        with pytest.raises(LoginRefusal) as refused:
            check_password_step("alice", WRONG, ip="198.51.100.9", channel="api", now=timezone.now())
        assert refused.value.code == "invalid_credentials"
    assert is_locked("alice")


def test_L3_still_locked_just_before_24h_after_last_failure(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    assert is_locked("alice")
    response = attempt(web, "alice", PASSWORD)
    assert response.status_code == 403 and LOCKED in response.content


def test_L3_unlocked_24h_after_last_failure(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=24))
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_lock_runs_from_the_last_failure_not_the_first(web, alice, clock):
    fail(web, "alice", 9)
    clock.shift(timedelta(hours=5))
    fail(web, "alice", 1)  # the 10th, five hours after the first nine
    assert lockout.locked_until("alice", timezone.now()) == NOW + timedelta(hours=29)
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    assert is_locked("alice")
    clock.shift(timedelta(seconds=1))
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_attempt_while_locked_extends_the_lock(web, alice, clock):
    """An attempt refused while locked is itself unsuccessful: the lock runs from it."""
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=10))
    response = attempt(web, "alice", PASSWORD)
    assert_locked_page(response, NOW + timedelta(hours=34))
    assert LoginAttempt.objects.filter(guard__username="alice", outcome=LoginAttempt.Outcome.REFUSED).count() == 1
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))  # 33:59:59 after the first lock
    assert is_locked("alice")
    clock.shift(timedelta(seconds=1))
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_successful_login_resets_the_count(web, alice, clock):
    fail(web, "alice", 9)
    assert_logs_in(web, alice)
    web.logout()
    clock.shift(timedelta(minutes=1))
    fail(web, "alice", 9)
    assert not is_locked("alice")
    fail(web, "alice", 1)
    assert is_locked("alice")


def test_L3_unenrolled_login_resets_the_count(web, bob, clock):
    fail(web, "bob", 9)
    assert attempt(web, "bob", PASSWORD).status_code == 302
    web.logout()
    clock.shift(timedelta(minutes=1))
    fail(web, "bob", 9)
    assert not is_locked("bob")


def test_L3_failure_just_inside_the_24h_window_still_counts(web, alice, clock):
    fail(web, "alice", 9)
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    fail(web, "alice", 1)
    assert is_locked("alice")


def test_L3_failures_older_than_24h_do_not_count(web, alice, clock):
    fail(web, "alice", 9)
    clock.shift(timedelta(hours=24))
    fail(web, "alice", 1)
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_window_slides_over_spread_failures(web, alice, clock):
    """Five at 0 h and four at 20 h; at 24 h the first five have left the
    window, so two more failures make six within 24 hours, not eleven."""
    fail(web, "alice", 5)
    clock.shift(timedelta(hours=20))
    fail(web, "alice", 4)
    clock.shift(timedelta(hours=4))  # the first five just left the window
    fail(web, "alice", 1)
    assert not is_locked("alice")
    fail(web, "alice", 1)  # 4 + 2 within 24 hours: still under 10
    assert not is_locked("alice")


def test_L3_unknown_username_locks_the_same_way(web, alice, clock):
    """ASVS 5.0 V6.3.8: locking reveals nothing about which usernames exist."""
    fail(web, "alice", 10)
    fail(web, "nobody", 10)
    assert is_locked("nobody")
    real = attempt(web, "alice", WRONG)
    unknown = attempt(web, "nobody", WRONG)
    assert real.status_code == unknown.status_code == 403
    assert masked(real, "alice") == masked(unknown, "nobody")


def test_L3_correct_password_while_locked_gets_lock_message_with_time_and_numbers(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=2))
    response = attempt(web, "alice", PASSWORD)
    assert_locked_page(response, NOW + timedelta(hours=26))
    assert b"/help/#invalid-credentials" in response.content
    assert not PendingLogin.objects.filter(user=alice).exists()


def test_L3_wrong_password_while_locked_gets_the_same_lock_message(web, alice, clock):
    """As built (principle 6), not as RULES.md L3 words it: no hash while locked,
    so a wrong password gets the same lock message as the right one."""
    fail(web, "alice", 10)
    right = attempt(web, "alice", PASSWORD)
    wrong = attempt(web, "alice", WRONG)
    assert masked(right, "alice") == masked(wrong, "alice")


def test_L3_lock_is_audited(web, alice, clock):
    fail(web, "alice", 10)
    attempt(web, "alice", PASSWORD)
    event = AuditEvent.objects.filter(username="alice", action="login.password").first()
    assert (event.outcome, event.rule) == ("locked", "L3")


def test_L3_agent_unlock_lifts_the_lock(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=1))
    assert lockout.unlock("alice", timezone.now()) is True
    assert not is_locked("alice")
    assert_logs_in(web, alice)


def test_L3_agent_unlock_resets_the_count(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(minutes=1))
    lockout.unlock("alice", timezone.now())
    clock.shift(timedelta(minutes=1))
    fail(web, "alice", 9)
    assert not is_locked("alice")


def test_L3_unlock_of_a_username_not_locked_says_so(alice, clock):
    assert lockout.unlock("alice", timezone.now()) is False
    assert lockout.unlock("neverseen", timezone.now()) is False
    assert not LoginGuard.objects.filter(username="neverseen").exists()


def test_L3_lock_is_per_username(web, alice, charlie, clock):
    fail(web, "alice", 10)
    assert is_locked("alice")
    assert not is_locked("charlie")
    assert_logs_in(web, charlie)


def test_L3_agent_unlock_requires_identity_verification(desk, alice):
    """L3 (s371), L5: without a verification the form names the rule and nothing changes."""
    lock("alice")
    response = csrf_post(desk, user_url(alice, "unlock"), NOT_VERIFIED)
    assert response.status_code == 400
    text = response.content.decode()
    assert "(L5)" in text
    # The error is tied to its field for assistive technology (attributes in any order).
    select = re.search(r'<select[^>]*name="method"[^>]*>', text).group(0)
    assert 'aria-invalid="true"' in select and 'aria-describedby="id_method_error"' in select
    assert 'id="id_method_error"' in text
    assert lockout.locked_until("alice") is not None
    assert not IdentityVerification.objects.exists()
    assert not AuditEvent.objects.filter(action="lockout.unlock").exists()


def test_L3_agent_unlock_with_verification_in_the_same_form(desk, alice, agent):
    """L3 (s371): verification and unlock in one step; the lock and the count are gone."""
    lock("alice")
    response = csrf_post(desk, user_url(alice, "unlock"), VERIFIED)
    assert response.status_code == 302 and response.url == f"/admin/accounts/user/{alice.pk}/change/"
    assert lockout.locked_until("alice") is None
    verification = IdentityVerification.objects.get()
    assert (verification.client, verification.agent, verification.reference) == (alice.client, agent, "CALL-4711")
    assert "is unlocked" in desk.get(response.url).content.decode()


def test_L3_user_list_shows_lock_status(desk, alice, bob):
    """L3: the username list says which usernames are locked, and until when."""
    lock("alice")
    page = desk.get("/admin/accounts/user/").content.decode()
    assert "locked until" in page and "not locked" in page


def test_L3_agent_login_counts_failures_and_locks(agent, clock):
    """L3 for agents too, SECURITY.md 20: ten failed admin logins lock the
    username; while locked even the right password and code are refused,
    and every decision is an audit event."""
    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    for _ in range(10):
        csrf_post(web, "/admin/login/", {"username": agent.username, "password": "wrong password here"})
    assert AuditEvent.objects.filter(action="admin.login", outcome="failed", username=agent.username).count() == 10
    locked = admin_login(web, agent, device)
    assert locked.status_code == 200
    assert b"locked after 10 failed login attempts" in locked.content
    assert web.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="admin.login", outcome="locked").count() == 1
