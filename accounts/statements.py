"""A8: an account's monthly activity statements and yearly tax forms, made
from its records (deposits, withdrawals, equity).

Pure functions of the account's timestamps and now (principle 1): which
periods have a statement, and what each holds. Months and years are the
client's, in the time zone of the country of residence. A period has a
statement once it has ended, or once the account closed within it: a
closed account's last statement runs to its closure.

The balance at an instant is the equity now, less the deposits and plus
the withdrawals recorded since that instant: the records are the demo's
requests, read as done when requested.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Min, OuterRef, Subquery, Sum

from .models import Account, Deposit, Withdrawal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Entry:
    """One record of the period, with the balance after it."""

    at: datetime
    deposit: Deposit | None = None
    withdrawal: Withdrawal | None = None
    balance: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return (self.deposit or self.withdrawal).amount_usd


@dataclass(frozen=True)
class Period:
    """A statement's period: [start, end) in the client's time zone."""

    year: int
    month: int | None  # None: the whole year (a tax form)
    start: datetime
    end: datetime


@dataclass
class Activity:
    """What a statement or tax form says of its period."""

    account: Account
    period: Period
    opening: Decimal
    closing: Decimal
    entries: list[Entry] = field(default_factory=list)

    @property
    def deposits(self) -> Decimal:
        return sum((entry.amount for entry in self.entries if entry.deposit), ZERO)

    @property
    def withdrawals(self) -> Decimal:
        return sum((entry.amount for entry in self.entries if entry.withdrawal), ZERO)

    def months(self) -> list[tuple[Period, Decimal, Decimal, Decimal]]:
        """A tax form's months: (period, deposits, withdrawals, closing balance)."""
        rows = []
        balance = self.opening
        for period in month_periods(self.period.year, self.period.start.tzinfo):
            inside = [entry for entry in self.entries if period.start <= entry.at < period.end]
            deposits = sum((entry.amount for entry in inside if entry.deposit), ZERO)
            withdrawals = sum((entry.amount for entry in inside if entry.withdrawal), ZERO)
            balance = inside[-1].balance if inside else balance
            rows.append((period, deposits, withdrawals, balance))
        return rows


def time_zone(account: Account) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(account.client.time_zone)


def month_period(year: int, month: int, tz) -> Period:
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return Period(year, month, start, end)


def year_period(year: int, tz) -> Period:
    return Period(year, None, datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz))


def month_periods(year: int, tz) -> list[Period]:
    return [month_period(year, month, tz) for month in range(1, 13)]


def _first(model) -> Subquery:
    records = model.objects.filter(account=OuterRef("pk")).order_by().values("account")
    return Subquery(records.annotate(at=Min("requested_at")).values("at"))


def with_first_records(accounts):
    """Accounts with their first deposit and withdrawal: a list in one query."""
    return accounts.annotate(first_deposit=_first(Deposit), first_withdrawal=_first(Withdrawal))


def _begins(account: Account) -> datetime | None:
    """When the account's activity begins: its funding or its first record."""
    known = [getattr(account, "first_deposit", None), getattr(account, "first_withdrawal", None), account.funded_at]
    known = [at for at in known if at is not None]
    return min(known) if known else None


def _ends(account: Account, now: datetime) -> datetime:
    """Statements cover the account until it closed, or until now."""
    return account.closed_at if account.closed_at is not None and account.closed_at <= now else now


def _has_statement(account: Account, period: Period, now: datetime) -> bool:
    closed = account.closed_at is not None and account.closed_at <= now
    return period.end <= now or (closed and period.start <= account.closed_at)


def statement_months(account: Account, now: datetime) -> list[Period]:
    """The months that have a statement, newest first."""
    begins = _begins(account)
    if begins is None:
        return []
    tz = time_zone(account)
    first, last = begins.astimezone(tz), _ends(account, now).astimezone(tz)
    periods = []
    year, month = last.year, last.month
    while (year, month) >= (first.year, first.month):
        period = month_period(year, month, tz)
        if _has_statement(account, period, now):
            periods.append(period)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods


def tax_years(account: Account, now: datetime) -> list[Period]:
    """The years that have a tax form, newest first."""
    begins = _begins(account)
    if begins is None:
        return []
    tz = time_zone(account)
    first, last = begins.astimezone(tz).year, _ends(account, now).astimezone(tz).year
    periods = [year_period(year, tz) for year in range(last, first - 1, -1)]
    return [period for period in periods if _has_statement(account, period, now)]


def find_period(account: Account, now: datetime, year: int, month: int | None) -> Period | None:
    """The period asked for, if it has a statement (a tax form when month is None)."""
    periods = tax_years(account, now) if month is None else statement_months(account, now)
    return next((p for p in periods if p.year == year and p.month == month), None)


def _sum_since(queryset, since: datetime) -> Decimal:
    return queryset.filter(requested_at__gte=since).aggregate(total=Sum("amount_usd"))["total"] or ZERO


def activity(account: Account, period: Period) -> Activity:
    """The period's records in order, with the balances around them."""
    deposits = Deposit.objects.filter(account=account)
    withdrawals = Withdrawal.objects.filter(account=account)
    closing = account.equity_usd - _sum_since(deposits, period.end) + _sum_since(withdrawals, period.end)
    inside = [
        (deposit.requested_at, deposit.pk, deposit, None)
        for deposit in deposits.filter(requested_at__gte=period.start, requested_at__lt=period.end)
    ] + [
        (withdrawal.requested_at, withdrawal.pk, None, withdrawal)
        for withdrawal in withdrawals.filter(
            requested_at__gte=period.start, requested_at__lt=period.end
        ).select_related("destination")
    ]
    inside.sort(key=lambda row: (row[0], row[2] is None, row[1]))
    opening = (
        closing
        - sum((row[2].amount_usd for row in inside if row[2]), ZERO)
        + sum((row[3].amount_usd for row in inside if row[3]), ZERO)
    )
    entries, balance = [], opening
    for at, _pk, deposit, withdrawal in inside:
        balance = balance + deposit.amount_usd if deposit else balance - withdrawal.amount_usd
        entries.append(Entry(at=at, deposit=deposit, withdrawal=withdrawal, balance=balance))
    return Activity(account=account, period=period, opening=opening, closing=closing, entries=entries)
