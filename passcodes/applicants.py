"""New applicants (C5): a username and an online card from the first day.

    open_account(...)              -> Opened: a new client, username, account and card
    open_account_for(client, ...)  -> Opened: the same for a client already on file
    fund_account(account, ...)     -> Funded: the first funding, and the device's order

The applicant gets an e-mail (through the devices' outbox) with a link to
choose a password and the steps to log in, print the online card and
activate it. The card's window (passcodes/windows.py) needs nothing from
here: until the account is funded it has no end; funding starts its 21
days (C5) and orders the permanent device (D8, D6), whose auto-activation
(D3), or activation on the R1 page, ends the card (the devices_activated
signal, C5, A6).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import Account, Client, IdentityVerification, User
from audit import trail
from devices import orders
from devices.jobs import send_soon
from devices.models import DeviceStatus, Notice, SecurityDevice

from .cards import new_card
from .models import OnlineCard

OPENED = "account.opened"
FUNDED = "account.funded"
# The applicant's e-mail: choose a password, log in, print and activate the card.
INVITED = "online_card.applicant_invited"


class OpeningRefused(Exception):
    """The account cannot be opened so; the message says what to change."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Opened:
    client: Client
    user: User
    account: Account
    card: OnlineCard


@dataclass(frozen=True)
class Funded:
    account: Account
    # The permanent device's order, when funding placed one (C5, D8).
    order: object | None = None
    already: bool = False


def check_username(username: str) -> str:
    """L1: lower-case letters and digits, not taken. Raises OpeningRefused."""
    username = (username or "").strip()
    if not username:
        raise OpeningRefused(_("Choose a username for the client."), field="username")
    if len(username) > settings.SLS["USERNAME_MAX_LENGTH"]:
        raise OpeningRefused(
            _("A username has at most %(length)d characters.") % {"length": settings.SLS["USERNAME_MAX_LENGTH"]},
            field="username",
        )
    try:
        User._meta.get_field("username").run_validators(username)
    except ValidationError as error:
        raise OpeningRefused(error.messages[0], field="username") from None
    if User.objects.filter(username=username).exists():
        raise OpeningRefused(_("That username is taken."), field="username")
    return username


def _account_number(client: Client) -> str:
    candidate = f"U{client.pk:07d}"
    while Account.objects.filter(number=candidate).exists():
        candidate = f"U{secrets.randbelow(10**9):09d}"
    return candidate


def open_account(
    *,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    address: str,
    country: str,
    username: str,
    now: datetime,
    agent: User | None = None,
    request=None,
) -> Opened:
    """C5: a new client on file with a username, an unfunded account and an
    online card to print and activate. Nothing is written if any part is wrong."""
    username = check_username(username)
    client = Client(
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        email=(email or "").strip(),
        phone=(phone or "").strip(),
        address=(address or "").strip(),
        country=(country or "").strip().upper(),
        created_at=now,
    )
    try:
        client.full_clean(exclude=["language"])
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise OpeningRefused(f"{field}: {messages[0]}", field=field) from None
    with transaction.atomic():
        client.save()
        return _open(client, username, now=now, agent=agent, verification=None, request=request)


def open_account_for(
    client: Client,
    *,
    username: str,
    now: datetime,
    agent: User,
    verification: IdentityVerification,
    request=None,
) -> Opened:
    """C5: an agent opens the account of a client on file who has no login yet."""
    username = check_username(username)
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if User.objects.filter(client=client).exists():
            raise OpeningRefused(
                _("This client already has a username: a new applicant has none. Use the existing login."),
            )
        return _open(client, username, now=now, agent=agent, verification=verification, request=request)


def _open(client, username, *, now, agent, verification, request) -> Opened:
    account = Account.objects.create(number=_account_number(client), client=client, equity_usd=Decimal("0"))
    # No password yet: the applicant chooses it through the e-mail's link.
    user = User.objects.create_user(username=username, password=None, client=client, email=client.email)
    card = new_card(user, passcode=None, applicant=True, now=now)
    card.save()
    trail.record(
        OPENED,
        request=request,
        actor=agent,
        client=client,
        username=username,
        verification=verification,
        rule="C5",
        details={"account": account.number, "online_card": card.pk},
        at=now,
    )
    Notice.objects.create(event=INVITED, object_key=f"card:{card.pk}", client=client, created_at=now)
    send_soon()
    return Opened(client=client, user=user, account=account, card=card)


class FundingRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _orders_device(client: Client, now: datetime) -> bool:
    """C5: funding orders the device of a new applicant (a client with an
    applicant card and no device yet, ordered or in use)."""
    if not OnlineCard.objects.filter(client=client, applicant=True, ended_at__isnull=True).exists():
        return False
    if SecurityDevice.objects.filter(client=client, status__in=(DeviceStatus.ACTIVE, DeviceStatus.ISSUED)).exists():
        return False
    return orders.open_order(client, now) is None


def fund_account(
    account: Account,
    equity_usd: Decimal,
    *,
    now: datetime,
    agent: User | None = None,
    request=None,
) -> Funded:
    """The account's first funding: from now on it is funded (D8), the new
    applicant's card runs 21 days more (C5), and the permanent device is
    ordered for the equity (D6). Funding an account funded already changes
    nothing (its first funding keeps counting)."""
    if equity_usd is None or equity_usd <= 0:
        raise FundingRefused(_("Give the amount the account was funded with, in USD."))
    with transaction.atomic():
        account = Account.objects.select_for_update().select_related("client").get(pk=account.pk)
        if not account.is_open(now):
            raise FundingRefused(_("This account is closed: it cannot be funded."))
        if account.funded_at is not None:
            return Funded(account=account, already=True)
        Account.objects.filter(pk=account.pk).filter(Q(funded_at__isnull=True)).update(
            funded_at=now, equity_usd=equity_usd
        )
        account.funded_at, account.equity_usd = now, equity_usd
        trail.record(
            FUNDED,
            request=request,
            actor=agent,
            client=account.client,
            rule="C5",
            details={"account": account.number, "equity_usd": str(equity_usd)},
            at=now,
        )
        order = None
        if _orders_device(account.client, now):
            order = orders.place(account.client, now=now, agent=agent, request=request).order
    return Funded(account=account, order=order)
