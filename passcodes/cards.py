"""The online security code card's pages (C1-C4), as plain functions the
views call.

    printer(request, now)                   -> Printer, or a Refusal (C1)
    make_card(printer, now=...)             -> the username's card, made once (C1)
    take_for_download(printer, kind, now=...) -> the card, its download recorded (principle 4)
    activate(user, card_id, challenge, response, now=...) -> the card, active (C2, C3)
    riding_card(request)                    -> the active card the session rides on (C4)

Who may see the codes (C1, principle 4): a session of a temporary passcode
in its full or restricted window (A2, A3), or a new applicant's password
session while the applicant's card waits for activation (C5); only its
own username's card, and only until the card is activated, never after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import access
from accounts.models import User
from accounts.standing import Standing, button
from audit import trail
from devices import codecard, guards
from help import refusals

from .models import EndReason, OnlineCard, TemporaryPasscode

MADE = "online_card.created"
PRINTED = "online_card.printed"
ACTIVATED = "online_card.activated"
ACTIVATION_FAILED = "online_card.activation.failed"
PASSCODE_ENDED = "passcode.ended"

PDF, PNG = "pdf", "png"


@dataclass(frozen=True)
class Refusal:
    """A9: why this session may not use the page, in the client's words, and
    the next step (URL name, button label); the rule is for the audit."""

    rule: str
    message: str
    next_step: tuple[str, str] | None = None


@dataclass(frozen=True)
class Printer:
    """A session that may print its username's card (C1): the passcode it
    rides on (None: a new applicant, C5) and the card waiting for
    activation, if it is made."""

    user: User
    passcode: TemporaryPasscode | None
    card: OnlineCard | None
    # A card activated before this passcode was issued (the client lost it):
    # making a new one ends it.
    active_card: OnlineCard | None = None


PRINT_SCOPES = (access.FULL_NO_WITHDRAWALS, access.RESTRICTED_CARD_ONLY)

_NOT_NEEDED = gettext_lazy(
    "Your security device is active, so you do not need an online security card. If you lost your device, "
    "call your regional Customer Service Center."
)
_ALREADY_ACTIVE = gettext_lazy(
    "Your online security card is active. For your safety its codes are shown only until it is activated: "
    "keep the copy you printed or saved."
)
_NOT_OFFERED = gettext_lazy(
    "The online security card is for clients who log in with a temporary passcode from Customer Service, "
    "and for new clients opening their account. Call your regional Customer Service Center if you need one."
)


def pending_card(user) -> OnlineCard | None:
    """The username's card that waits for activation (one at most)."""
    return OnlineCard.objects.filter(user=user, ended_at__isnull=True, activated_at__isnull=True).first()


def riding_card(request) -> OnlineCard | None:
    """The active online card this session was verified by (C4), if any."""
    factor = getattr(request.user, "otp_device", None)
    if isinstance(factor, OnlineCard) and getattr(request, "sls_scope", None) == access.FULL:
        return factor
    return None


def printer(request, now: datetime) -> Printer | Refusal:
    """C1: who may make, print, save and activate the card, or why not."""
    scope = getattr(request, "sls_scope", None)
    user = request.user
    factor = getattr(user, "otp_device", None)
    if scope in PRINT_SCOPES and isinstance(factor, TemporaryPasscode):
        active = (
            OnlineCard.objects.filter(user=user, ended_at__isnull=True, activated_at__isnull=False)
            .order_by("-activated_at")
            .first()
        )
        return Printer(user=user, passcode=factor, card=pending_card(user), active_card=active)
    if scope == access.UNENROLLED:
        card = pending_card(user)
        if card is not None and card.applicant:
            return Printer(user=user, passcode=None, card=card)  # C5
        return Refusal("C1", str(_NOT_OFFERED), ("settings-security-sls", str(_("Secure Login System"))))
    if riding_card(request) is not None:
        return Refusal(
            "C1",
            str(_ALREADY_ACTIVE),
            ("settings-security-sls-online-card-options", str(_("What to do next"))),
        )
    narrowed = access.SCOPE_REFUSALS.get(scope)
    if narrowed is not None:  # A8: a closed account
        rule, message, (name, label) = narrowed
        return Refusal(rule, str(message), (name, str(label)))
    return Refusal("C1", str(_NOT_NEEDED), ("settings-security-sls", str(_("Secure Login System"))))


