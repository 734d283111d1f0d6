"""B1, B3 on PostgreSQL: concurrent requests are decided one after the other under the account's
row lock, so they cannot all squeeze under a limit that only one of them fits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from accounts import money
from accounts.models import Account, BankingInstructions, Client, Deposit, User, Withdrawal

THREADS = 6


@pytest.fixture
def holder(transactional_db, postgresql):
    person = Client.objects.create(
        first_name="Bob", last_name="Smith", email="bob@example.com", phone="1", address="x", country="US"
    )
    Account.objects.create(number="U0000001", client=person, funded_at=datetime(2025, 1, 1, tzinfo=UTC))
    BankingInstructions.objects.create(
        client=person,
        account_holder="Bob Smith",
        bank_name="Bank",
        account_number="12345678",
        routing_number="011000015",
    )
    return User.objects.create_user(username="bob", password="x", client=person)


def _race(call):
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_B1_concurrent_withdrawals_cannot_both_fit_the_day_limit(holder):
    account = holder.client.accounts.get()
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    # Unenrolled: 5,000 a day; each request is 3,000, so only one fits.
    results = _race(lambda: money.request_withdrawal(holder, account.pk, Decimal("3000"), enrolled=False, now=now))
    assert sum(isinstance(result, Withdrawal) for result in results) == 1
    assert Withdrawal.objects.count() == 1


def test_B3_concurrent_deposits_cannot_pass_the_cap_together(holder):
    account = holder.client.accounts.get()
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    results = _race(lambda: money.request_deposit(holder, account.pk, Decimal("15000"), "ach", enrolled=False, now=now))
    assert sum(isinstance(result, Deposit) for result in results) == 1
    assert Deposit.objects.count() == 1
