"""Shared guard for the demo commands (they print secrets, so never in
production), and the demo's synthetic account records."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import CommandError

from .models import Account, BankingInstructions, Deposit, Withdrawal


def require_debug() -> None:
    if not settings.DEBUG:
        raise CommandError("Demo commands print login secrets and run only with DEBUG=1.")


def add_activity(account, user, *, since, until, close_out: bool = False) -> None:
    """Synthetic records for an account's statements: an opening deposit at
    `since`, then each month a deposit on the 3rd and, every other month, a
    withdrawal on the 20th, until `until`. With close_out, a last
    withdrawal takes the whole balance out the day before `until` (an
    account about to close). The account's equity becomes the balance the
    records leave, so every balance on its statements adds up."""
    destination = BankingInstructions.objects.filter(client=account.client, replaced_at__isnull=True).first()
    if destination is None:
        destination = BankingInstructions.objects.create(
            client=account.client,
            account_holder=f"{account.client.first_name} {account.client.last_name}",
            bank_name="Demo Bank",
            iban="IT60X0542811101000000123456",
            created_at=since,
        )
    balance = Decimal("5000.00")
    Deposit.objects.create(account=account, amount_usd=balance, method="eft", requested_by=user, requested_at=since)
    year, month, index = since.year, since.month, 0
    while True:
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        index += 1
        deposit_at = since.replace(year=year, month=month, day=3)
        if deposit_at >= until - timedelta(days=1):
            break
        amount = Decimal(1000 + 250 * (index % 4))
        Deposit.objects.create(
            account=account, amount_usd=amount, method="eft", requested_by=user, requested_at=deposit_at
        )
        balance += amount
        withdrawal_at = deposit_at.replace(day=20)
        if index % 2 == 0 and withdrawal_at < until - timedelta(days=1):
            amount = Decimal(600 + 100 * (index % 3))
            Withdrawal.objects.create(
                account=account,
                amount_usd=amount,
                destination=destination,
                requested_by=user,
                requested_at=withdrawal_at,
            )
            balance -= amount
    if close_out and balance > 0:
        Withdrawal.objects.create(
            account=account,
            amount_usd=balance,
            destination=destination,
            requested_by=user,
            requested_at=until - timedelta(days=1),
        )
        balance = Decimal("0.00")
    Account.objects.filter(pk=account.pk).update(equity_usd=balance)
    account.equity_usd = balance
