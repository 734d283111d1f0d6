"""Money movement (B1, B3): requests are recorded and shown, nothing is sent anywhere.

Each request locks its account's row (SELECT ... FOR UPDATE) before it adds
up what the account already requested, so two requests at once are decided
one after the other and cannot both fit under a limit. The sums are computed
by the database. A refusal writes no request; it is an audit event with its
rule, and its message says the rule in words and what to do instead (A9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from audit import trail

from .models import Account, BankingInstructions, Deposit, User, Withdrawal

ZERO = Decimal("0.00")


def usd(amount: Decimal) -> str:
    """An amount as the client's language writes it, with cents."""
    return number_format(amount, 2, use_l10n=True, force_grouping=True)


@dataclass(frozen=True)
class Refusal:
    """A request that was not recorded: the rule (for the audit) and the words (for the client)."""

    rule: str
    message: str


def _zero_sum(expression: str, **kwargs):
    field = DecimalField(max_digits=20, decimal_places=2)
    return Coalesce(Sum(expression, **kwargs), Value(ZERO, output_field=field), output_field=field)


@dataclass(frozen=True)
class WithdrawalRoom:
    """B1: an account's limits and what is left of them now."""

    enrolled: bool
    day_limit: Decimal
    five_days_limit: Decimal
    day_used: Decimal
    five_days_used: Decimal

    @property
    def day_left(self) -> Decimal:
        return max(ZERO, self.day_limit - self.day_used)

    @property
    def five_days_left(self) -> Decimal:
        return max(ZERO, self.five_days_limit - self.five_days_used)

    @property
    def left(self) -> Decimal:
        return min(self.day_left, self.five_days_left)


def withdrawal_limits(enrolled: bool) -> dict[str, Decimal]:
    return settings.SLS["WITHDRAWAL_LIMITS_USD"]["enrolled" if enrolled else "unenrolled"]


def withdrawal_room(account: Account, *, enrolled: bool, now: datetime) -> WithdrawalRoom:
    """B1: what the account requested in the last 24 hours and the last 5
    days (windows ending now; a request exactly 5 days old no longer counts),
    summed in one query."""
    limits = withdrawal_limits(enrolled)
    day_start = now - settings.SLS["WITHDRAWAL_DAY"]
    sums = Withdrawal.objects.filter(
        account=account, requested_at__gt=now - settings.SLS["WITHDRAWAL_FIVE_DAYS"], requested_at__lte=now
    ).aggregate(day=_zero_sum("amount_usd", filter=Q(requested_at__gt=day_start)), five=_zero_sum("amount_usd"))
    return WithdrawalRoom(enrolled, limits["day"], limits["five_days"], sums["day"], sums["five"])


def _limit_message(room: WithdrawalRoom, which: str) -> str:
    if which == "day":
        rule = _("Withdrawals from one account are limited to %(limit)s USD within 24 hours.") % {
            "limit": usd(room.day_limit)
        }
    else:
        rule = _("Withdrawals from one account are limited to %(limit)s USD within any 5 days.") % {
            "limit": usd(room.five_days_limit)
        }
    left = _("You can still withdraw %(day)s USD within these 24 hours and %(five)s USD within these 5 days.") % {
        "day": usd(room.day_left),
        "five": usd(room.five_days_left),
    }
    if room.enrolled:
        instead = _("Request a smaller amount now and the rest later.")
    else:
        instead = _("Enrolled clients have higher limits: enroll in the Secure Login System to raise yours.")
    return f"{rule} {left} {instead}"


def current_instructions(client_id: int) -> BankingInstructions | None:
    return BankingInstructions.objects.filter(client_id=client_id, replaced_at__isnull=True).first()


def _closed(account: Account) -> Refusal:
    return Refusal(
        "A8",
        _(
            "Account %(number)s is closed: no money can be moved in or out of it. Call your regional Customer "
            "Service Center if you think this is wrong."
        )
        % {"number": account.number},
    )


def _refused(action: str, refusal: Refusal, *, user: User, account: Account, amount: Decimal, request) -> Refusal:
    trail.record(
        action,
        request=request,
        client=user.client,
        username=user.username,
        outcome="refused",
        rule=refusal.rule,
        details={"account": account.number, "amount_usd": str(amount)},
    )
    return refusal


