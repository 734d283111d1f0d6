"""Demo data for the interim states (temporary passcodes, online cards): one
client in each, with how to log in as each (seed_demo prints it).

These states are read from timestamps and now (principle 1), so a demo
database a week old would have moved on: each run puts a persona whose
state has moved back into it (a new passcode replaces the old one, a new
card or order the old ones), and leaves it alone otherwise. The passcodes
are chosen here, so that the guide can print them on every run
(passcodes.issuing.issue_demo: DEBUG only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from accounts.models import Account, Client, User
from devices import codecard, orders
from devices.flows import issue_device
from devices.models import DeviceOrder, DeviceStatus, DeviceType, OrderStatus, SecurityDevice
from passcodes.issuing import issue_demo, new_code
from passcodes.models import EndReason, OnlineCard, Phase, TemporaryPasscode

from .actions import NewVerification, record_verification

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Persona:
    username: str
    first: str
    last: str
    country: str
    equity: str
    state: str
    code: str = ""


# Demo codes follow L4 (upper-case letters and digits without look-alikes, 12 long).
PERSONAS = [
    Persona("passcode1", "Luca", "Ferrari", "IT", "6000.00", "passcode_day1", code="FULLACCESS23"),
    Persona("passcode5", "Marta", "Conti", "IT", "6000.00", "passcode_day5", code="CARDPAGES567"),
    Persona("cardactive1", "Nadia", "Weber", "DE", "7000.00", "card_active"),
    Persona("cardexpiring1", "Oscar", "Nilsson", "SE", "7000.00", "card_expiring"),
    Persona("replacement1", "Paola", "Greco", "IT", "4000.00", "replacement"),
]
# Their account numbers, apart from the other personas'.
ACCOUNT_BASE = 200


def seed(agent: User, now: datetime, *, password: str) -> None:
    for number, persona in enumerate(PERSONAS, start=ACCOUNT_BASE):
        user = _user(persona, number, now, password)
        {
            "passcode_day1": _passcode_day1,
            "passcode_day5": _passcode_day5,
            "card_active": _card_active,
            "card_expiring": _card_expiring,
            "replacement": _replacement,
        }[persona.state](persona, user, agent, now)


def _user(persona: Persona, number: int, now: datetime, password: str) -> User:
    found = User.objects.filter(username=persona.username).select_related("client").first()
    if found is not None:
        return found
    client = Client.objects.create(
        first_name=persona.first,
        last_name=persona.last,
        email=f"{persona.username}@example.com",
        phone="+1 555 0100",
        address=f"{number} Demo Street\nDemo City",
        country=persona.country,
    )
    Account.objects.create(
        number=f"U9{number:06d}", client=client, equity_usd=Decimal(persona.equity), funded_at=now - 400 * DAY
    )
    user = User.objects.create_user(username=persona.username, password=password, client=client, email=client.email)
    # The permanent device they had for a year, until the call (lost at the first passcode).
    issue_device(client, DeviceType.CODE_CARD, now=now - 365 * DAY)
    return user


def _issue(persona: Persona, user: User, agent: User, at: datetime, code: str = "") -> TemporaryPasscode:
    """A2: an agent verified the call and issued a passcode at `at` (the card is reported lost then)."""
    verification = record_verification(
        user.client, NewVerification("security_questions", f"DEMO-{user.username}"), agent=agent, now=at
    )
    code = code or new_code()  # a card persona's passcode: ended by its card (C3), told to nobody
    issued = issue_demo(
        user.client, [user], code=code, device_status=DeviceStatus.LOST, agent=agent, verification=verification, now=at
    )
    return issued.passcodes[0]


def _live_passcode(user: User) -> TemporaryPasscode | None:
    return TemporaryPasscode.objects.filter(user=user, ended_at__isnull=True).first()


def _passcode_in(persona: Persona, user: User, agent: User, now: datetime, *, age: timedelta, phase: Phase) -> None:
    """The persona's passcode, issued between `age` and `age` + 1 day ago, in `phase` now."""
    passcode = _live_passcode(user)
    if (
        passcode is not None
        and passcode.check_token(persona.code)
        and passcode.current_phase(now) == phase
        and age <= now - passcode.issued_at < age + DAY
    ):
        return
    _issue(persona, user, agent, now - age - 3 * HOUR, code=persona.code)


def _passcode_day1(persona: Persona, user: User, agent: User, now: datetime) -> None:
    _passcode_in(persona, user, agent, now, age=timedelta(0), phase=Phase.FULL)


def _passcode_day5(persona: Persona, user: User, agent: User, now: datetime) -> None:
    _passcode_in(persona, user, agent, now, age=4 * DAY, phase=Phase.RESTRICTED)


def _live_card(user: User) -> OnlineCard | None:
    return OnlineCard.objects.filter(user=user, ended_at__isnull=True).first()


