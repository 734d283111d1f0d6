"""L3: ten failed attempts within any 24 hours lock a username.

An attempt *reserves its place before any password is hashed*, under a
row lock on the username's LoginGuard (ARCHITECTURE.md principle 6): the
reservation is a PENDING attempt row that counts toward the limit until it
resolves. So when 50 wrong passwords arrive at once, 10 reserve a place and
are checked; the other 40 find the limit reached and are refused without a
hash. Every attempt is a row, so none is lost to a concurrent update.

The lock lasts until 24 hours after the last unsuccessful attempt, and an
attempt refused while locked is itself unsuccessful (it extends the lock).
A completed login or an agent's unlock resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import rows

from . import statements
from .models import LoginAttempt, LoginGuard

Outcome = LoginAttempt.Outcome


def _rule(name: str):
    return settings.SLS[name]


@dataclass(frozen=True)
class Reservation:
    """The answer to "may this attempt be checked?"."""

    guard_id: int | None  # None: refused for its address before any row existed
    attempt_id: int | None  # the PENDING row; None when refused or held
    locked_until: datetime | None = None
    refused: bool = False
    throttled: bool = False  # refused for its address; nothing stored
    # held=True: the caller's transaction keeps the guard locked until the
    # attempt resolves, so its row is written once, with its outcome.
    guard: LoginGuard | None = None
    attempt: LoginAttempt | None = None
    # Held, with no failure, live reservation or lock since the last reset:
    # a success then has nothing to reset (and the row stays locked meanwhile).
    clean: bool = False


# The two counts an attempt makes, as fixed SQL. Each stops at its limit
# (only "has it reached the limit?" matters), and each reads only what it
# counts, through a partial index of its own (login/models.py): a
# username's failures, refusals and reservations (attempt_guard_at_counted),
# an address's failures and refusals (attempt_ip_at_counted). So neither
# costs more with a longer history of successful logins.
_ATTEMPTS = LoginAttempt._meta.db_table
_GUARDS = LoginGuard._meta.db_table
_COUNTED = "(%s)" % ", ".join(f"'{outcome}'" for outcome in LoginAttempt.COUNTED_OUTCOMES)
_INDEXED = "(%s)" % ", ".join(f"'{outcome}'" for outcome in (*LoginAttempt.COUNTED_OUTCOMES, Outcome.PENDING))


def _failures_sql(guard: str, since: str) -> str:
    """What L3 counts for one guard (SQL) since a moment (SQL): its failures
    and refusals and, if a flag says so, its reservations still pending
    after a second moment; up to a limit. After the parameters of `guard`
    and `since` come the flag, that second moment and the limit. The first
    condition is the partial index's own predicate, so the planner uses it."""
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {_ATTEMPTS} a WHERE a.guard_id = {guard} AND a.at > {since}"
        f" AND a.outcome IN {_INDEXED} AND (a.outcome <> '{Outcome.PENDING}' OR (%s AND a.at > %s)) LIMIT %s) counted"
    )


_FAILURES_SQL = _failures_sql("%s", "%s")
_ADDRESS_SQL = (
    f"SELECT COUNT(*) FROM (SELECT 1 FROM {_ATTEMPTS} WHERE ip = %s AND at > %s AND outcome IN {_COUNTED}"
    " LIMIT %s) counted"
)
# L3's per-username row lock. An upsert, not a SELECT .. FOR UPDATE: a
# username's first attempts race to create its row, and a SELECT that ran
# before the row was committed would lock nothing. The upsert leaves the
# row locked (made, or waited for and touched) in every case but one: an
# address over its limit on a username never seen stores nothing. On
# SQLite the transaction holds the database's write lock already.
_LOCK_SQL = (
    f"INSERT INTO {_GUARDS} (username) SELECT %s WHERE ({_ADDRESS_SQL}) < %s"
    " ON CONFLICT (username) DO UPDATE SET username = excluded.username"
)
# The read that follows the lock, in a statement of its own: on PostgreSQL
# each statement takes its own snapshot, so this one sees every attempt
# committed by whoever held the lock before (tests/test_concurrency.py
# fails if the counts are read by the locking statement itself).
_SINCE = f"CASE WHEN {_GUARDS}.reset_at > %s THEN {_GUARDS}.reset_at ELSE %s END"


def _state_sql() -> str:
    """The guard's columns, as audit.rows converts them, then the counts."""
    select, _converters = rows.columns(LoginGuard, _GUARDS)
    return (
        f"SELECT {select}, ({_failures_sql(f'{_GUARDS}.id', _SINCE)}), ({_ADDRESS_SQL})"
        f" FROM {_GUARDS} WHERE username = %s"
    )


_ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit TO OFF"


