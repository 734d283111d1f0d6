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
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from sls_portal.compiled import CompiledQuery, insert

from .models import LoginAttempt, LoginGuard

Outcome = LoginAttempt.Outcome


def _rule(name: str):
    return settings.SLS[name]


@dataclass(frozen=True)
class Reservation:
    """The answer to "may this attempt be checked?"."""

    guard_id: int
    attempt_id: int | None  # the PENDING row; None when refused or held
    locked_until: datetime | None = None
    refused: bool = False
    # held=True: the caller's transaction keeps the guard locked until the
    # attempt resolves, so its row is written once, with its outcome.
    guard: LoginGuard | None = None
    attempt: LoginAttempt | None = None


_GUARD_FOR_UPDATE = CompiledQuery(lambda username: LoginGuard.objects.select_for_update().filter(username=username), username=str)


def _guard_for_update(username: str) -> LoginGuard:
    # The row lock on a username seen before; for a new one, an INSERT ..
    # ON CONFLICT DO NOTHING first, so concurrent first attempts share a row.
    guard = _GUARD_FOR_UPDATE.first(username=username)
    if guard is None:
        LoginGuard.objects.bulk_create([LoginGuard(username=username)], ignore_conflicts=True)
        guard = LoginGuard.objects.select_for_update().get(username=username)
    return guard


# The two counts every attempt makes, as fixed SQL: the ORM would compile
# them anew at every login, which costs more than running them. Both read
# only indexed columns: (guard, at) and (ip, at).
_ATTEMPTS = LoginAttempt._meta.db_table
_COUNTED = "(%s)" % ", ".join(f"'{outcome}'" for outcome in LoginAttempt.COUNTED_OUTCOMES)
_FAILURES_SQL = (
    f"SELECT COUNT(*) FROM {_ATTEMPTS} WHERE guard_id = %s AND at > %s"
    f" AND (outcome IN {_COUNTED} OR (%s AND outcome = '{Outcome.PENDING}' AND at > %s))"
)
_ADDRESS_SQL = (
    f"SELECT COUNT(*) FROM (SELECT 1 FROM {_ATTEMPTS} WHERE ip = %s AND at > %s"
    f" AND outcome IN {_COUNTED} LIMIT %s) recent"
)


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _at(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _failures(guard: LoginGuard, now: datetime, *, with_pending: bool) -> int:
    """Failures (and, before a check, live reservations) since the window
    opened or the count was last reset."""
    since = now - _rule("LOCKOUT_WINDOW")
    if guard.reset_at and guard.reset_at > since:
        since = guard.reset_at
    pending_since = now - _rule("ATTEMPT_RESERVATION_TTL")
    return _count(_FAILURES_SQL, [guard.pk, _at(since), with_pending, _at(pending_since)])


def reserve(
    username: str, *, step: str, ip: str | None, channel: str, now: datetime, held: bool = False
) -> Reservation:
    """Reserve a place for one attempt, or refuse it (and count the refusal).

    Alone it commits, so the place is held before a slow hash. With held=True
    (step 2, no hash) it must run inside the caller's transaction, which then
    keeps the username's row locked until the attempt is resolved.
    """
    with transaction.atomic(savepoint=False):
        guard = _guard_for_update(username)
        refuse = guard.is_locked(now) or _failures(guard, now, with_pending=True) >= _rule("LOCKOUT_FAILURES")
        attempt = LoginAttempt(guard=guard, at=now, step=step, ip=ip, channel=channel, outcome=Outcome.PENDING)
        if refuse:
            # L3: the refusal is itself unsuccessful; the lock runs from it.
            attempt.outcome = Outcome.REFUSED
            insert(attempt)
            guard.locked_until = now + _rule("LOCKOUT_DURATION")
            guard.save(update_fields=["locked_until"])
            return Reservation(guard.pk, None, guard.locked_until, refused=True)
        if held:
            return Reservation(guard.pk, None, guard=guard, attempt=attempt)
        insert(attempt)
    return Reservation(guard.pk, attempt.pk)


_RESOLVE_SQL = f"UPDATE {_ATTEMPTS} SET outcome = %s, at = %s WHERE id = %s"


def _record_outcome(reservation: Reservation, outcome: str, now: datetime) -> None:
    if reservation.attempt is not None:
        reservation.attempt.outcome = outcome
        reservation.attempt.at = now
        insert(reservation.attempt)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_RESOLVE_SQL, [outcome, _at(now), reservation.attempt_id])


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


def address_is_throttled(ip: str | None, now: datetime) -> bool:
    """SECURITY.md 7: too many failures from one address in the window."""
    if not ip:
        return False
    limit = _rule("ADDRESS_FAILURES_LIMIT")
    return _count(_ADDRESS_SQL, [ip, _at(now - _rule("ADDRESS_FAILURES_WINDOW")), limit]) >= limit


def record_lifted_locks(now: datetime, batch_size: int | None = None) -> int:
    """J1: persist "lock lifted" for every lock whose 24 hours have passed.

    Set-based and safe on several workers: each batch claims its rows with
    SELECT .. FOR UPDATE SKIP LOCKED, and each event carries a unique key
    (guard, lock end), so a second run or a second worker writes nothing
    twice. Logins never wait for this: is_locked() reads locked_until.
    """
    from .models import AuditEvent, User  # local: models import this module's callers

    batch_size = batch_size or settings.SLS["JOB_BATCH_SIZE"]
    client_of = User.objects.filter(username=OuterRef("username")).values("client_id")[:1]
    written = 0
    while True:
        with transaction.atomic():
            due = list(
                LoginGuard.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(locked_until__lte=now)
                .filter(Q(lift_recorded_for__isnull=True) | ~Q(lift_recorded_for=F("locked_until")))
                .annotate(client_id=Subquery(client_of))
                .order_by("pk")
                .values_list("pk", "username", "locked_until", "client_id")[:batch_size]
            )
            if not due:
                return written
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(
                        at=now,
                        action="lockout.lifted",
                        username=username,
                        client_id=client_id,
                        rule="L3",
                        details={"locked_until": until.isoformat()},
                        dedupe_key=f"lockout.lifted:{pk}:{until.isoformat()}",
                    )
                    for pk, username, until, client_id in due
                ],
                ignore_conflicts=True,
            )
            LoginGuard.objects.filter(pk__in=[row[0] for row in due]).update(lift_recorded_for=F("locked_until"))
            written += len(due)