def new_card(user, *, passcode: TemporaryPasscode | None, applicant: bool, now: datetime) -> OnlineCard:
    """A card with a new seed (encrypted, principle 4), not saved."""
    card = OnlineCard(
        user=user,
        name=str(_("Online security code card")),
        confirmed=True,
        client_id=user.client_id,
        created_at=now,
        passcode=passcode,
        applicant=applicant,
    )
    card.set_seed(codecard.new_seed())
    return card


def make_card(who: Printer, *, now: datetime, request=None) -> OnlineCard:
    """C1: the username's card, made now unless it is made already (a second
    submission gets the same card). A card activated before this passcode
    was issued (lost, since the client called) ends: one card at a time."""
    user = who.user
    with transaction.atomic():
        # Two submissions at once take turns on the username's row.
        User.objects.select_for_update().filter(pk=user.pk).exists()
        existing = pending_card(user)
        if existing is not None:
            return existing
        replaced = OnlineCard.objects.filter(user=user, ended_at__isnull=True).update(
            ended_at=now, ended_reason=EndReason.REPLACED
        )
        card = new_card(user, passcode=who.passcode, applicant=False, now=now)
        try:
            with transaction.atomic():
                card.save()
        except IntegrityError:  # pragma: no cover - the row lock above serialises makers
            return pending_card(user)
        trail.record(
            MADE,
            request=request,
            client_id=user.client_id,
            username=user.username,
            rule="C1",
            details={
                "online_card": card.pk,
                "passcode": who.passcode.pk if who.passcode else None,
                "replaced": replaced,
            },
            at=now,
        )
    return card


def take_for_download(who: Printer, kind: str, *, now: datetime, request=None) -> OnlineCard | Refusal:
    """Principle 4: the card's codes leave the portal only for its own
    username's session and only before activation; each download is
    recorded (the first one's time on the card, every one in the audit).
    Under the card's row lock, so an activation finishing meanwhile wins."""
    with transaction.atomic():
        card = (
            OnlineCard.objects.select_for_update()
            .select_related("client", "user")
            .filter(user=who.user, ended_at__isnull=True, activated_at__isnull=True)
            .first()
        )
        if card is None:
            return Refusal(
                "C1",
                str(_("Make your online security card first, then print or save it.")),
                ("settings-security-sls-online-card", str(_("Your online security card"))),
            )
        if card.printed_at is None:
            OnlineCard.objects.filter(pk=card.pk, printed_at__isnull=True).update(printed_at=now)
            card.printed_at = now
        trail.record(
            PRINTED,
            request=request,
            client_id=card.client_id,
            username=who.user.username,
            rule="C1",
            details={"online_card": card.pk, "format": kind},
            at=now,
        )
    return card


# --- Activation (C2, C3) ----------------------------------------------------------


@dataclass
class ActivationRefused(Exception):
    """The codes did not activate the card; the message says what to do."""

    message: str
    rule: str = "C2"
    hint: str = ""
    throttled_until: datetime | None = None
    locked_until: datetime | None = None
    # The card was activated already (a double submission's twin, another tab).
    already_active: bool = False

    def __str__(self) -> str:
        return self.message


def activation_challenge(card: OnlineCard) -> dict:
    """C2: the two numbers asked, new at every attempt (as at login)."""
    return card.generate_challenge()