def _at(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _locked_guard(username: str, ip: str | None, now: datetime) -> LoginGuard | None:
    """The guard, locked until the transaction ends, with .failures and
    .from_address read under the lock. None for a username never seen
    when the address is over its limit (nothing is stored for it)."""
    address_since, limit = _at(now - _rule("ADDRESS_FAILURES_WINDOW")), _rule("ADDRESS_FAILURES_LIMIT")
    window_start = _at(now - _rule("LOCKOUT_WINDOW"))
    pending_since = _at(now - _rule("ATTEMPT_RESERVATION_TTL"))
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [username, ip, address_since, limit, limit])
        cursor.execute(
            _state_sql(),
            [
                window_start,
                window_start,
                True,
                pending_since,
                _rule("LOCKOUT_FAILURES"),
                ip,
                address_since,
                limit,
                username,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    guard = rows.instance(LoginGuard, _GUARDS, row[:-2])
    guard.failures, guard.from_address = row[-2], row[-1]
    return guard


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _failures(guard: LoginGuard, now: datetime, *, with_pending: bool) -> int:
    """Failures (and, before a check, live reservations) since the window
    opened or the count was last reset."""
    since = now - _rule("LOCKOUT_WINDOW")
    if guard.reset_at and guard.reset_at > since:
        since = guard.reset_at
    pending_since = now - _rule("ATTEMPT_RESERVATION_TTL")
    return _count(_FAILURES_SQL, [guard.pk, _at(since), with_pending, _at(pending_since), _rule("LOCKOUT_FAILURES")])


def reserve(
    username: str,
    *,
    step: str,
    ip: str | None,
    channel: str,
    now: datetime,
    held: bool = False,
    throttle_address: bool = False,
) -> Reservation:
    """Reserve a place for one attempt, or refuse it (and count the refusal).

    Alone it commits, so the place is held before a slow hash. With held=True
    (step 2, no hash) it must run inside the caller's transaction, which then
    keeps the username's row locked until the attempt is resolved. With
    throttle_address=True it first refuses, storing nothing, an address
    with too many recent failures (SECURITY.md 7): the two counts are one
    query.
    """
    address = ip if throttle_address else None  # NULL matches no row
    alone = not connection.in_atomic_block  # this transaction commits here
    with transaction.atomic(savepoint=False):
        guard = _locked_guard(username, address, now)
        if guard is None or guard.from_address >= _rule("ADDRESS_FAILURES_LIMIT"):
            return Reservation(guard.pk if guard else None, None, throttled=True)
        failures = guard.failures
        refuse = guard.is_locked(now) or failures >= _rule("LOCKOUT_FAILURES")
        attempt = LoginAttempt(guard=guard, at=now, step=step, ip=ip, channel=channel, outcome=Outcome.PENDING)
        if refuse:
            # L3: the refusal is itself unsuccessful; the lock runs from it.
            attempt.outcome = Outcome.REFUSED
            statements.insert(attempt)
            guard.locked_until = now + _rule("LOCKOUT_DURATION")
            guard.save(update_fields=["locked_until"])
            return Reservation(guard.pk, None, guard.locked_until, refused=True)
        if held:
            clean = failures == 0 and guard.locked_until is None
            return Reservation(guard.pk, None, guard=guard, attempt=attempt, clean=clean)
        if alone and connection.vendor == "postgresql":
            # The reservation only has to be visible to the next attempt,
            # which it is at COMMIT; the disk can follow. Its outcome is
            # written by a durable transaction after the hash, and a server
            # crash before the disk caught up also ends this request, so
            # only a PENDING row, counted for a few minutes, can be lost.
            # (Refusals above stay durable: they lock.)
            with connection.cursor() as cursor:
                cursor.execute(_ASYNC_COMMIT_SQL)
        statements.insert(attempt)
    return Reservation(guard.pk, attempt.pk)


def _record_outcome(reservation: Reservation, outcome: str, now: datetime) -> None:
    if reservation.attempt is not None:
        reservation.attempt.outcome = outcome
        reservation.attempt.at = now
        statements.insert(reservation.attempt)
    else:
        statements.update(LoginAttempt, reservation.attempt_id, outcome=outcome, at=now)


def resolve_failure(reservation: Reservation, now: datetime) -> datetime | None:
    """The checked attempt failed. Returns the lock's end if it now holds."""
    # savepoint=False: inside the caller's transaction this adds no
    # SAVEPOINT round trips; alone it is its own transaction.
    with transaction.atomic(savepoint=False):
        guard = reservation.guard or LoginGuard.objects.select_for_update().get(pk=reservation.guard_id)
        _record_outcome(reservation, Outcome.FAILED, now)
        if _failures(guard, now, with_pending=False) >= _rule("LOCKOUT_FAILURES"):
            guard.locked_until = now + _rule("LOCKOUT_DURATION")
            guard.save(update_fields=["locked_until"])
            return guard.locked_until
    return None


def resolve_step_passed(reservation: Reservation, now: datetime) -> None:
    """The password was right; the login is not complete, so nothing resets."""
    _record_outcome(reservation, Outcome.PASSED, now)


def resolve_success(reservation: Reservation, now: datetime) -> None:
    """L3: a successful login resets the count."""
    with transaction.atomic(savepoint=False):
        _record_outcome(reservation, Outcome.SUCCEEDED, now)
        if not reservation.clean:
            LoginGuard.objects.filter(pk=reservation.guard_id).update(reset_at=now, locked_until=None)


def unlock(username: str, now: datetime) -> bool:
    """L3 (s371): an agent lifts the lock early. True if it was locked."""
    with transaction.atomic():
        guard = LoginGuard.objects.select_for_update().filter(username=username).first()
        if guard is None:
            return False
        was_locked = guard.is_locked(now)
        guard.reset_at = now
        guard.locked_until = None
        guard.save(update_fields=["reset_at", "locked_until"])
    return was_locked


def locked_until(username: str, now: datetime | None = None) -> datetime | None:
    """When the username's lock ends, or None if it is not locked now."""
    now = now or timezone.now()
    guard = LoginGuard.objects.filter(username=username).first()
    return guard.locked_until if guard and guard.is_locked(now) else None
