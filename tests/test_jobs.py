"""J1/J2: the job that records the L3 locks whose 24 hours have passed.

The job only persists what the clock already decided (J2): logins read
`locked_until` and never wait for it. It must write one event per lifted
lock, be idempotent, and run in a bounded number of queries.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from help.refusals import LoginRefusal
from login import lockout
from login.models import LoginGuard
from login.tasks import lift_expired_lockouts
from tests.conftest import NOW, check_password_step

pytestmark = pytest.mark.django_db


def make_locks(count: int, until, prefix: str = "user") -> list[LoginGuard]:
    return LoginGuard.objects.bulk_create(
        [LoginGuard(username=f"{prefix}{index}", locked_until=until) for index in range(count)]
    )


def lifted_events():
    return AuditEvent.objects.filter(action="lockout.lifted")


def test_J1_one_event_per_expired_lock_none_for_live_locks(clock):
    make_locks(3, NOW - timedelta(hours=1), prefix="expired")
    make_locks(2, NOW + timedelta(hours=1), prefix="live")
    assert lockout.record_lifted_locks(timezone.now()) == 3
    events = lifted_events()
    assert sorted(events.values_list("username", flat=True)) == ["expired0", "expired1", "expired2"]
    assert {(event.rule, event.details["locked_until"]) for event in events} == {
        ("L3", (NOW - timedelta(hours=1)).isoformat())
    }


def test_J1_lock_ending_exactly_now_is_recorded(clock):
    make_locks(1, NOW)
    assert lockout.record_lifted_locks(timezone.now()) == 1


def test_J1_lock_ending_one_second_from_now_is_not_recorded(clock):
    make_locks(1, NOW + timedelta(seconds=1))
    assert lockout.record_lifted_locks(timezone.now()) == 0
    assert not lifted_events().exists()


def test_J1_unlocked_guards_are_ignored(clock):
    LoginGuard.objects.create(username="neverlocked")
    assert lockout.record_lifted_locks(timezone.now()) == 0


def test_J2_second_run_writes_nothing(clock):
    make_locks(4, NOW - timedelta(minutes=5))
    assert lockout.record_lifted_locks(timezone.now()) == 4
    clock.shift(timedelta(minutes=5))
    assert lockout.record_lifted_locks(timezone.now()) == 0
    assert lifted_events().count() == 4


def test_J2_a_later_lock_of_the_same_username_gets_its_own_event(clock):
    [guard] = make_locks(1, NOW - timedelta(hours=1))
    lockout.record_lifted_locks(timezone.now())
    LoginGuard.objects.filter(pk=guard.pk).update(locked_until=NOW + timedelta(hours=2))
    clock.shift(timedelta(hours=2))
    assert lockout.record_lifted_locks(timezone.now()) == 1
    assert lifted_events().filter(username=guard.username).count() == 2


def test_J1_lock_from_real_failures_is_recorded_with_its_client(alice, clock):
    for _ in range(10):
        with pytest.raises(LoginRefusal):
            check_password_step("alice", "wrong password!", ip="198.51.100.1", channel="web", now=timezone.now())
    assert lockout.record_lifted_locks(timezone.now()) == 0  # still locked
    clock.shift(timedelta(hours=24))
    assert lockout.record_lifted_locks(timezone.now()) == 1
    event = lifted_events().get()
    assert (event.username, event.client_id) == ("alice", alice.client_id)
    assert event.details == {"locked_until": (NOW + timedelta(hours=24)).isoformat()}


def test_J1_unknown_username_event_has_no_client(clock):
    make_locks(1, NOW - timedelta(hours=1), prefix="nobody")
    lockout.record_lifted_locks(timezone.now())
    assert lifted_events().get().client_id is None


def test_J1_batches_cover_every_row(clock):
    make_locks(50, NOW - timedelta(hours=1))
    assert lockout.record_lifted_locks(timezone.now(), batch_size=7) == 50
    assert lifted_events().count() == 50
    assert not LoginGuard.objects.exclude(lift_recorded_for=NOW - timedelta(hours=1)).exists()


def count_job_queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        lockout.record_lifted_locks(timezone.now(), **kwargs)
    return len(queries.captured_queries)


# A batch of 50 fits in one INSERT on every backend (SQLite splits a
# bulk_create at 999 parameters), so the counts below hold on both.
BATCH = 50
QUERIES_PER_BATCH = 5  # savepoint, claim (SELECT .. FOR UPDATE SKIP LOCKED), insert events, update, release


def test_J1_query_count_does_not_grow_with_rows_in_a_batch(clock):
    """ARCHITECTURE.md principle 5: set-based, not a loop over rows."""
    make_locks(1, NOW - timedelta(hours=1), prefix="one")
    one = count_job_queries(batch_size=BATCH)
    make_locks(BATCH, NOW - timedelta(hours=1), prefix="full")
    full = count_job_queries(batch_size=BATCH)
    assert one == full <= QUERIES_PER_BATCH + 3


def test_J1_many_rows_cost_a_fixed_number_of_queries_per_batch(clock, django_assert_max_num_queries):
    make_locks(600, NOW - timedelta(hours=1))
    batches = 600 // BATCH
    with django_assert_max_num_queries(batches * QUERIES_PER_BATCH + 3):  # + the last, empty claim
        assert lockout.record_lifted_locks(timezone.now(), batch_size=BATCH) == 600


def test_J1_nothing_due_costs_one_claim(clock, django_assert_max_num_queries):
    make_locks(600, NOW + timedelta(hours=1))
    with django_assert_max_num_queries(3):
        assert lockout.record_lifted_locks(timezone.now()) == 0


def test_J1_celery_task_runs_the_job(clock):
    make_locks(2, NOW - timedelta(hours=1))
    assert lift_expired_lockouts.apply().get() == 2
    assert lifted_events().count() == 2
    assert lift_expired_lockouts.delay().get() == 0  # eager in the test settings


def test_J1_task_is_on_the_beat_schedule(settings):
    assert settings.CELERY_BEAT_SCHEDULE["lift-expired-lockouts"]["task"] == lift_expired_lockouts.name
