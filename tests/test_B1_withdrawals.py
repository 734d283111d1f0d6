"""B1 (and A5, A9, SECURITY.md 16-17): withdrawal requests within the day and 5-day limits."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client as HttpClient
from django.test import RequestFactory

from accounts import access, money
from accounts.models import Account, BankingInstructions, Withdrawal
from audit.models import AuditEvent
from tests.conftest import csrf_post, login_fully

IBAN = "IT60X0542811101000000123456"


def on_file(user) -> BankingInstructions:
    return BankingInstructions.objects.create(
        client=user.client, account_holder=str(user.client), bank_name="Banca Esempio", iban=IBAN
    )


def logged_in(user, **extra) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True, **extra)
    login_fully(http, user)
    return http


def account_of(user) -> Account:
    return user.client.accounts.get()


def withdraw(http, user, amount: str, **extra):
    return csrf_post(http, "/withdrawals/", {"account": account_of(user).pk, "amount": amount}, **extra)


@pytest.fixture
def alice_web(alice):
    on_file(alice)
    return logged_in(alice)


@pytest.fixture
def bob_web(bob):
    on_file(bob)
    return logged_in(bob)


@pytest.mark.parametrize(
    ("amount", "recorded"), [("49999.99", True), ("50000.00", True), ("50000.01", False)], ids=["under", "at", "over"]
)
def test_B1_enrolled_day_limit(alice, alice_web, amount, recorded):
    response = withdraw(alice_web, alice, amount)
    assert (response.status_code == 302) is recorded
    assert Withdrawal.objects.filter(account__client=alice.client).exists() is recorded
    if not recorded:
        page = response.content.decode()
        assert response.status_code == 403 and response.sls_rule == "B1"
        assert "limited to 50,000.00 USD within 24 hours" in page
        assert (
            "You can still withdraw 50,000.00 USD within these 24 hours and 150,000.00 USD within these 5 days" in page
        )
        # A9: the rule ID goes to the audit, never to the client's page.
        assert not re.search(r"\bB1\b", page), "the rule ID is for the audit, not the page"
        assert AuditEvent.objects.filter(action="withdrawal.request", outcome="refused", rule="B1").exists()


@pytest.mark.parametrize(
    ("amount", "recorded"), [("4999.99", True), ("5000.00", True), ("5000.01", False)], ids=["under", "at", "over"]
)
def test_B1_unenrolled_day_limit_says_enroll(bob, bob_web, amount, recorded):
    response = withdraw(bob_web, bob, amount)
    assert (response.status_code == 302) is recorded
    if not recorded:
        page = response.content.decode()
        assert "limited to 5,000.00 USD within 24 hours" in page
        assert "enroll in the Secure Login System to raise yours" in page
        assert not Withdrawal.objects.exists()


def test_B1_recorded_request_is_listed_and_audited(alice, alice_web):
    response = withdraw(alice_web, alice, "1234.5")
    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.amount_usd == Decimal("1234.50")
    assert withdrawal.destination.iban == IBAN
    page = alice_web.get("/withdrawals/").content.decode()
    assert "1,234.50" in page and "••••3456" in page and IBAN not in page
    assert AuditEvent.objects.filter(action="withdrawal.request", outcome="ok", rule="B1").count() == 1


def _service(user, amount, now, *, enrolled):
    return money.request_withdrawal(user, account_of(user).pk, Decimal(amount), enrolled=enrolled, now=now)


@pytest.mark.parametrize(
    ("used", "amount", "recorded"),
    [("145000.00", "4999.99", True), ("145000.00", "5000.00", True), ("145000.00", "5000.01", False)],
    ids=["under", "at", "over"],
)
def test_B1_enrolled_five_day_limit(alice, clock, used, amount, recorded):
    on_file(alice)
    from django.utils import timezone

    start = timezone.now()
    # Three earlier days: 50,000 + 50,000 + 45,000 (each within its day's limit).
    for days, part in ((0, "50000.00"), (1, "50000.00"), (2, "45000.00")):
        assert isinstance(_service(alice, part, start + timedelta(days=days), enrolled=True), Withdrawal)
    result = _service(alice, amount, start + timedelta(days=3), enrolled=True)
    assert isinstance(result, Withdrawal) is recorded
    if not recorded:
        assert result.rule == "B1" and "within any 5 days" in result.message


def test_B1_day_window_one_second_before_and_after(bob, clock):
    on_file(bob)
    assert isinstance(_service(bob, "5000.00", _now(), enrolled=False), Withdrawal)
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    refused = _service(bob, "0.01", _now(), enrolled=False)
    assert isinstance(refused, money.Refusal) and "within 24 hours" in refused.message
    clock.shift(timedelta(seconds=2))
    assert isinstance(_service(bob, "0.01", _now(), enrolled=False), Withdrawal)


def test_B1_five_day_window_one_second_before_and_after(bob, clock):
    on_file(bob)
    start = _now()
    assert isinstance(_service(bob, "5000.00", start, enrolled=False), Withdrawal)
    assert isinstance(_service(bob, "5000.00", start + timedelta(days=1), enrolled=False), Withdrawal)
    clock.shift(timedelta(days=5) - timedelta(seconds=1))
    refused = _service(bob, "0.01", _now(), enrolled=False)
    assert isinstance(refused, money.Refusal) and "within any 5 days" in refused.message
    assert (
        "You can still withdraw 5,000.00 USD within these 24 hours and 0.00 USD within these 5 days" in refused.message
    )
    clock.shift(timedelta(seconds=2))
    assert isinstance(_service(bob, "5000.00", _now(), enrolled=False), Withdrawal)
    assert Withdrawal.objects.count() == 3


def _now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("-5", "more than zero"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("1e30", "That is not an amount"),
        ("1" + "0" * 30, "too large"),
        ("10.001", "at most 2 decimals"),
        ("abc", "That is not an amount"),
        ("NaN", "That is not an amount"),
        ("Infinity", "That is not an amount"),
        ("", "Enter the amount"),
        ("1" * 60, "That is not an amount"),
        ("12\x0034", "Null characters are not allowed"),
        ("١٢٣", "That is not an amount"),
    ],
)
def test_B1_bad_amounts_are_named_and_nothing_is_written(alice, alice_web, amount, says):
    response = withdraw(alice_web, alice, amount)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_B1_comma_decimals_are_accepted(alice, alice_web):
    assert withdraw(alice_web, alice, "10,50").status_code == 302
    assert Withdrawal.objects.get().amount_usd == Decimal("10.50")


def test_SEC17_another_clients_account_is_404_and_nothing_written(alice, alice_web, charlie):
    response = csrf_post(alice_web, "/withdrawals/", {"account": account_of(charlie).pk, "amount": "10"})
    assert response.status_code == 404
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize("account", ["x", "99999999999999999999999", "-1", "1.5", ""])
def test_B1_malformed_account_ids_are_400(alice_web, account):
    response = csrf_post(alice_web, "/withdrawals/", {"account": account, "amount": "10"})
    assert response.status_code == 400
    assert "Choose one of your" in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_SEC17_another_clients_withdrawal_is_404(alice, alice_web, charlie):
    on_file(charlie)
    theirs = _service(charlie, "10", _now(), enrolled=True)
    assert alice_web.get(f"/withdrawals/{theirs.pk}/").status_code == 404
    assert alice_web.get("/withdrawals/99999999999999999999/").status_code == 404
    mine = _service(alice, "10", _now(), enrolled=True)
    assert alice_web.get(f"/withdrawals/{mine.pk}/").status_code == 200


def test_SEC16_withdrawal_without_csrf_token_is_refused(alice, alice_web):
    response = alice_web.post("/withdrawals/", {"account": account_of(alice).pk, "amount": "10"})
    assert response.status_code == 403
    assert not Withdrawal.objects.exists()


def test_B1_no_banking_instructions_says_what_to_do(alice):
    http = logged_in(alice)
    assert "you have none yet" in http.get("/withdrawals/").content.decode()
    response = withdraw(http, alice, "10")
    assert response.status_code == 403 and response.sls_rule == "B1"
    assert "Banking instructions" in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_B1_closed_account_is_not_offered(client_factory, agent):
    from datetime import UTC, datetime

    from django.utils import timezone

    from devices.flows import issue_code_card

    person = client_factory("Dora", "Closed", "IT", username="dora", closed_at=datetime(2025, 6, 1, tzinfo=UTC))
    issue_code_card(person, agent=agent, now=timezone.now())
    from accounts.models import User

    dora = User.objects.get(username="dora")
    closed = account_of(dora)
    Account.objects.create(number="U6000002", client=person, equity_usd="100.00", funded_at=closed.funded_at)
    on_file(dora)
    http = logged_in(dora)
    # Her other account is open (all closed: statements only, A8).
    response = csrf_post(http, "/withdrawals/", {"account": closed.pk, "amount": "10"})
    assert response.status_code == 400 and "Choose one of your open accounts" in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_A5_only_the_allowed_scopes_reach_the_money_pages(bob):
    """A5: the check is an allow-list (FULL, UNENROLLED); any other scope, such as
    the temporary passcode's when it comes, is refused with the rule in words."""
    from accounts.views import withdrawals_view

    request = RequestFactory().get("/withdrawals/")
    request.user = bob
    request.sls_scope = "temporary_passcode"
    request.session = {}
    response = withdrawals_view(request)
    assert response.status_code == 403 and response.sls_rule == "A5"
    assert "not available with a temporary passcode alone" in response.content.decode()
    assert access.MONEY_SCOPES == (access.FULL, access.UNENROLLED)


