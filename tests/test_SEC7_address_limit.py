"""SECURITY.md 7 (ASVS 2.2.1): a per-address limit, so one address cannot lock
out many usernames quickly; the same on /admin/login/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.conf import settings as django_settings
from django.test import Client, override_settings
from django.test import Client as HttpClient
from django.utils import timezone

from audit.models import AuditEvent
from login.models import LoginAttempt, LoginGuard
from tests.conftest import (
    WRONG,
    csrf_post,
    log_in_step_one,
    login_fully,
)

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


@pytest.fixture
def address_limit(settings):
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 5}
    return 5


OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def test_SEC7_address_limit_allows_attempts_up_to_the_limit(web, alice, clock, address_limit):
    """ASVS 2.2.1: the attempt after limit - 1 failures is still checked."""
    for index in range(address_limit - 1):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    response = log_in_step_one(web, "victim", WRONG, **ATTACKER)
    assert response.status_code == 401


def test_SEC7_address_over_the_limit_is_refused_before_anything_is_stored(
    web, alice, clock, hash_counter, address_limit
):
    """ASVS 2.2.1: one address cannot go on guessing across usernames."""
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    hash_counter.clear()
    response = log_in_step_one(web, "victim", WRONG, **ATTACKER)
    assert response.status_code == 429
    assert b"Too many failed login attempts have come from your network address" in response.content
    assert hash_counter["verify"] == 0
    assert not LoginGuard.objects.filter(username="victim").exists()


def test_SEC7_one_address_cannot_lock_a_username(web, alice, clock, address_limit):
    """ASVS 2.2.1 with a limit under L3's 10: the victim keeps logging in from home."""
    for _ in range(10):
        log_in_step_one(web, "alice", WRONG, **ATTACKER)
    assert LoginAttempt.objects.filter(guard__username="alice").count() == address_limit
    owner = Client(enforce_csrf_checks=True, **OWNER)
    assert login_fully(owner, alice).url == "/"


def test_SEC7_one_address_locks_at_most_limit_over_ten_usernames(web, db, clock, settings):
    """ASVS 2.2.1: with a limit of 25, an address locks two usernames, not five."""
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 25}
    for index in range(5):
        for _ in range(10):
            log_in_step_one(web, f"victim{index}", WRONG, **ATTACKER)
    now = timezone.now()
    locked = sorted(guard.username for guard in LoginGuard.objects.all() if guard.is_locked(now))
    assert locked == ["victim0", "victim1"]


def test_SEC7_address_limit_still_holds_just_before_the_window_ends(web, db, clock, address_limit):
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    clock.shift(django_settings.SLS["ADDRESS_FAILURES_WINDOW"] - timedelta(seconds=1))
    assert log_in_step_one(web, "victim", WRONG, **ATTACKER).status_code == 429


def test_SEC7_address_limit_lifts_when_the_window_ends(web, db, clock, address_limit):
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    clock.shift(django_settings.SLS["ADDRESS_FAILURES_WINDOW"])
    assert log_in_step_one(web, "victim", WRONG, **ATTACKER).status_code == 401


def test_SEC7_address_limit_is_far_above_one_client(web, db, clock):
    """ASVS 2.2.1 with the default settings: one client behind an address can
    lock its own username and still be checked on another, and one address
    can lock at most a handful of usernames per window before it is refused."""
    outcomes = []
    for index in range(20):
        for _ in range(10):
            outcomes.append(log_in_step_one(web, f"victim{index}", WRONG, **ATTACKER).status_code)
        if outcomes[-1] == 429:
            break
    assert outcomes[:10] == [401] * 10  # one client's own lockout is not the address limit
    assert outcomes[10] == 401
    now = timezone.now()
    locked = [guard.username for guard in LoginGuard.objects.all() if guard.is_locked(now)]
    assert 2 <= len(locked) <= 10, locked
    assert outcomes[-1] == 429


def test_SEC7_admin_login_throttles_one_address(agent, bob, clock):
    """SECURITY.md 7: /admin/login/ has the same per-address limit as /login/:
    over it, nothing is checked or stored for another username, and the audit
    says rate_limited."""
    limit = 3
    web = HttpClient(enforce_csrf_checks=True)
    with override_settings(SLS={**settings.SLS, "ADDRESS_FAILURES_LIMIT": limit}):
        for index in range(limit):
            csrf_post(web, "/admin/login/", {"username": f"victim{index}", "password": "wrong password here"})
        refused = csrf_post(web, "/admin/login/", {"username": "bob", "password": "wrong password here"})
    assert refused.status_code == 200
    assert b"Too many failed login attempts have come from your network address" in refused.content
    assert AuditEvent.objects.filter(action="admin.login", outcome="rate_limited", username="bob").count() == 1
    from login.models import LoginGuard

    assert not LoginGuard.objects.filter(username="bob", attempts__isnull=False).exists()
