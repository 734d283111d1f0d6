"""L3 for codes typed outside the login: the username's lock, through a hook.

The lock (L3) belongs to the login app, which the apps below it may not
import. A page that checks a second factor's code outside the two login
steps (the online card's activation, C2) counts its attempts toward the
username's lock like login codes: the login app registers, from its
AppConfig.ready(), how one such attempt is reserved and resolved, and the
page calls `attempt()` inside its own transaction, before it loads the
factor (the order step 2 locks in: the username's guard row, then the
factor's row).

    attempt = guards.attempt(user, now=now, request=request)
    if attempt.locked_until is not None: ...   # refused before any check
    ... check the code ...
    attempt.failed()      # -> the lock's end, if this failure locks it
    attempt.succeeded()   # the count resets, as after a login

An attempt neither failed nor succeeded (nothing was checked) writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol


class GuardedAttempt(Protocol):
    """One attempt as the username's lock (L3) sees it."""

    # Set when the attempt is refused without a check: when the lock ends.
    locked_until: datetime | None

    def failed(self) -> datetime | None:
        """The code was wrong: the lock's end if this failure locks the username."""

    def succeeded(self) -> None:
        """The code was right: the count resets as after a login."""


# (user, now=..., request=...) -> GuardedAttempt, called inside the caller's transaction.
AttemptGuard = Callable[..., GuardedAttempt]
_guards: list[AttemptGuard] = []


def register_attempt_guard(guard: AttemptGuard) -> AttemptGuard:
    """The login app's reservation (one at most: registering again replaces
    it, so a reloaded app does not count an attempt twice)."""
    _guards[:] = [guard]
    return guard


class _Unguarded:
    """No login app installed (never in this project): nothing is counted."""

    locked_until = None

    def failed(self) -> None:
        return None

    def succeeded(self) -> None:
        return None


def attempt(user, *, now: datetime, request=None) -> GuardedAttempt:
    """Reserve this attempt's place under the username's lock; must run
    inside the caller's transaction, which keeps the reservation until it
    commits."""
    return _guards[0](user, now=now, request=request) if _guards else _Unguarded()
