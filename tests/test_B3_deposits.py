"""B3: unenrolled accounts fund by ACH/EFT only up to an initial USD 20,000 in total."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from accounts.models import Deposit
from audit.models import AuditEvent
from tests.conftest import csrf_post
from tests.test_B1_withdrawals import account_of, logged_in


def deposit(http, user, amount: str, method: str = "ach", **extra):
    return csrf_post(http, "/deposits/", {"account": account_of(user).pk, "amount": amount, "method": method}, **extra)


@pytest.mark.parametrize(
    ("amount", "recorded"), [("19999.99", True), ("20000.00", True), ("20000.01", False)], ids=["under", "at", "over"]
)
def test_B3_unenrolled_total_cap(bob, amount, recorded):
    http = logged_in(bob)
    response = deposit(http, bob, amount)
    assert (response.status_code == 302) is recorded
    assert Deposit.objects.exists() is recorded
    if not recorded:
        page = response.content.decode()
        assert response.status_code == 403 and response.sls_rule == "B3"
        assert "at most 20,000.00 USD in total by ACH or EFT" in page
        assert "wire transfer" in page and "Enroll in the Secure Login System to remove this limit" in page
        assert not re.search(r"\bB3\b", page), (
            "the rule ID is for the audit, not the page (a CSRF token may hold the letters)"
        )
        assert AuditEvent.objects.filter(action="deposit.request", outcome="refused", rule="B3").exists()


def test_B3_ach_and_eft_add_up(bob):
    http = logged_in(bob)
    assert deposit(http, bob, "15000", "ach").status_code == 302
    assert deposit(http, bob, "5000", "eft").status_code == 302
    refused = deposit(http, bob, "0.01", "eft")
    assert refused.status_code == 403
    assert "can still receive 0.00 USD" in refused.content.decode()
    assert Deposit.objects.count() == 2


def test_B3_enrolled_has_no_cap_but_a_sane_bound(alice):
    http = logged_in(alice)
    assert deposit(http, alice, "50000.00").status_code == 302
    assert deposit(http, alice, "10000000.00").status_code == 302
    response = deposit(http, alice, "10000000.01")
    assert response.status_code == 403 and "at most 10,000,000.00 USD" in response.content.decode()
    assert Deposit.objects.filter(account__client=alice.client).count() == 2


@pytest.mark.parametrize(
    ("amount", "method"), [("-1", "ach"), ("0", "ach"), ("1e30", "ach"), ("1.234", "eft"), ("10", "wire"), ("10", "")]
)
def test_B3_bad_input_is_400_and_nothing_written(bob, amount, method):
    response = deposit(logged_in(bob), bob, amount, method)
    assert response.status_code == 400
    assert not Deposit.objects.exists()


def test_SEC17_deposit_to_another_clients_account_is_404(alice, charlie):
    response = csrf_post(
        logged_in(alice), "/deposits/", {"account": account_of(charlie).pk, "amount": "1", "method": "ach"}
    )
    assert response.status_code == 404
    assert not Deposit.objects.exists()


def test_SEC16_deposit_without_csrf_token_is_refused(bob):
    http = logged_in(bob)
    assert http.post("/deposits/", {"account": account_of(bob).pk, "amount": "1", "method": "ach"}).status_code == 403
    assert not Deposit.objects.exists()


def test_B3_page_shows_what_is_left(bob):
    http = logged_in(bob)
    deposit(http, bob, "1500.50")
    page = http.get("/deposits/").content.decode()
    assert "18,499.50 USD left of 20,000.00 USD" in page
    assert Deposit.objects.get().amount_usd == Decimal("1500.50")


def test_B3_italian_page(bob):
    http = logged_in(bob, HTTP_ACCEPT_LANGUAGE="it")
    response = deposit(http, bob, "25000", HTTP_ACCEPT_LANGUAGE="it")
    page = response.content.decode()
    assert response.status_code == 403
    assert "20.000,00 USD" in page and "bonifico" in page