def test_B1_dashboard_shows_the_limits(alice, bob):
    page = logged_in(alice).get("/").content.decode()
    assert "up to 50,000.00 USD within 24 hours and 150,000.00 USD within any 5 days" in page
    assert "Enroll in the Secure Login System to raise them" not in page
    page = logged_in(bob).get("/").content.decode()
    assert "up to 5,000.00 USD within 24 hours and 10,000.00 USD within any 5 days" in page
    assert "up to 20,000.00 USD in total" in page
    assert "Enroll in the Secure Login System to raise them" in page
    for path in ("/withdrawals/", "/deposits/", "/settings/banking/", "/settings/email/"):
        assert f'href="{path}"' in page


def test_B1_italian_pages(bob):
    on_file(bob)
    http = logged_in(bob, HTTP_ACCEPT_LANGUAGE="it")
    page = http.get("/withdrawals/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Prelievi" in page and "Entro 24 ore" in page
    response = csrf_post(
        http, "/withdrawals/", {"account": account_of(bob).pk, "amount": "6000"}, HTTP_ACCEPT_LANGUAGE="it"
    )
    page = response.content.decode()
    assert response.status_code == 403
    assert "5.000,00 USD" in page and "Sistema di login sicuro" in page
    response = csrf_post(
        http, "/withdrawals/", {"account": account_of(bob).pk, "amount": "-1"}, HTTP_ACCEPT_LANGUAGE="it"
    )
    assert "maggiore di zero" in response.content.decode()
