"""The retention job (login/retention.py): what logins leave behind is deleted
once no rule reads it, in bounded batches, idempotently, on several workers.

J2 and ARCHITECTURE.md principle 5 (set-based, safe twice and on several
workers); L3 and SECURITY.md 7: pruning never changes a count.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from help.refusals import LoginRefusal
from login import lockout, retention
from login.models import LoginAttempt, LoginGuard, PendingLogin
from login.tasks import prune_login_records
from tests.conftest import NOW, check_password_step

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def rule(name: str):
    from django.conf import settings

    return settings.SLS[name]


def make_attempts(count: int, at, username: str = "someone") -> None:
    guard, _ = LoginGuard.objects.get_or_create(username=username)
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(guard=guard, at=at, step="password", outcome="failed", ip="198.51.100.7") for _ in range(count)]
    )


def make_pending(count: int, user, expires_at) -> None:
    PendingLogin.objects.bulk_create(
        [
            PendingLogin(user=user, created_at=expires_at - timedelta(minutes=5), expires_at=expires_at)
            for _ in range(count)
        ]
    )


def make_sessions(count: int, expire_date, prefix: str = "s") -> None:
    Session.objects.bulk_create(
        [
            Session(session_key=f"{prefix}{index:031d}"[:40], session_data="", expire_date=expire_date)
            for index in range(count)
        ]
    )


def prune(**kwargs) -> dict[str, int]:
    return retention.prune(timezone.now(), **kwargs)


# --- each period, just inside and just outside ------------------------------------


def test_J2_attempts_older_than_their_retention_are_deleted_the_others_kept(clock):
    period = rule("LOGIN_ATTEMPT_RETENTION")
    make_attempts(2, NOW - period - SECOND, username="old")
    make_attempts(3, NOW - period, username="kept")  # exactly the period: kept
    assert prune()["login_attempts"] == 2
    assert set(LoginAttempt.objects.values_list("guard__username", flat=True)) == {"kept"}


def test_J2_pending_logins_are_deleted_their_retention_after_they_expired(alice, clock):
    period = rule("PENDING_LOGIN_RETENTION")
    make_pending(2, alice, NOW - period - SECOND)
    make_pending(1, alice, NOW - period)
    make_pending(1, alice, NOW + timedelta(minutes=4))  # live
    assert prune()["pending_logins"] == 2
    assert sorted(PendingLogin.objects.values_list("expires_at", flat=True)) == [
        NOW - period,
        NOW + timedelta(minutes=4),
    ]


def test_J2_expired_sessions_are_deleted_live_ones_kept(clock):
    make_sessions(2, NOW - SECOND, prefix="gone")
    make_sessions(1, NOW, prefix="ends")  # the store loads only expire_date > now: this one is dead too
    make_sessions(3, NOW + SECOND, prefix="live")
    assert prune()["sessions"] == 3
    assert Session.objects.count() == 3
    assert not Session.objects.exclude(session_key__startswith="live").exists()


def test_J2_audit_events_are_never_pruned(clock):
    AuditEvent.objects.create(at=NOW - timedelta(days=3650), action="login.failed", username="ancient")
    prune()
    assert AuditEvent.objects.filter(username="ancient").exists()


# --- never prune what a rule still counts -----------------------------------------


def test_L3_pruning_leaves_the_count_of_the_window_unchanged(alice, clock, settings):
    """L3: with the shortest retention allowed, the failures of the last 24
    hours survive pruning: 9 of them, and the 10th locks."""
    settings.SLS = {**settings.SLS, "LOGIN_ATTEMPT_RETENTION": rule("LOCKOUT_WINDOW") + SECOND}
    for _ in range(9):
        with pytest.raises(LoginRefusal):
            check_password_step("alice", "wrong password!", ip="198.51.100.1", channel="web", now=timezone.now())
    clock.shift(rule("LOCKOUT_WINDOW") - SECOND)  # the 9 are still in the window
    make_attempts(4, timezone.now() - rule("LOCKOUT_WINDOW") - 2 * SECOND, username="alice")  # outside it
    assert prune()["login_attempts"] == 4
    assert lockout.locked_until("alice", timezone.now()) is None
    with pytest.raises(LoginRefusal):
        check_password_step("alice", "wrong password!", ip="198.51.100.1", channel="web", now=timezone.now())
    assert lockout.locked_until("alice", timezone.now()) is not None


@pytest.mark.parametrize("window", ["LOCKOUT_WINDOW", "ADDRESS_FAILURES_WINDOW"])
def test_L3_SEC7_a_retention_not_longer_than_a_counting_window_is_refused(clock, settings, window):
    """A retention period that would delete attempts a count still reads
    is a configuration error: the job deletes nothing and says why."""
    longest = max(rule("LOCKOUT_WINDOW"), rule("ADDRESS_FAILURES_WINDOW"))
    settings.SLS = {**settings.SLS, window: longest, "LOGIN_ATTEMPT_RETENTION": longest}
    make_attempts(1, NOW - longest - SECOND)
    with pytest.raises(ImproperlyConfigured, match="LOGIN_ATTEMPT_RETENTION"):
        prune()
    assert LoginAttempt.objects.count() == 1


# --- idempotent, bounded, set-based ----------------------------------------------


def make_backlog(count: int, user, tag: str) -> None:
    make_attempts(count, NOW - rule("LOGIN_ATTEMPT_RETENTION") - SECOND, username=f"old-{tag}")
    make_pending(count, user, NOW - rule("PENDING_LOGIN_RETENTION") - SECOND)
    make_sessions(count, NOW - SECOND, prefix=f"{tag}-")


def test_J2_a_second_run_deletes_nothing(alice, clock):
    make_backlog(25, alice, "a")
    assert prune(batch_size=10) == {"pending_logins": 25, "sessions": 25, "login_attempts": 25}
    assert prune(batch_size=10) == {"pending_logins": 0, "sessions": 0, "login_attempts": 0}


def count_prune_queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        prune(**kwargs)
    return len(queries.captured_queries)


def test_J2_query_count_per_batch_is_the_same_for_a_small_and_a_large_backlog(alice, clock):
    """Protects the job's cost from growing with the backlog: each batch is
    one DELETE whose subquery claims its rows, never a statement per row;
    an empty kind costs one statement."""
    batch_size = 10
    make_attempts(50, NOW, username="recent")  # kept: cost nothing per row either
    empty = count_prune_queries(batch_size=batch_size)
    counts = {}
    for count in (10, 200):
        make_backlog(count, alice, f"b{count}")
        counts[count] = count_prune_queries(batch_size=batch_size) - empty
    per_batch = counts[10] / 3  # one full batch of each of the three kinds
    assert per_batch <= 1  # the DELETE and its claim are one statement
    assert empty <= 3  # one per kind
    assert counts[200] == 20 * counts[10]


def test_J2_old_attempts_are_found_through_the_index_on_at(alice, clock):
    """The attempts' batch finds the old rows from the start of the index
    on `at` (attempt_at) in its order: without it each batch reads every
    attempt kept (90 days of logins) to find the old ones; and it deletes
    them by probing their keys, not by a join that reads the whole table."""
    make_backlog(20, alice, "i")
    kind = retention._kinds()["login_attempts"]
    cutoff = connection.ops.adapt_datetimefield_value(NOW)
    with connection.cursor() as cursor:
        for resume, params in ((False, [cutoff]), (True, [cutoff, cutoff])):
            statement = kind.statement(1000, resume=resume and connection.vendor == "postgresql")
            if connection.vendor == "postgresql":
                for scan in ("seqscan", "bitmapscan", "sort"):
                    cursor.execute(f"SET LOCAL enable_{scan} = off")
                cursor.execute("EXPLAIN " + statement, params[: statement.count("%s")])
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + statement, params[: statement.count("%s")])
            plan = "\n".join(str(row) for row in cursor.fetchall())
            assert "attempt_at" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
            # The claimed keys are probed, not hash-joined against every row kept.
            assert "Hash" not in plan, plan


@pytest.mark.parametrize("backlog", [0, 1, 10, 11])
def test_J2_batches_cover_every_row(alice, clock, backlog):
    make_backlog(backlog, alice, "c")
    assert prune(batch_size=10) == {"pending_logins": backlog, "sessions": backlog, "login_attempts": backlog}
    assert not LoginAttempt.objects.exists()
    assert not PendingLogin.objects.exists()
    assert not Session.objects.exists()


# --- the task and its schedule ------------------------------------------------------


def test_J2_celery_task_runs_the_retention_job(alice, clock):
    make_backlog(3, alice, "t")
    assert prune_login_records.apply().get() == {"pending_logins": 3, "sessions": 3, "login_attempts": 3}


def test_J2_retention_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-login-records"]
    assert entry["task"] == prune_login_records.name
    assert entry["schedule"] <= timedelta(days=1)


# --- several workers at once (PostgreSQL) ---------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_J2_two_workers_prune_each_row_once(postgresql, client_factory):
    """ARCHITECTURE.md principle 5: two workers at once delete the backlog
    between them, each row once, and neither fails."""
    from tests.conftest import run_at_once

    client_factory("Bob", username="bob")
    user = User.objects.get(username="bob")
    now = timezone.now()
    count = 300
    make_attempts(count, now - rule("LOGIN_ATTEMPT_RETENTION") - SECOND)
    make_pending(count, user, now - rule("PENDING_LOGIN_RETENTION") - SECOND)
    make_sessions(count, now - SECOND)

    results = run_at_once(2, lambda index: retention.prune(now, batch_size=25))

    assert all(isinstance(result, dict) for result in results), results
    for kind in ("pending_logins", "sessions", "login_attempts"):
        assert sum(result[kind] for result in results) == count
    assert not LoginAttempt.objects.exists()
    assert not PendingLogin.objects.exists()
    assert not Session.objects.exists()
