"""The retention job: what logins leave behind is deleted once nothing reads it.

Three kinds of rows grow with every login and are never read again after
a while (the periods are in `settings.SLS`):

- pending logins (step 1 passed, step 2 asked): kept PENDING_LOGIN_RETENTION
  after they expired, then deleted;
- sessions (Django's table): deleted once expired (`expire_date` passed;
  the session store never loads such a row);
- login attempts: kept LOGIN_ATTEMPT_RETENTION, which must be longer than
  every window a rule counts them in (L3's 24 hours, the address window of
  SECURITY.md 7, a reservation's lifetime): the job refuses to run
  otherwise, so it never deletes an attempt a count still reads.

Audit events are not touched here: they are the record (of agents'
actions, of every authentication decision) and are kept apart, longer,
under their own policy.

Set-based and safe on several workers (ARCHITECTURE.md principle 5): each
batch is its own short transaction of two statements, a claim of at most
JOB_BATCH_SIZE keys (SELECT .. FOR UPDATE SKIP LOCKED, so two workers take
different rows) and one DELETE of them, so a large backlog never holds one
long transaction. Deleting is idempotent: a second run finds nothing.
Attempts and pending logins are walked in key order from where the last
batch stopped, so no batch re-reads what an earlier one deleted.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

from login.models import LoginAttempt, PendingLogin


def _rule(name: str):
    return settings.SLS[name]


def attempt_cutoff(now: datetime) -> datetime:
    """Attempts before this moment are deleted. Refuses a retention
    period that is not longer than every window the rules count attempts in."""
    retention = _rule("LOGIN_ATTEMPT_RETENTION")
    windows = ("LOCKOUT_WINDOW", "ADDRESS_FAILURES_WINDOW", "ATTEMPT_RESERVATION_TTL")
    longest = max(_rule(name) for name in windows)
    if retention <= longest:
        raise ImproperlyConfigured(
            f"SLS['LOGIN_ATTEMPT_RETENTION'] ({retention}) must be longer than the longest window "
            f"the rules count attempts in ({longest}): pruning would change their counts."
        )
    return now - retention


def _delete_in_batches(model: type[models.Model], due: models.Q, batch_size: int, *, order: str = "pk") -> int:
    """Delete the rows matching `due`, at most batch_size per transaction.

    In primary-key order (a table whose `due` column has no index), each
    batch starts after the last key of the one before; in another order
    (the indexed column `due` reads), each starts from the index's start,
    where the rows deleted before are gone."""
    walk_keys = order == "pk"
    deleted = 0
    after = None
    while True:
        with transaction.atomic():
            claim = model.objects.select_for_update(skip_locked=True).filter(due).order_by(order)
            if walk_keys and after is not None:
                claim = claim.filter(pk__gt=after)
            keys = list(claim.values_list("pk", flat=True)[:batch_size])
            if not keys:
                return deleted
            deleted += model.objects.filter(pk__in=keys).delete()[0]
        if len(keys) < batch_size:
            return deleted
        after = keys[-1]


def prune(now: datetime, batch_size: int | None = None) -> dict[str, int]:
    """Delete what is past its retention; returns how many rows of each kind."""
    batch_size = batch_size or _rule("JOB_BATCH_SIZE")
    attempts_before = attempt_cutoff(now)  # checked before anything is deleted
    pending_before = now - _rule("PENDING_LOGIN_RETENTION")
    return {
        "pending_logins": _delete_in_batches(PendingLogin, models.Q(expires_at__lt=pending_before), batch_size),
        "sessions": _delete_in_batches(Session, models.Q(expire_date__lte=now), batch_size, order="expire_date"),
        "login_attempts": _delete_in_batches(LoginAttempt, models.Q(at__lt=attempts_before), batch_size),
    }
