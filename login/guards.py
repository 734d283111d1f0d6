"""L3 for codes typed outside the two login steps (devices/guards.py).

An attempt on such a page is reserved exactly as step 2 reserves one
(held, inside the page's own transaction, no hash) and resolved in that
same transaction: a failure counts toward the username's lock, a success
resets the count, a locked username is refused before any check.
"""

from __future__ import annotations

from datetime import datetime

from audit import trail

from . import lockout
from .models import LoginAttempt


class GuardedCodeAttempt:
    """devices.guards.GuardedAttempt on the username's L3 reservation."""

    def __init__(self, reservation: lockout.Reservation, now: datetime):
        self.reservation = reservation
        self.now = now

    @property
    def locked_until(self) -> datetime | None:
        return self.reservation.locked_until if self.reservation.refused else None

    def failed(self) -> datetime | None:
        return lockout.resolve_failure(self.reservation, self.now)

    def succeeded(self) -> None:
        lockout.resolve_success(self.reservation, self.now)


def code_attempt(user, *, now: datetime, request=None) -> GuardedCodeAttempt:
    """A code typed on a portal page counts like a login code (step 2, web)."""
    reservation = lockout.reserve(
        user.username,
        step=LoginAttempt.Step.CODE,
        ip=trail.client_ip(request),
        channel="web",
        now=now,
        held=True,
    )
    return GuardedCodeAttempt(reservation, now)