def activate(user, card_id: int, challenge: dict, response: str, *, now: datetime, request=None) -> OnlineCard:
    """C2: the codes under the two numbers asked activate the card; C3: the
    username's temporary passcode ends with it; A4: the card then gives full
    access. One transaction, with the username's L3 reservation first and
    the card's row locked, so one right answer presented many times at once
    activates it once. Wrong codes count toward L3 like login codes (the
    login app's hook, devices/guards.py) and on the card's throttle.
    Raises ActivationRefused, after what it records has committed."""
    with transaction.atomic():
        attempt = guards.attempt(user, now=now, request=request)
        if attempt.locked_until is not None:
            trail.record(
                ACTIVATION_FAILED,
                request=request,
                client_id=user.client_id,
                username=user.username,
                outcome="locked",
                rule="L3",
                at=now,
            )
            outcome: OnlineCard | ActivationRefused = _locked(attempt.locked_until)
        else:
            outcome = _check(user, attempt, card_id, challenge, response, now=now, request=request)
    if isinstance(outcome, ActivationRefused):
        raise outcome
    return outcome


def _locked(until: datetime) -> ActivationRefused:
    refusal = refusals.locked_out(until)
    return ActivationRefused(str(refusal.message), rule="L3", locked_until=until)


def _check(user, attempt, card_id, challenge, response, *, now, request) -> OnlineCard | ActivationRefused:
    card = OnlineCard.objects.select_for_update().filter(pk=card_id, user=user).first()
    if card is None or card.ended_at is not None:
        # Nothing checked, nothing counted: someone else's id, or a card replaced meanwhile.
        return ActivationRefused(
            _("This page was for a card that is no longer yours to activate. Here is your current card."),
        )
    if card.activated_at is not None:
        return ActivationRefused(_("Your online security card is already active."), already_active=True)
    card.challenge = challenge if isinstance(challenge, dict) else {}
    hint = card.format_hint(response)  # L4: no spaces inside a code
    throttled_until = card.throttled_until() if not hint else None
    ok = not hint and throttled_until is None and card.verify_token(response)
    if not ok:
        locked_until = attempt.failed()
        trail.record(
            ACTIVATION_FAILED,
            request=request,
            client_id=user.client_id,
            username=user.username,
            outcome="failed",
            rule="L4" if hint else "C2",
            details={"online_card": card.pk, "failures": card.throttling_failure_count},
            at=now,
        )
        if locked_until is not None:
            return _locked(locked_until)  # L3: the tenth failure says so at once
        return ActivationRefused(
            _("Those codes do not match your online security card. Here are two new numbers to try."),
            rule="L4" if hint else "C2",
            hint=hint,
            throttled_until=throttled_until,
        )
    attempt.succeeded()
    # The recorded phase follows with the jobs (J1): the window is read from activated_at.
    OnlineCard.objects.filter(pk=card.pk, activated_at__isnull=True).update(activated_at=now)
    card.activated_at = now
    # C3: the username's temporary passcode ends; the sessions that rode on it end at their next request.
    ended = list(TemporaryPasscode.objects.filter(user=user, ended_at__isnull=True).values_list("pk", flat=True))
    TemporaryPasscode.objects.filter(pk__in=ended).update(ended_at=now, ended_reason=EndReason.CARD_ACTIVATED)
    trail.record(
        ACTIVATED,
        request=request,
        client_id=user.client_id,
        username=user.username,
        rule="C2",
        details={"online_card": card.pk, "applicant": card.applicant},
        at=now,
    )
    if ended:
        trail.record(
            PASSCODE_ENDED,
            request=request,
            client_id=user.client_id,
            username=user.username,
            rule="C3",
            details={"passcodes": ended, "reason": EndReason.CARD_ACTIVATED},
            at=now,
        )
    return card


def longest_code() -> int:
    """What a code field takes before it is refused unread (room for a
    pasted code with spaces, which gets L4's hint)."""
    return 4 * settings.SLS["CODE_CARD_CODE_LENGTH"]


def applicant_step(request, now: datetime) -> Standing | None:
    """C5: what a new applicant's password session is told to do next."""
    if getattr(request, "sls_scope", None) != access.UNENROLLED:
        return None
    card = pending_card(request.user)
    if card is None or not card.applicant:
        return None
    return Standing(
        _(
            "Your account is being set up. Print your online security card and activate it: from then on your "
            "logins are protected by its codes."
        ),
        button(("settings-security-sls-online-card", _("Print your online security card"))),
    )
