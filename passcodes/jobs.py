"""J1: persist the interim credentials' transitions and send their notices.

Nothing here decides access (J2): the login and every request compute the
phase from the timestamps (passcodes/windows.py, the models' `window`).
The job writes down what those say, so that agents' lists filter on a
column and each client is told once:

1. a temporary passcode's full window ended (phase full -> restricted) and
   its restricted window ended (-> expired), each with a notice;
2. an online card's expiry approaching (the warning) and reached
   (phase full -> expired), each with a notice;
3. interim credentials ended early (a new passcode, the card activated, the
   device reactivated) are recorded as ended, without a notice (each of
   those had its own message at the time).

Set-based and safe on several workers (ARCHITECTURE.md principle 5): each
step claims a batch with SELECT .. FOR UPDATE SKIP LOCKED in one statement,
moves it with one conditional UPDATE (`WHERE phase = old`), and queues its
notices with one INSERT .. ON CONFLICT DO NOTHING on the outbox's unique
(event, object) key; the devices' outbox job sends them. A batch costs the
same few statements whatever its size.

The card's expiry is a SQL expression here (`_card_expiry`), the twin of
OnlineCard.window (C5, C6): tests check that both agree at every boundary.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from accounts.models import Account
from devices.models import DeviceStatus, Notice, SecurityDevice

from .models import OnlineCard, TemporaryPasscode
from .windows import Phase

PASSCODE_RESTRICTED = "passcode.restricted"
PASSCODE_EXPIRED = "passcode.expired"
CARD_WARNING = "card.expiry_warning"
CARD_EXPIRED = "card.expired"


def _move(queryset: QuerySet, *, to: str, event: str | None, now: datetime, batch_size: int) -> int:
    """Claim due rows batch by batch, move them to phase `to`, queue a notice each."""
    moved = 0
    while True:
        with transaction.atomic():
            claimed = list(queryset.select_for_update(skip_locked=True).values_list("pk", "client_id")[:batch_size])
            if claimed:
                ids = [pk for pk, _client in claimed]
                moved += queryset.model.objects.filter(pk__in=ids).exclude(phase=to).update(phase=to)
                if event is not None:
                    _queue(event, queryset.model, claimed, now)
        if len(claimed) < batch_size:
            return moved


def _queue(event: str, model, claimed: list[tuple[int, int]], now: datetime) -> None:
    prefix = "passcode" if model is TemporaryPasscode else "card"
    Notice.objects.bulk_create(
        [Notice(event=event, object_key=f"{prefix}:{pk}", client_id=client, created_at=now) for pk, client in claimed],
        ignore_conflicts=True,
    )


# --- Temporary passcodes (A2, A3, A7) ---------------------------------------------


def passcodes_due(now: datetime, phase_from: tuple[str, ...], window_end) -> QuerySet:
    return TemporaryPasscode.objects.filter(
        phase__in=phase_from, ended_at__isnull=True, issued_at__lte=now - window_end
    ).order_by("issued_at", "pk")


def sweep_passcodes(now: datetime, batch_size: int) -> dict[str, int]:
    full = settings.SLS["PASSCODE_FULL_ACCESS"]
    twelve = full + settings.SLS["PASSCODE_RESTRICTED_ACCESS"]
    ended = TemporaryPasscode.objects.filter(
        phase__in=(Phase.FULL, Phase.RESTRICTED), ended_at__isnull=False, ended_at__lte=now
    ).order_by("pk")
    return {
        # Expired first: a passcode nobody swept for 12 days gets one notice, the last.
        "passcodes_expired": _move(
            passcodes_due(now, (Phase.FULL, Phase.RESTRICTED), twelve),
            to=Phase.EXPIRED,
            event=PASSCODE_EXPIRED,
            now=now,
            batch_size=batch_size,
        ),
        "passcodes_restricted": _move(
            passcodes_due(now, (Phase.FULL,), full),
            to=Phase.RESTRICTED,
            event=PASSCODE_RESTRICTED,
            now=now,
            batch_size=batch_size,
        ),
        "passcodes_ended": _move(ended, to=Phase.ENDED, event=None, now=now, batch_size=batch_size),
    }


# --- Online cards (A4, C5, C6) ------------------------------------------------------


def _card_expiry(now: datetime):
    """OnlineCard.window's expiry in SQL: a replacement still on its way
    (C6) or else 21 days from funding (C5, new applicants) or activation (A4)."""
    access = settings.SLS["ONLINE_CARD_ACCESS"]
    pending = Subquery(
        SecurityDevice.objects.filter(
            client_id=OuterRef("client_id"),
            status=DeviceStatus.ISSUED,
            auto_activates_at__gt=OuterRef("activated_at"),
        )
        .filter(auto_activates_at__gt=now)
        .order_by("auto_activates_at")
        .values("auto_activates_at")[:1],
        output_field=DateTimeField(),
    )
    funded = Subquery(
        Account.objects.filter(client_id=OuterRef("client_id"), funded_at__isnull=False)
        .values("client_id")
        .annotate(first=Min("funded_at"))
        .values("first")[:1],
        output_field=DateTimeField(),
    )
    return Case(
        When(Q(pending_replacement__isnull=False), then=F("pending_replacement")),
        When(applicant=True, then=ExpressionWrapper(funded + Value(access), output_field=DateTimeField())),
        default=ExpressionWrapper(F("activated_at") + Value(access), output_field=DateTimeField()),
        output_field=DateTimeField(),
    ), pending


def _superseded(now: datetime):
    """A permanent device active since the card's activation (A6, C5), by its timestamps."""
    return Exists(
        SecurityDevice.objects.filter(client_id=OuterRef("client_id")).filter(
            Q(status=DeviceStatus.ACTIVE, activated_at__gt=OuterRef("activated_at"), activated_at__lte=now)
            | Q(status=DeviceStatus.ISSUED, auto_activates_at__gt=OuterRef("activated_at"), auto_activates_at__lte=now)
        )
    )


