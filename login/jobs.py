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
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery

from accounts.models import User
from audit.models import AuditEvent
from login.models import LIFT_UNRECORDED, LoginGuard

LIFTED = "lockout.lifted"


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
    worker holds are skipped. Its filter is the index's predicate."""
    client_of = User.objects.filter(username=OuterRef("username")).values("client_id")[:1]
    return (
        LoginGuard.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(LIFT_UNRECORDED, locked_until__lte=now)
        .annotate(client_id=Subquery(client_of))
        .order_by("locked_until")
        .values_list("pk", "username", "locked_until", "client_id")[:batch_size]
    )


def record_lifted_locks(now: datetime, batch_size: int | None = None) -> int:
    """J1: one `lockout.lifted` event for every lock that ended by `now`.

    Returns how many locks this call recorded. Each batch is its own
    transaction of three statements (claim, events, mark), so a large
    backlog never holds one long transaction."""
    batch_size = batch_size or settings.SLS["JOB_BATCH_SIZE"]
    written = 0
    while True:
        with transaction.atomic():
            due = list(claim(now, batch_size))
            if not due:
                return written
            AuditEvent.objects.bulk_create([_event(now, *row) for row in due], ignore_conflicts=True)
            LoginGuard.objects.filter(pk__in=[row[0] for row in due]).update(lift_recorded_for=F("locked_until"))
        written += len(due)
        if len(due) < batch_size:
            return written
