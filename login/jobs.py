"""J1: the job that records the L3 locks whose 24 hours have passed.

Logins never wait for it (J2): `LoginGuard.is_locked(now)` compares
`locked_until` with the clock. The job only persists the transition, as
one `lockout.lifted` audit event per lock.

It costs what is due, not what is stored (ARCHITECTURE.md principle 5):

- The claim reads the partial index `guard_lift_unrecorded`, which holds
  only the locks whose lift is not recorded yet (live ones, and the due
  ones this job is looking for). A guard row that was never locked, or
  whose lift is recorded, is not in it: with nothing due, a run reads
  the index's first entry, whatever the number of usernames ever typed.
- Batches walk that index in `locked_until` order, and a recorded row
  leaves it in the batch's own transaction, so no batch re-reads what an
  earlier one recorded.
- Each batch claims its rows with SELECT .. FOR UPDATE SKIP LOCKED, so two
  workers take different rows; each event carries a unique key (guard,
  lock end), so a second run, or a worker that records a lock another one
  just recorded, writes nothing twice (J2).

On PostgreSQL a batch is ONE statement (`BATCH_SQL`): the claim, the mark
and the events' INSERT .. ON CONFLICT DO NOTHING are chained data-modifying
CTEs, so the rows never travel to Python and the batch is atomic on its
own. The events' key and details are built in SQL exactly as Python's
`datetime.isoformat()` writes them (tests/test_jobs.py compares the two).
SQLite (the demo database) has no FOR UPDATE and no data-modifying CTEs:
there a batch is a claim, one bulk INSERT and one UPDATE in a transaction,
and SQLite serialises writers. Both paths write the same rows.

Like every set-based writer of events, the job writes them to the
database only: it does not send each one to the `sls.audit` logger
(`audit.trail.log`), which `trail.record` does for events written one by one.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery

from accounts.models import User
from audit.models import AuditEvent
from login.models import LIFT_UNRECORDED, LoginGuard

LIFTED = "lockout.lifted"


def isoformat_sql(column: str) -> str:
    """SQL (PostgreSQL) spelling `column` (a timestamptz) as Python's
    `isoformat()` spells the aware UTC datetime Django reads from it:
    `2026-11-03T09:00:00+00:00`, with `.ffffff` only when the microseconds
    are not zero."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {utc}) = {utc} THEN '' ELSE to_char({utc}, '.US') END"
        " || '+00:00'"
    )


def _due(now: datetime):
    """The due locks, oldest first: the filter is the partial index's
    predicate (LIFT_UNRECORDED) itself, so the database can read the index."""
    return LoginGuard.objects.filter(LIFT_UNRECORDED, locked_until__lte=now).order_by("locked_until")


def batch_sql(now: datetime, batch_size: int) -> tuple[str, list]:
    """PostgreSQL: one batch as one statement, returning how many locks it
    claimed. The claim is the ORM's own SQL for `_due` (the index's exact
    predicate) with FOR UPDATE SKIP LOCKED; the lock end is marked recorded
    and the events inserted in the same statement."""
    claim, claim_params = _due(now).values("pk")[:batch_size].query.sql_with_params()
    user = User._meta.db_table
    until = isoformat_sql("marked.locked_until")
    statement = f"""
        WITH claimed AS ({claim} FOR UPDATE SKIP LOCKED),
        marked AS (
            UPDATE login_loginguard AS guard SET lift_recorded_for = guard.locked_until
            WHERE guard.id = ANY(ARRAY(SELECT pk FROM claimed))
            RETURNING guard.id, guard.username, guard.locked_until
        ),
        events AS (
            SELECT marked.id, marked.username, {until} AS until,
                   (SELECT account.client_id FROM {user} AS account WHERE account.username = marked.username) AS client_id
            FROM marked
        ),
        written AS (
            INSERT INTO audit_auditevent
                (at, action, outcome, actor_id, client_id, username, ip, verification_id, rule, details, dedupe_key)
            SELECT %s, %s, 'ok', NULL, client_id, username, NULL, NULL, 'L3',
                   jsonb_build_object('locked_until', until), %s || ':' || id || ':' || until
            FROM events
            ON CONFLICT (dedupe_key) DO NOTHING
        )
        SELECT count(*) FROM marked
    """  # noqa: S608 (table names from the models, the claim from the ORM, values as parameters)
    return statement, [*claim_params, now, LIFTED, LIFTED]


def _event(now: datetime, guard_id: int, username: str, until: datetime, client_id: int | None) -> AuditEvent:
    return AuditEvent(
        at=now,
        action=LIFTED,
        username=username,
        client_id=client_id,
        rule="L3",
        details={"locked_until": until.isoformat()},
        dedupe_key=f"{LIFTED}:{guard_id}:{until.isoformat()}",
    )


def claim(now: datetime, batch_size: int):
    """The next batch of due locks (guard, username, lock end, client),
    oldest first, each row locked until the transaction ends; rows another
    worker holds are skipped (the path for databases other than PostgreSQL)."""
    client_of = User.objects.filter(username=OuterRef("username")).values("client_id")[:1]
    return (
        _due(now)
        .select_for_update(skip_locked=True, of=("self",))
        .annotate(client_id=Subquery(client_of))
        .values_list("pk", "username", "locked_until", "client_id")[:batch_size]
    )


@contextmanager
def commits_without_waiting_for_the_disk():
    """A job's batches commit without waiting for the disk on PostgreSQL.

    Safe because the jobs are idempotent: a server crash can only lose the
    last batches, which the next run does again (their claim, events and
    mark are lost together). Logins' own transactions are not affected:
    the setting is the job's connection's, restored when the job ends."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _record_batch_sql(now: datetime, batch_size: int) -> int:
    statement, params = batch_sql(now, batch_size)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def _record_batch_orm(now: datetime, batch_size: int) -> int:
    with transaction.atomic():
        due = list(claim(now, batch_size))
        if due:
            AuditEvent.objects.bulk_create([_event(now, *row) for row in due], ignore_conflicts=True)
            LoginGuard.objects.filter(pk__in=[row[0] for row in due]).update(lift_recorded_for=F("locked_until"))
    return len(due)


def record_lifted_locks(now: datetime, batch_size: int | None = None) -> int:
    """J1: one `lockout.lifted` event for every lock that ended by `now`.

    Returns how many locks this call recorded. Each batch is its own
    transaction (one statement on PostgreSQL; claim, events, mark
    elsewhere), so a large backlog never holds one long transaction."""
    batch_size = batch_size or settings.SLS["JOB_BATCH_SIZE"]
    record_batch = _record_batch_sql if connection.vendor == "postgresql" else _record_batch_orm
    written = 0
    with commits_without_waiting_for_the_disk():
        while True:
            claimed = record_batch(now, batch_size)
            written += claimed
            if claimed < batch_size:
                return written