def request_withdrawal(
    user: User, account_id: int, amount: Decimal, *, enrolled: bool, now: datetime, request=None
) -> Withdrawal | Refusal:
    """B1: record a withdrawal to the banking instructions on file, if it fits both limits.

    `account_id` must be one of the user's client's accounts (the view has
    checked it; here it is checked again under the lock)."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id, client_id=user.client_id)
        if not account.is_open(now):
            return _refused(
                "withdrawal.request", _closed(account), user=user, account=account, amount=amount, request=request
            )
        destination = current_instructions(user.client_id)
        if destination is None:
            refusal = Refusal(
                "B1",
                _(
                    "Withdrawals go to the banking instructions on file, and you have none yet. Add them under "
                    "Settings, Banking instructions, then request the withdrawal."
                ),
            )
            return _refused("withdrawal.request", refusal, user=user, account=account, amount=amount, request=request)
        room = withdrawal_room(account, enrolled=enrolled, now=now)
        over = "day" if amount > room.day_left else "five_days" if amount > room.five_days_left else None
        if over:
            refusal = Refusal("B1", _limit_message(room, over))
            return _refused("withdrawal.request", refusal, user=user, account=account, amount=amount, request=request)
        withdrawal = Withdrawal.objects.create(
            account=account, amount_usd=amount, destination=destination, requested_by=user, requested_at=now
        )
        trail.record(
            "withdrawal.request",
            request=request,
            client=user.client,
            username=user.username,
            rule="B1",
            details={"account": account.number, "amount_usd": str(amount), "enrolled": enrolled},
            at=now,
        )
        return withdrawal


@dataclass(frozen=True)
class DepositRoom:
    """B3: an unenrolled account's ACH/EFT cap and what is left of it (None: no cap)."""

    cap: Decimal | None
    used: Decimal

    @property
    def left(self) -> Decimal | None:
        return None if self.cap is None else max(ZERO, self.cap - self.used)


def deposit_room(account: Account, *, enrolled: bool) -> DepositRoom:
    used = Deposit.objects.filter(account=account, method__in=[Deposit.Method.ACH, Deposit.Method.EFT]).aggregate(
        total=_zero_sum("amount_usd")
    )["total"]
    return DepositRoom(None if enrolled else settings.SLS["B3_ACH_EFT_UNENROLLED_USD"], used)


def request_deposit(
    user: User, account_id: int, amount: Decimal, method: str, *, enrolled: bool, now: datetime, request=None
) -> Deposit | Refusal:
    """B3: record an ACH/EFT deposit request; unenrolled accounts up to the initial cap in total."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id, client_id=user.client_id)
        if not account.is_open(now):
            return _refused(
                "deposit.request", _closed(account), user=user, account=account, amount=amount, request=request
            )
        room = deposit_room(account, enrolled=enrolled)
        refusal = None
        if room.cap is not None and amount > room.left:
            refusal = Refusal(
                "B3",
                _(
                    "Until you enroll in the Secure Login System, an account can receive at most %(cap)s USD in "
                    "total by ACH or EFT transfer; this account can still receive %(left)s USD that way. Enroll "
                    "in the Secure Login System to remove this limit, or fund the account by wire transfer."
                )
                % {"cap": usd(room.cap), "left": usd(room.left)},
            )
        elif amount > settings.SLS["DEPOSIT_MAX_USD"]:
            refusal = Refusal(
                "B3",
                _(
                    "One deposit request can be at most %(max)s USD. Split the deposit, or fund the account by "
                    "wire transfer."
                )
                % {"max": usd(settings.SLS["DEPOSIT_MAX_USD"])},
            )
        if refusal is not None:
            return _refused("deposit.request", refusal, user=user, account=account, amount=amount, request=request)
        deposit = Deposit.objects.create(
            account=account, amount_usd=amount, method=method, requested_by=user, requested_at=now
        )
        trail.record(
            "deposit.request",
            request=request,
            client=user.client,
            username=user.username,
            rule="B3",
            details={"account": account.number, "amount_usd": str(amount), "method": method, "enrolled": enrolled},
            at=now,
        )
        return deposit
