"""J1/J2: the job that records the L3 locks whose 24 hours have passed.

The job only persists what the clock already decided (J2): logins read
`locked_until` and never wait for it. It must write one event per lifted
lock, be idempotent, and run in a bounded number of queries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from help.refusals import LoginRefusal
from login import jobs
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
    assert jobs.record_lifted_locks(timezone.now()) == 3
    events = lifted_events()
    assert sorted(events.values_list("username", flat=True)) == ["expired0", "expired1", "expired2"]
    assert {(event.rule, event.details["locked_until"]) for event in events} == {
        ("L3", (NOW - timedelta(hours=1)).isoformat())
    }


def test_J1_lock_ending_exactly_now_is_recorded(clock):
    make_locks(1, NOW)
    assert jobs.record_lifted_locks(timezone.now()) == 1


def test_J1_lock_ending_one_second_from_now_is_not_recorded(clock):
    make_locks(1, NOW + timedelta(seconds=1))
    assert jobs.record_lifted_locks(timezone.now()) == 0
    assert not lifted_events().exists()


def test_J1_unlocked_guards_are_ignored(clock):
    LoginGuard.objects.create(username="neverlocked")
    assert jobs.record_lifted_locks(timezone.now()) == 0


def test_J2_second_run_writes_nothing(clock):
    make_locks(4, NOW - timedelta(minutes=5))
    assert jobs.record_lifted_locks(timezone.now()) == 4
    clock.shift(timedelta(minutes=5))
    assert jobs.record_lifted_locks(timezone.now()) == 0
    assert lifted_events().count() == 4


def test_J2_a_later_lock_of_the_same_username_gets_its_own_event(clock):
    [guard] = make_locks(1, NOW - timedelta(hours=1))
    jobs.record_lifted_locks(timezone.now())
    LoginGuard.objects.filter(pk=guard.pk).update(locked_until=NOW + timedelta(hours=2))
    clock.shift(timedelta(hours=2))
    assert jobs.record_lifted_locks(timezone.now()) == 1
    assert lifted_events().filter(username=guard.username).count() == 2


def test_J1_lock_from_real_failures_is_recorded_with_its_client(alice, clock):
    for _ in range(10):
        with pytest.raises(LoginRefusal):
            check_password_step("alice", "wrong password!", ip="198.51.100.1", channel="web", now=timezone.now())
    assert jobs.record_lifted_locks(timezone.now()) == 0  # still locked
    clock.shift(timedelta(hours=24))
    assert jobs.record_lifted_locks(timezone.now()) == 1
    event = lifted_events().get()
    assert (event.username, event.client_id) == ("alice", alice.client_id)
    assert event.details == {"locked_until": (NOW + timedelta(hours=24)).isoformat()}


def test_J1_unknown_username_event_has_no_client(clock):
    make_locks(1, NOW - timedelta(hours=1), prefix="nobody")
    jobs.record_lifted_locks(timezone.now())
    assert lifted_events().get().client_id is None


def test_J1_batches_cover_every_row(clock):
    make_locks(50, NOW - timedelta(hours=1))
    assert jobs.record_lifted_locks(timezone.now(), batch_size=7) == 50
    assert lifted_events().count() == 50
    assert not LoginGuard.objects.exclude(lift_recorded_for=NOW - timedelta(hours=1)).exists()


def count_job_queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        jobs.record_lifted_locks(timezone.now(), **kwargs)
    return len(queries.captured_queries)


# A batch of 50 fits in one INSERT on every backend (SQLite splits a
# bulk_create at 999 parameters), so the counts below hold on both.
BATCH = 50


def per_batch() -> int:
    """Statements per batch: on PostgreSQL the whole batch (claim, mark,
    events) is one statement; elsewhere savepoint, claim (SELECT .. FOR
    UPDATE SKIP LOCKED), insert events, update, release."""
    return 1 if connection.vendor == "postgresql" else 5


def empty_run() -> int:
    """Statements of a batch that finds nothing due: the one statement on
    PostgreSQL; savepoint, the empty claim, release elsewhere."""
    return 1 if connection.vendor == "postgresql" else 3


def test_J1_query_count_does_not_grow_with_rows_in_a_batch(clock):
    """ARCHITECTURE.md principle 5: set-based, not a loop over rows."""
    make_locks(1, NOW - timedelta(hours=1), prefix="one")
    one = count_job_queries(batch_size=BATCH)
    make_locks(BATCH - 1, NOW - timedelta(hours=1), prefix="full")
    make_locks(1, NOW - timedelta(minutes=1), prefix="later")  # a full batch, then an empty claim
    full = count_job_queries(batch_size=BATCH)
    assert one == per_batch()
    assert full <= per_batch() + empty_run()


def test_J1_query_count_per_batch_is_the_same_for_10_and_200_due_locks(clock):
    """Protects the job's cost from growing with the data: a fixed number of
    statements per batch whatever the rows in it (one INSERT of the events,
    one UPDATE, the client found in the claim), plus at most one empty
    claim; never a statement per row, and the live and never-locked guards
    beside them cost nothing."""
    batch_size = 10
    make_locks(500, NOW + timedelta(hours=1), prefix="live")  # in the index, not due
    LoginGuard.objects.bulk_create([LoginGuard(username=f"never{index}") for index in range(500)])
    counts = {}
    for due in (10, 200):
        make_locks(due, NOW - timedelta(hours=1), prefix=f"due{due}-")
        counts[due] = count_job_queries(batch_size=batch_size)
        assert lifted_events().filter(username__startswith=f"due{due}-").count() == due
    for due, queries in counts.items():
        batches = due // batch_size
        assert queries <= per_batch() * batches + empty_run(), (due, queries)  # + the last, empty claim
    assert counts[200] - empty_run() == 20 * (counts[10] - empty_run())  # the same cost per batch


def test_J1_nothing_due_is_one_claim_whatever_the_number_of_guards(clock):
    """With nothing due a run is one claim (one statement on PostgreSQL,
    with its savepoint elsewhere): the never-locked and recorded guard rows
    are not even in the index it reads."""
    make_locks(300, NOW - timedelta(hours=2), prefix="recorded")
    jobs.record_lifted_locks(timezone.now())
    make_locks(300, NOW + timedelta(hours=1), prefix="live")
    LoginGuard.objects.bulk_create([LoginGuard(username=f"never{index}") for index in range(300)])
    assert count_job_queries() == empty_run()


def claim_plan() -> str:
    """The database's plan for the job's batch (PostgreSQL: the one
    statement; elsewhere its claim), with sequential scans discouraged on
    PostgreSQL: a table of a few rows would be scanned anyway, and the
    question is whether the index can serve the claim."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, params = jobs.batch_sql(timezone.now(), 1000)
            # A table of a few rows is scanned or sorted anyway; the
            # question is whether the index can serve the claim in order.
            for kind in ("seqscan", "bitmapscan", "sort"):
                cursor.execute(f"SET LOCAL enable_{kind} = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            sql, params = jobs.claim(timezone.now(), 1000).query.sql_with_params()
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def test_J1_the_claim_reads_the_partial_index_of_unrecorded_lifts_in_its_order(clock):
    """The claim's filter must imply the index's predicate, or the database
    cannot use the index and every run reads every guard row (one per
    username ever typed, every 5 minutes); and it must take the index's
    order, or each batch sorts every due row to find its first few."""
    make_locks(20, NOW - timedelta(hours=1))
    plan = claim_plan()
    assert "guard_lift_unrecorded" in plan
    # In the index's order: a sort would read every due row for each batch.
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_J1_the_batch_marks_its_rows_through_the_primary_key(clock, postgresql):
    """The mark and the client lookup of the one-statement batch probe
    their indexes for the claimed rows: a hash join would read every guard
    (or user) row in each batch."""
    make_locks(20, NOW - timedelta(hours=1))
    plan = claim_plan()
    assert "login_loginguard_pkey" in plan, plan
    assert "Seq Scan" not in plan and "Hash" not in plan, plan


# --- the events' columns, as Python writes them -----------------------------------

LOCK_ENDS = [
    NOW - timedelta(hours=1),  # whole seconds: no fraction in isoformat()
    NOW - timedelta(hours=1, microseconds=1),
    NOW - timedelta(hours=2, microseconds=500000),  # .500000: six digits, not .5
    NOW - timedelta(hours=3) + timedelta(microseconds=999999),
    datetime(999, 1, 2, 3, 4, 5, 60, tzinfo=UTC),  # a year of three digits: 0999
]


def test_J2_the_key_spelled_in_sql_is_the_one_python_spells(postgresql):
    """The one-statement batch spells the lock end in SQL; it must be the
    exact text of Python's isoformat() of the aware UTC datetime, or a
    lock recorded by one path would be recorded again by the other."""
    with connection.cursor() as cursor:
        for when in LOCK_ENDS:
            cursor.execute(f"SELECT {jobs.isoformat_sql('t')} FROM (SELECT %s::timestamptz AS t) AS v", [when])
            assert cursor.fetchone()[0] == when.isoformat(), when


def event_columns() -> list[dict]:
    """Every column of the lifted events but their own id, in key order."""
    return list(
        lifted_events().order_by("dedupe_key").values(*(f.attname for f in AuditEvent._meta.concrete_fields[1:]))
    )


def test_J2_events_carry_the_key_and_details_python_writes(alice, clock):
    """Both paths: key `lockout.lifted:<guard>:<isoformat of the lock end>`,
    details {"locked_until": <the same>}, and the event's other columns."""
    guards = [
        LoginGuard.objects.create(username=f"u{index}", locked_until=when) for index, when in enumerate(LOCK_ENDS)
    ]
    LoginGuard.objects.filter(pk=guards[1].pk).update(username="alice")
    assert jobs.record_lifted_locks(timezone.now()) == len(LOCK_ENDS)
    expected = []
    for guard in LoginGuard.objects.filter(pk__in=[guard.pk for guard in guards]):
        until = guard.locked_until.isoformat()
        expected.append(
            {
                "at": NOW,
                "action": "lockout.lifted",
                "outcome": "ok",
                "actor_id": None,
                "client_id": alice.client_id if guard.username == "alice" else None,
                "username": guard.username,
                "ip": None,
                "verification_id": None,
                "rule": "L3",
                "details": {"locked_until": until},
                "dedupe_key": f"lockout.lifted:{guard.pk}:{until}",
            }
        )
    assert event_columns() == sorted(expected, key=lambda row: row["dedupe_key"])


def test_J2_the_one_statement_batch_writes_what_the_orm_batch_writes(alice, clock, postgresql):
    """PostgreSQL's one statement and the ORM's three write the same rows,
    so the demo database (SQLite) and production record the same events,
    and neither path records again what the other recorded."""
    guards = [
        LoginGuard.objects.create(username=f"u{index}", locked_until=when) for index, when in enumerate(LOCK_ENDS)
    ]
    LoginGuard.objects.filter(pk=guards[0].pk).update(username="alice")
    assert jobs._record_batch_orm(timezone.now(), 100) == len(LOCK_ENDS)
    by_orm = event_columns()
    LoginGuard.objects.update(lift_recorded_for=None)
    assert jobs._record_batch_sql(timezone.now(), 100) == len(LOCK_ENDS)
    assert lifted_events().count() == len(LOCK_ENDS)  # every key already written: nothing twice
    lifted_events().delete()
    LoginGuard.objects.update(lift_recorded_for=None)
    assert jobs._record_batch_sql(timezone.now(), 100) == len(LOCK_ENDS)
    assert event_columns() == by_orm
    with connection.cursor() as cursor:  # byte for byte, as stored
        cursor.execute(
            "SELECT dedupe_key, details::text FROM audit_auditevent WHERE action = %s ORDER BY dedupe_key",
            [jobs.LIFTED],
        )
        stored = cursor.fetchall()
    assert stored == [(row["dedupe_key"], json.dumps(row["details"])) for row in by_orm]


def test_J1_celery_task_runs_the_job(clock):
    make_locks(2, NOW - timedelta(hours=1))
    assert lift_expired_lockouts.apply().get() == 2
    assert lifted_events().count() == 2
    assert lift_expired_lockouts.delay().get() == 0  # eager in the test settings


def test_J1_task_is_on_the_beat_schedule(settings):
    assert settings.CELERY_BEAT_SCHEDULE["lift-expired-lockouts"]["task"] == lift_expired_lockouts.name
