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
batch is ONE statement, a DELETE of at most JOB_BATCH_SIZE rows chosen by a
subquery, so a large backlog never holds one long transaction and a batch
costs the same whatever the backlog. On PostgreSQL the subquery claims its
rows FOR UPDATE SKIP LOCKED (two workers delete different rows) and the
statement returns where the next batch resumes, so no batch re-reads the
index entries an earlier one left dead; SQLite has no FOR UPDATE and needs
none (it serialises writers), and removes deleted rows from its b-trees at
once. Attempts are found through their index on `at` (attempt_at),
sessions through Django's index on `expire_date`, pending logins (no index
on `expires_at`) in key order. Deleting is idempotent: a second run finds
nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from login.jobs import commits_without_waiting_for_the_disk
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


class Kind:
    """One kind of row to prune: its table, the column its cutoff reads,
    and the column batches walk in (an indexed one, or the key)."""

    def __init__(self, model: type[models.Model], due: str, strict: bool, walk: str) -> None:
        self.model = model
        self.due = due  # column; a row is due when it is < (strict) or <= the cutoff
        self.strict = strict
        self.walk = walk  # column the batches are ordered and resumed by

    def statement(self, batch_size: int, *, resume: bool) -> str:
        """One batch as one DELETE. On PostgreSQL its claim takes the rows
        FOR UPDATE SKIP LOCKED (two workers delete different rows) and it
        returns how many rows it deleted and where the next batch resumes;
        SQLite serialises writers and deletes the rows from its b-trees at
        once, so there a batch starts from the index's start again."""
        quote = connection.ops.quote_name
        table, due, walk = quote(self.model._meta.db_table), quote(self.due), quote(self.walk)
        key = quote(self.model._meta.pk.column)
        where = f"{due} {'<' if self.strict else '<='} %s"
        if resume:
            # The walk column is the key (unique) or a time (ties possible).
            where += f" AND {walk} {'>' if self.walk == self.model._meta.pk.column else '>='} %s"
        # Names from the models' meta, quoted; values as parameters.
        order = f"WHERE {where} ORDER BY {walk} LIMIT {int(batch_size)}"
        if connection.vendor != "postgresql":
            return f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} {order})"  # noqa: S608
        return (
            # The claimed rows are deleted where they are (their ctid, which
            # the row lock keeps valid until the statement ends): a TID scan,
            # not a probe of the primary key per row, and never `IN (..)`,
            # which lets the planner hash-join the claim against a scan of
            # the whole table in every batch.
            f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("  # noqa: S608
            f"SELECT ctid FROM {table} {order} FOR UPDATE SKIP LOCKED)) RETURNING {walk})"
            f" SELECT count(*), max({walk}) FROM gone"
        )

    def delete(self, cutoff: datetime, batch_size: int) -> int:
        """Delete the due rows, at most batch_size per statement (each its own
        transaction when no outer one is open): a constant one statement per
        batch, whatever the backlog."""
        cutoff = connection.ops.adapt_datetimefield_value(cutoff)
        postgresql = connection.vendor == "postgresql"
        deleted = 0
        after = None
        with commits_without_waiting_for_the_disk(), connection.cursor() as cursor:
            while True:
                resume = postgresql and after is not None
                cursor.execute(self.statement(batch_size, resume=resume), [cutoff, after] if resume else [cutoff])
                if postgresql:
                    count, after = cursor.fetchone()
                else:
                    count = cursor.rowcount
                deleted += count
                if count < batch_size:
                    return deleted


def _kinds() -> dict[str, Kind]:
    return {
        # No index on expires_at: walked in key order (pending logins are
        # created, and so expire, in roughly key order).
        "pending_logins": Kind(PendingLogin, "expires_at", strict=True, walk="id"),
        # Django's index on expire_date; the store never loads a row whose
        # expire_date has come.
        "sessions": Kind(Session, "expire_date", strict=False, walk="expire_date"),
        # The index attempt_at (login/migrations/0003_attempt_at_index.py).
        "login_attempts": Kind(LoginAttempt, "at", strict=True, walk="at"),
    }


def prune(now: datetime, batch_size: int | None = None) -> dict[str, int]:
    """Delete what is past its retention; returns how many rows of each kind."""
    batch_size = batch_size or _rule("JOB_BATCH_SIZE")
    attempts_before = attempt_cutoff(now)  # checked before anything is deleted
    pending_before = now - _rule("PENDING_LOGIN_RETENTION")
    cutoffs = {"pending_logins": pending_before, "sessions": now, "login_attempts": attempts_before}
    return {name: kind.delete(cutoffs[name], batch_size) for name, kind in _kinds().items()}
