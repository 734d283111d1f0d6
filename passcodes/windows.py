"""The access windows (A2-A7, C5, C6) as pure functions of timestamps and now.

Principle 1: nothing here reads the database or the clock. The login, the
middleware (every request), the pages and the jobs all call these with the
stored timestamps and the current time, so a session opened at hour 47 of a
temporary passcode is restricted at hour 48, and a week without workers
changes no decision (J2). The jobs only persist what these say.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Phase(models.TextChoices):
    PENDING = "pending", _("Not activated yet")
    FULL = "full", _("Full access")
    RESTRICTED = "restricted", _("Restricted to the online card")
    EXPIRED = "expired", _("Expired")
    ENDED = "ended", _("Ended")


def passcode_full_until(issued_at: datetime) -> datetime:
    """A2: the end of the 2 days of full access."""
    return issued_at + settings.SLS["PASSCODE_FULL_ACCESS"]


def passcode_restricted_until(issued_at: datetime) -> datetime:
    """A3: the end of the 10 further days of restricted access (day 12)."""
    return passcode_full_until(issued_at) + settings.SLS["PASSCODE_RESTRICTED_ACCESS"]


def passcode_phase(issued_at: datetime, now: datetime, *, ended_at: datetime | None = None) -> Phase:
    """A2, A3, A7: the phase of a temporary passcode issued at `issued_at`.

    `ended_at`: when it was ended before its time (a new passcode replaced
    it, the online card was activated (C3), the device was reactivated (A6))."""
    if ended_at is not None and ended_at <= now:
        return Phase.ENDED
    if now < passcode_full_until(issued_at):
        return Phase.FULL
    if now < passcode_restricted_until(issued_at):
        return Phase.RESTRICTED
    return Phase.EXPIRED


def card_base_expiry(activated_at: datetime, *, funded_at: datetime | None = None, applicant: bool = False):
    """A4, C5: 21 days from activation for a replacement; for a new
    applicant, 21 days from funding (None while the account is unfunded:
    the card runs until the account is funded, then 21 days more)."""
    access = settings.SLS["ONLINE_CARD_ACCESS"]
    if applicant:
        return funded_at + access if funded_at is not None else None
    return activated_at + access


def card_expires_at(
    activated_at: datetime,
    *,
    funded_at: datetime | None = None,
    applicant: bool = False,
    replacement_auto_activates_at: datetime | None = None,
) -> datetime | None:
    """A4, C5, C6: when an activated online card stops giving access.

    C6: while a replacement is on its way, the card does not expire before
    the replacement activates itself (D3); and once the replacement is
    active it is the client's device, so the card ends then (C5, A6): with
    a replacement pending, the card runs exactly to its auto-activation."""
    if replacement_auto_activates_at is not None and replacement_auto_activates_at > activated_at:
        return replacement_auto_activates_at
    return card_base_expiry(activated_at, funded_at=funded_at, applicant=applicant)


def card_phase(
    activated_at: datetime | None,
    now: datetime,
    *,
    expires_at: datetime | None,
    ended_at: datetime | None = None,
) -> Phase:
    """A4: an activated card gives full access until it expires or is ended
    (a permanent device reactivated, A6). A card not activated yet gives
    nothing at login (C2 activates it)."""
    if ended_at is not None and ended_at <= now:
        return Phase.ENDED
    if activated_at is None or activated_at > now:
        return Phase.PENDING
    if expires_at is not None and expires_at <= now:
        return Phase.EXPIRED
    return Phase.FULL


def warning_due_at(expires_at: datetime) -> datetime:
    """C (ours): when the warning before the card expires is due."""
    return expires_at - settings.SLS["ONLINE_CARD_WARNING_BEFORE"]