def cards_with_expiry(now: datetime) -> QuerySet:
    """Activated, not ended cards with their expiry (`expiry`, None for an
    applicant not yet funded) and whether a device `superseded` them."""
    expiry, pending = _card_expiry(now)
    return (
        OnlineCard.objects.filter(ended_at__isnull=True, activated_at__isnull=False)
        .annotate(pending_replacement=pending)
        .annotate(expiry=expiry, superseded=_superseded(now))
    )


def sweep_cards(now: datetime, batch_size: int) -> dict[str, int]:
    cards = cards_with_expiry(now).filter(phase=Phase.FULL)
    # Cards activated since the last run: recorded as giving full access.
    activated = OnlineCard.objects.filter(
        phase=Phase.PENDING, ended_at__isnull=True, activated_at__isnull=False, activated_at__lte=now
    ).order_by("pk")
    ended = OnlineCard.objects.filter(
        phase__in=(Phase.PENDING, Phase.FULL), ended_at__isnull=False, ended_at__lte=now
    ).order_by("pk")
    counts = {
        "cards_activated": _move(activated, to=Phase.FULL, event=None, now=now, batch_size=batch_size),
        "cards_ended": _move(ended, to=Phase.ENDED, event=None, now=now, batch_size=batch_size),
        "cards_superseded": _move(
            cards.filter(superseded=True).order_by("pk"), to=Phase.ENDED, event=None, now=now, batch_size=batch_size
        ),
        "cards_expired": _move(
            cards.filter(superseded=False, expiry__lte=now).order_by("pk"),
            to=Phase.EXPIRED,
            event=CARD_EXPIRED,
            now=now,
            batch_size=batch_size,
        ),
    }
    counts["cards_warned"] = queue_card_warnings(now, batch_size)
    return counts


def queue_card_warnings(now: datetime, batch_size: int) -> int:
    """C (ours): the warning a few days before a card expires. Every run
    offers the cards in the warning period to the outbox; its unique key
    keeps one notice per card, however often this runs. Returns the cards
    offered (those already warned included)."""
    warning = settings.SLS["ONLINE_CARD_WARNING_BEFORE"]
    due = (
        cards_with_expiry(now).filter(superseded=False, expiry__gt=now, expiry__lte=Value(now + warning)).order_by("pk")
    )
    queued = 0
    last = 0
    while True:
        with transaction.atomic():
            claimed = list(due.filter(pk__gt=last).values_list("pk", "client_id")[:batch_size])
            if claimed:
                _queue(CARD_WARNING, OnlineCard, claimed, now)
                queued += len(claimed)
                last = claimed[-1][0]
        if len(claimed) < batch_size:
            return queued


def sweep(now: datetime, batch_size: int | None = None) -> dict[str, int]:
    """J1 for the interim credentials; the outbox job sends the notices."""
    batch_size = batch_size or settings.SLS["JOB_BATCH_SIZE"]
    return {**sweep_passcodes(now, batch_size), **sweep_cards(now, batch_size)}
