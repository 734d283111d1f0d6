"""L3's statements: counts that stop at their limits, the partial index the
address count reads, and what waits for the disk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from help.refusals import LoginRefusal
from login import lockout
from login.models import LoginAttempt, LoginGuard
from tests.conftest import (
    check_password_step,
)


def test_L3_counts_stop_at_their_limits(alice, clock, settings):
    """Only "has it reached the limit?" matters: a long history is not walked."""
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 25}
    guard = LoginGuard.objects.create(username="alice")
    now = timezone.now()
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(guard=guard, at=now, step="password", outcome="failed", ip="203.0.113.9") for _ in range(30)]
    )
    state = lockout._locked_guard("alice", "203.0.113.9", now + timedelta(seconds=1))
    assert state.failures == settings.SLS["LOCKOUT_FAILURES"]
    assert state.from_address == 25
    assert lockout._failures(guard, now + timedelta(seconds=1), with_pending=False) == settings.SLS["LOCKOUT_FAILURES"]


def test_L3_address_index_holds_exactly_the_counted_outcomes():
    """The partial index the address count relies on covers what L3 counts, and
    the count's SQL filters on the index's own outcomes (else PostgreSQL cannot use it)."""
    index = next(index for index in LoginAttempt._meta.indexes if index.name == "attempt_ip_at_counted")
    [(lookup, outcomes)] = index.condition.children
    assert lookup == "outcome__in"
    assert set(outcomes) == set(LoginAttempt.COUNTED_OUTCOMES)
    predicate = "outcome IN (%s)" % ", ".join(f"'{outcome}'" for outcome in outcomes)
    assert predicate in lockout._ADDRESS_SQL


@pytest.mark.django_db(transaction=True)
def test_L3_reservation_commits_without_waiting_for_the_disk_and_refusals_wait(postgresql, alice, monkeypatch):
    """A PENDING reservation only has to be visible, which it is at COMMIT;
    a refusal locks the username, and that must survive a crash."""
    from django.db import connection

    from login import statements
    from login.models import LoginAttempt

    seen = []
    real_insert = statements.insert

    def insert_and_look(obj):
        if isinstance(obj, LoginAttempt) and obj.outcome in ("pending", "refused"):
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                seen.append((obj.outcome, cursor.fetchone()[0]))
        return real_insert(obj)

    monkeypatch.setattr(statements, "insert", insert_and_look)
    for _ in range(11):
        with pytest.raises(LoginRefusal):
            check_password_step("alice", "wrong", ip=None, channel="web", now=timezone.now())
    assert seen[:10] == [("pending", "off")] * 10
    assert seen[10] == ("refused", "on")
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # SET LOCAL ended with its transaction
