"""What the current login allows and until when, in the client's words
(issue item 2: the dashboard and the Secure Login System page).

It reads the second-factor contract only: `request.user.otp_device.allowance(now)`
(devices.factors.Allowance: scope until `until`, then `then_scope` until
`then_until`), so this app knows no kind of factor. Moments are written with
Django's formats in the time zone the request activated (the client's,
accounts.middleware). A password-only session (a new applicant, C5) is
described by the steps that apps above register (`register_pending_step`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy

from .access import FULL, FULL_NO_WITHDRAWALS, RESTRICTED_CARD_ONLY


@dataclass(frozen=True)
class Standing:
    """The sentence, the next step as a button (URL, label), and the
    warning that the access is about to end ("" when it is not)."""

    text: str
    next_step: tuple[str, str] | None = None
    warning: str = ""


def moment(value: datetime) -> str:
    """ "3 December 14:05 CET" in the client's language and time zone."""
    local = timezone.localtime(value)
    day = formats.date_format(local, "MONTH_DAY_FORMAT")
    return f"{day} {formats.time_format(local, 'H:i')} {local.tzname() or 'UTC'}"


# (scope, then_scope) -> the sentence; %(until)s and %(then_until)s are moments.
_SENTENCES = {
    (FULL, None): gettext_lazy("Full access, withdrawals included, until %(until)s."),
    (FULL_NO_WITHDRAWALS, RESTRICTED_CARD_ONLY): gettext_lazy(
        "Full access except withdrawals and changes of banking instructions until %(until)s; "
        "then only to print and activate your online security card until %(then_until)s."
    ),
    (FULL_NO_WITHDRAWALS, None): gettext_lazy(
        "Full access except withdrawals and changes of banking instructions until %(until)s."
    ),
    (RESTRICTED_CARD_ONLY, None): gettext_lazy(
        "Only to print and activate your online security card, until %(until)s."
    ),
}
_WHILE_ACTIVE = gettext_lazy("Full access, withdrawals included.")

# The next step of each window: (URL name, button label).
_PRINT_CARD = ("settings-security-sls-online-card", gettext_lazy("Print your online security card"))
_CARD_OPTIONS = (
    "settings-security-sls-online-card-options",
    gettext_lazy("Reactivate or replace your security device"),
)
_NEXT_STEPS = {FULL_NO_WITHDRAWALS: _PRINT_CARD, RESTRICTED_CARD_ONLY: _PRINT_CARD}

_ENDING = gettext_lazy(
    "Your online security card stops working on %(until)s. Before then, reactivate your security device or "
    "request a new one; after it, only Customer Service can help."
)


def button(step: tuple[str, str] | None) -> tuple[str, str] | None:
    if step is None:
        return None
    try:
        return reverse(step[0]), str(step[1])
    except NoReverseMatch:
        return None


PendingStep = Callable[[HttpRequest, datetime], "Standing | None"]
_pending_steps: list[PendingStep] = []


def register_pending_step(step: PendingStep) -> PendingStep:
    """An app above says what a password-only session should do next (C5)."""
    if step not in _pending_steps:
        _pending_steps.append(step)
    return step


def standing(request: HttpRequest, now: datetime) -> Standing | None:
    """What this login allows now and until when, or None when nothing is to be said."""
    factor = getattr(request.user, "otp_device", None)
    allowance_of = getattr(factor, "allowance", None)
    if allowance_of is None:
        for step in _pending_steps:
            found = step(request, now)
            if found is not None:
                return found
        return None
    allowance = allowance_of(now)
    if allowance is None:
        return None
    if allowance.until is None:
        return Standing(str(_WHILE_ACTIVE))
    sentence = _SENTENCES.get((allowance.scope, allowance.then_scope)) or _SENTENCES.get((allowance.scope, None))
    if sentence is None:
        return None
    text = str(sentence) % {
        "until": moment(allowance.until),
        "then_until": moment(allowance.then_until) if allowance.then_until else "",
    }
    # A full access that ends is an online card's (A4): its next step is one of its options (C4).
    step = _NEXT_STEPS.get(allowance.scope, _CARD_OPTIONS if allowance.scope == FULL else None)
    warning = str(_ENDING) % {"until": moment(allowance.until)} if allowance.warns(now) else ""
    return Standing(text, button(step), warning)


def describe(request: HttpRequest) -> dict:
    """The context of the include accounts/_standing.html."""
    return {"standing": standing(request, timezone.now())}