def _new_card(persona: Persona, user: User, agent: User, *, activated_at: datetime) -> OnlineCard:
    """A passcode two days before, then the online card made, printed and
    activated with it (C1, C2), which ended the passcode (C3)."""
    passcode = _issue(persona, user, agent, activated_at - 2 * DAY)
    made = activated_at - HOUR
    card = OnlineCard(
        user=user,
        name="Online security code card",
        confirmed=True,
        client=user.client,
        created_at=made,
        printed_at=made,
        activated_at=activated_at,
        passcode=passcode,
    )
    card.set_seed(codecard.new_seed())
    card.save()
    TemporaryPasscode.objects.filter(pk=passcode.pk, ended_at__isnull=True).update(
        ended_at=activated_at, ended_reason=EndReason.CARD_ACTIVATED
    )
    return card


def _card_state_holds(user: User, now: datetime, *, expiring: bool) -> bool:
    card = _live_card(user)
    if card is None:
        return False
    phase, expires_at = card.window(now)
    if phase != Phase.FULL or expires_at is None:
        return False
    in_warning = expires_at - now <= settings.SLS["ONLINE_CARD_WARNING_BEFORE"]
    return in_warning == expiring


def _replace_card(persona: Persona, user: User, agent: User, now: datetime, *, activated_at: datetime) -> None:
    OnlineCard.objects.filter(user=user, ended_at__isnull=True).update(ended_at=now, ended_reason=EndReason.REVOKED)
    _new_card(persona, user, agent, activated_at=activated_at)


def _card_active(persona: Persona, user: User, agent: User, now: datetime) -> None:
    # A4: activated 3 days ago, 18 days left.
    if not _card_state_holds(user, now, expiring=False):
        _replace_card(persona, user, agent, now, activated_at=now - 3 * DAY)


def _card_expiring(persona: Persona, user: User, agent: User, now: datetime) -> None:
    # A4 and the warning before the end: activated 19 days ago, 2 days left.
    if not _card_state_holds(user, now, expiring=True):
        _replace_card(persona, user, agent, now, activated_at=now - 19 * DAY)


def _replacement(persona: Persona, user: User, agent: User, now: datetime) -> None:
    """C6: a replacement device in the post while the online card is active;
    the card runs until the device activates itself (D3)."""
    client = user.client
    order = DeviceOrder.objects.filter(client=client, cancelled_at__isnull=True).order_by("-requested_at").first()
    card = _live_card(user)
    if (
        order is not None
        and order.status(now) == OrderStatus.SHIPPED
        and card is not None
        and card.window(now)[0] == Phase.FULL
    ):
        return
    # Start the story again: the old order and its device, the old card.
    if order is not None:
        DeviceOrder.objects.filter(pk=order.pk).update(cancelled_at=now)
    SecurityDevice.objects.filter(client=client, status__in=(DeviceStatus.ISSUED, DeviceStatus.ACTIVE)).update(
        status=DeviceStatus.REVOKED, deactivated_at=now
    )
    OnlineCard.objects.filter(user=user, ended_at__isnull=True).update(ended_at=now, ended_reason=EndReason.REVOKED)
    _new_card(persona, user, agent, activated_at=now - 6 * DAY)
    placed = orders.place(client, now=now, agent=agent).order
    # Ordered 5 days ago, shipped yesterday, due in two days (D4); it
    # activates itself two days after that (D3).
    delivery = now + 2 * DAY
    DeviceOrder.objects.filter(pk=placed.pk).update(
        requested_at=now - 5 * DAY,
        finalised_at=now - 5 * DAY,
        projected_ship_at=now - DAY,
        shipped_at=now - DAY,
        projected_delivery_at=delivery,
    )
    SecurityDevice.objects.filter(pk=placed.device_id).update(
        created_at=now - 5 * DAY, auto_activates_at=delivery + settings.SLS["AUTO_ACTIVATION_AFTER_DELIVERY"]
    )


def guide(write) -> None:
    """How to log in as each interim persona."""
    write("\nClients between devices (same password):")
    for persona in PERSONAS:
        if persona.state == "passcode_day1":
            write(f"  {persona.username:<13} temporary passcode {persona.code}, day 1: full access except")
            write("                withdrawals and banking changes (step 2: type it in the temporary passcode box)")
        elif persona.state == "passcode_day5":
            write(f"  {persona.username:<13} temporary passcode {persona.code}, day 5: only the pages to print")
            write("                and activate the online card")
        elif persona.state == "card_active":
            write(f"  {persona.username:<13} online card active (18 days left). Step 2 asks two of its numbers:")
            write(f'                make demo-card CLIENT={persona.username} POSITIONS="12 187"')
        elif persona.state == "card_expiring":
            write(f"  {persona.username:<13} online card expiring in 2 days. Step 2 as above:")
            write(f'                make demo-card CLIENT={persona.username} POSITIONS="12 187"')
        else:
            order = (
                DeviceOrder.objects.filter(client__users__username=persona.username, cancelled_at__isnull=True)
                .select_related("device")
                .first()
            )
            serial = order.device.serial if order is not None and order.device is not None else "?"
            write(f"  {persona.username:<13} online card active while a replacement card is in the post")
            write(f'                (serial {serial}): make demo-card CLIENT={persona.username} POSITIONS="12 187";')
            write(f'                activate the replacement with make demo-device SERIAL={serial} QUESTION="12,187"')
