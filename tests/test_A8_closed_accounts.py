"""A8: a closed account logs in for its statements and tax forms, and for
nothing else; agents close accounts; the statements are PDFs of the
account's records."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client as HttpClient
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from pypdf import PdfReader

from accounts import access
from accounts.closure import ClosureRefused
from accounts.demo import add_activity
from accounts.models import Account, IdentityVerification, User, Withdrawal, all_accounts_closed
from accounts.signals import account_closed
from audit.models import AuditEvent
from devices.models import DeviceStatus, SecurityDevice
from login import statements as login_statements
from login.models import PendingLogin
from tests.conftest import (
    NOT_VERIFIED,
    VERIFIED,
    card_codes_for,
    csrf_post,
    log_in_step_one,
    login_fully,
    pending_positions,
)
from tests.test_A9_client_pages import assert_clean, visible_text

pytestmark = pytest.mark.django_db

CLOSED_AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
FUNDED_AT = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
A8_MESSAGE = "Your account is closed: you can still view and print its statements and tax forms."


def _closed_client(client_factory, agent, *, device: str | None = "returned") -> User:
    """Carla's only account closed in June; her code card came back
    (device="returned"), she never had one (None), or she still has it ("active")."""
    from devices.flows import issue_code_card

    person = client_factory("Carla", "Chiusi", "IT", username="closed1", funded_at=FUNDED_AT, account_number="U1000001")
    user = User.objects.get(username="closed1")
    account = person.accounts.get()
    add_activity(account, user, since=FUNDED_AT, until=CLOSED_AT, close_out=True)
    if device is not None:
        card = issue_code_card(person, agent=agent, now=FUNDED_AT)
        if device == "returned":
            SecurityDevice.objects.filter(pk=card.pk).update(status=DeviceStatus.RETURNED, deactivated_at=CLOSED_AT)
    Account.objects.filter(pk=account.pk).update(closed_at=CLOSED_AT, closure_reason="Asked by the client.")
    return user


@pytest.fixture
def closed(client_factory, agent) -> User:
    return _closed_client(client_factory, agent)


def _statements_session(user: User) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    response = login_fully(http, user)
    assert response.status_code == 302 and response.url == "/statements/", response.content[:300]
    return http


def _close_url(account: Account) -> str:
    return f"/admin/accounts/account/{account.pk}/close/"


# --- Logging in ----------------------------------------------------------------------


@pytest.mark.parametrize("device", ["returned", None], ids=["device-returned", "never-a-device"])
def test_A8_closed_account_logs_in_with_the_password_alone_and_lands_on_statements(
    web, client_factory, agent, clock, device
):
    user = _closed_client(client_factory, agent, device=device)
    response = log_in_step_one(web, "closed1")
    assert response.status_code == 302 and response.url == "/statements/"
    assert not PendingLogin.objects.exists(), "no second factor is asked"
    login = AuditEvent.objects.get(action="login", username="closed1")
    assert login.details["scope"] == access.STATEMENTS_ONLY
    page = web.get("/statements/")
    assert page.status_code == 200 and page.wsgi_request.sls_scope == access.STATEMENTS_ONLY
    assert "Tax form 2025" in page.content.decode()
    # Logged in, the login page sends the session back to its statements.
    assert web.get("/login/").url == "/statements/"
    assert user.client.accounts.get().closure_reason


def test_A8_closed_account_whose_device_was_not_returned_still_needs_it(web, client_factory, agent, clock):
    """Step 2 asks for the device kept after the closure; the login then
    reaches only the statements (the Returns page says a charge applies)."""
    user = _closed_client(client_factory, agent, device="active")
    first = log_in_step_one(web, "closed1")
    assert first.status_code == 302 and first.url == "/login/code/"
    codes = card_codes_for(user, pending_positions(web))
    second = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert second.status_code == 302 and second.url == "/statements/"
    assert AuditEvent.objects.get(action="login", username="closed1").details["scope"] == access.STATEMENTS_ONLY
    assert web.get("/statements/").status_code == 200
    refused = web.get("/")
    assert refused.status_code == 403 and A8_MESSAGE in refused.content.decode()
    assert refused.sls_rule == "A8"


def test_A8_a_closure_narrows_an_open_session_at_its_next_request(alice, desk, clock):
    """Principle 2: closed during the session, the next page is refused, no job needed."""
    http = HttpClient(enforce_csrf_checks=True)
    login_fully(http, alice)
    assert http.get("/").status_code == 200
    account = alice.client.accounts.get()
    assert csrf_post(desk, _close_url(account), {**VERIFIED, "reason": "Client moved abroad."}).status_code == 302
    refused = http.get("/")
    assert refused.status_code == 403 and A8_MESSAGE in refused.content.decode()
    assert http.get("/statements/").status_code == 200


def test_A8_one_open_account_keeps_the_full_portal(web, alice, clock):
    """A8 is about a client whose accounts are all closed."""
    Account.objects.create(number="U7777777", client=alice.client, closed_at=CLOSED_AT, funded_at=FUNDED_AT)
    login_fully(web, alice)
    page = web.get("/")
    assert page.status_code == 200 and page.wsgi_request.sls_scope == access.FULL
    listing = web.get("/statements/").content.decode()
    assert "Account U7777777" in listing and f"Account {alice.client.accounts.first().number}" in listing


# --- A8 allows exactly the statements pages --------------------------------------------

# Served to a closed account: its statements, and the pages anyone may see.
A8_PAGES = {
    "statements",
    "statement-pdf",
    "tax-form-pdf",
    "help",
    "help-contact",
    "logout",
    "login-forgot",
    # T6: a closed account sees its returns and what it is charged.
    "returns",
}
# Pages of the login itself, each answering a logged-in session its own way.
LOGIN_PAGES = {"login", "login-code", "password-reset-confirm", "password-reset-complete", "set_language"}
SKIPPED_PREFIXES = ("admin/", "api/", "static/")


def _url_names(patterns=None, prefix: str = "") -> dict[str, str]:
    """Every URL name of the URLconf with its route, outside the admin, the API and static files."""
    names: dict[str, str] = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            for name, inner in _url_names(entry.url_patterns, route).items():
                names.setdefault(name, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.setdefault(entry.name, route)
    return names


def _arguments(user: User) -> dict[str, list]:
    """What the routes with arguments are filled with: the closed client's own objects."""
    user.refresh_from_db()  # the login changed last_login, which a reset link's token holds
    number = user.client.accounts.get().number
    return {
        "statement-pdf": [number, 2026, 3],
        "tax-form-pdf": [number, 2025],
        "withdrawal-detail": [Withdrawal.objects.filter(account__client=user.client).first().pk],
        "password-reset-confirm": [
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    }


def test_A8_allows_exactly_the_statements_pages(closed, clock):
    http = _statements_session(closed)
    arguments = _arguments(closed)
    names = _url_names()
    assert {"dashboard", "withdrawals", "settings-security-sls", "statements"} <= names.keys(), names
    refused, unfilled = [], set()
    for name in sorted(names.keys() - {"set_language"}):
        try:
            url = reverse(name, args=arguments.get(name, []))
        except NoReverseMatch:
            # A route with arguments this test cannot fill (give them in
            # _arguments to have it checked).
            unfilled.add(name)
            continue
        response = http.get(url)
        if response.status_code == 405:  # a form's POST-only step: posted empty, with its CSRF token
            response = csrf_post(http, url, {})
        if name in A8_PAGES:
            assert response.status_code == 200, f"{name} {url}: {response.status_code}"
        elif name == "login":
            assert response.status_code == 302 and response.url == "/statements/"
        elif name == "login-code":
            assert response.status_code == 401  # no login is pending: nothing to answer
        elif name == "password-reset-confirm":
            assert response.status_code == 302  # Django's step to the form of the link
        elif name == "password-reset-complete":
            assert response.status_code == 200  # "your password was set": static
        else:
            if response.status_code == 200:
                pytest.fail(f"{name} {url} answers a closed account: if A8 allows it, add it to A8_PAGES")
            assert response.status_code == 403, f"{name} {url}: {response.status_code}"
            assert response.sls_rule == "A8", name
            assert A8_MESSAGE in visible_text(response.content), name
            assert 'class="button" href="/statements/"' in response.content.decode(), f"{name}: the next step"
            refused.append(name)
        if response["Content-Type"].startswith("text/html"):
            assert_clean(response, name)
    # The language switch (a POST) answers every page, this one too.
    switched = csrf_post(http, reverse("set_language"), {"language": "it", "next": "/statements/"})
    assert switched.status_code == 302 and switched.url == "/statements/"
    assert http.get("/statements/").status_code == 200
    assert {"dashboard", "withdrawals", "deposits", "settings-security-sls", "settings-banking"} <= set(refused)
    assert set(names) - A8_PAGES - LOGIN_PAGES - unfilled == set(refused)


def test_A8_refusals_say_the_rule_in_words_and_never_its_id(closed, clock):
    http = _statements_session(closed)
    for path in ("/", "/withdrawals/", "/settings/security/sls/", "/settings/security/sls/activate/"):
        response = http.get(path)
        assert response.status_code == 403
        assert_clean(response, path, status_below=404)
        assert not re.search(r"\bA8\b", visible_text(response.content))


# --- Agents close accounts ----------------------------------------------------------


@pytest.fixture
def received():
    """The account_closed signal's calls."""
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    account_closed.connect(receiver)
    yield calls
    account_closed.disconnect(receiver)


def test_A8_an_agent_closes_an_account_audited(desk, agent, bob, clock, received):
    account = bob.client.accounts.get()
    assert f'href="{_close_url(account)}"' in desk.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    page = desk.get(_close_url(account))
    assert page.status_code == 200 and "last open account" in page.content.decode()
    response = csrf_post(desk, _close_url(account), {**VERIFIED, "reason": "The client asked to close it."})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.closed_at == timezone.now() and account.closure_reason == "The client asked to close it."
    assert account.closed_by == agent and account.closure_verification is not None
    event = AuditEvent.objects.get(action="account.closed")
    assert (event.rule, event.actor, event.client_id) == ("A8", agent, bob.client_id)
    assert event.verification == account.closure_verification
    assert event.details == {
        "account": account.number,
        "reason": "The client asked to close it.",
        "client_closed": True,
    }
    # The signal the returns app connects to: in the closure's transaction.
    assert len(received) == 1 and received[0]["client_closed"] is True and received[0]["account"].pk == account.pk
    # The client's timeline and the account's history show it; the closed
    # account's page offers no second closure, and the list filters closures.
    assert "account.closed" in desk.get(f"/admin/accounts/client/{bob.client_id}/history/").content.decode()
    assert "account.closed" in desk.get(f"/admin/accounts/account/{account.pk}/history/").content.decode()
    assert _close_url(account) not in desk.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    closures = desk.get("/admin/accounts/account/?status=closed").content.decode()
    assert account.number in closures
    assert account.number not in desk.get("/admin/accounts/account/?status=open").content.decode()


def test_A8_closing_one_of_two_accounts_leaves_the_client_open(desk, bob, clock, received):
    Account.objects.create(number="U8888888", client=bob.client, funded_at=FUNDED_AT)
    account = bob.client.accounts.get(number="U8888888")
    assert "U8888888" in desk.get(_close_url(bob.client.accounts.exclude(pk=account.pk).get())).content.decode()
    assert csrf_post(desk, _close_url(account), {**VERIFIED, "reason": "Duplicate account."}).status_code == 302
    assert received[0]["client_closed"] is False
    assert not all_accounts_closed(bob.client_id, timezone.now())


def test_A8_closing_twice_says_so_and_writes_nothing(desk, bob, clock, received):
    account = bob.client.accounts.get()
    csrf_post(desk, _close_url(account), {**VERIFIED, "reason": "First closure."})
    events, verifications = AuditEvent.objects.count(), IdentityVerification.objects.count()
    clock.shift(timedelta(minutes=1))
    again = csrf_post(desk, _close_url(account), {**VERIFIED, "reference": "CALL-9", "reason": "Second closure."})
    assert again.status_code == 400
    assert "was already closed on 2026-11-02 09:00 UTC" in again.content.decode()
    assert (AuditEvent.objects.count(), IdentityVerification.objects.count()) == (events, verifications)
    account.refresh_from_db()
    assert account.closure_reason == "First closure." and account.closed_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert len(received) == 1


@pytest.mark.postgres
def test_A8_two_agents_closing_one_account_at_once_close_it_once(transactional_db, postgresql, bob, agent):
    """Under the account's row lock: one closure, one event; the other agent is told."""
    from agents import actions
    from tests.conftest import run_at_once, staff_user

    agents = [agent, staff_user("agent8", group="Customer service")]
    account = bob.client.accounts.get()
    now = timezone.now()

    def close(index: int):
        return actions.close_account(
            Account.objects.get(pk=account.pk),
            reason=f"Closure {index}.",
            agent=agents[index],
            now=now,
            new_verification=actions.NewVerification("callback", f"CALL-{index}"),
        )

    results = run_at_once(2, close)
    closed = [result for result in results if isinstance(result, Account)]
    refused = [result for result in results if isinstance(result, ClosureRefused)]
    assert len(closed) == 1 and len(refused) == 1, results
    assert "already closed" in str(refused[0])
    assert AuditEvent.objects.filter(action="account.closed").count() == 1
    # The refused closure's verification rolled back with it.
    assert IdentityVerification.objects.count() == 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({**NOT_VERIFIED, "reason": "Asked to close."}, "Verify the caller"),
        ({**VERIFIED, "reason": "   "}, "Give the reason for the closure"),
        ({**VERIFIED, "reason": "x" * 100_000}, "at most 1000 characters"),
    ],
    ids=["no-verification", "no-reason", "100KB-reason"],
)
def test_A8_closing_needs_a_verified_caller_and_a_reason(desk, bob, clock, data, message):
    response = csrf_post(desk, _close_url(bob.client.accounts.get()), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert bob.client.accounts.get().closed_at is None
    assert not IdentityVerification.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["account.closed", "identity.verify"]).exists()


def test_A8_a_receiver_that_fails_rolls_the_closure_back(desk, bob, clock):
    """The signal is sent inside the closure's transaction: what a receiver
    writes commits with the closure, and its failure undoes it."""
    from agents import actions

    def failing(sender, **kwargs):
        raise RuntimeError("the charge could not be written")

    account_closed.connect(failing)
    try:
        with pytest.raises(RuntimeError):
            actions.close_account(
                bob.client.accounts.get(),
                reason="Asked.",
                agent=User.objects.get(username="agent7"),
                now=timezone.now(),
                new_verification=actions.NewVerification("callback", "CALL-1"),
            )
    finally:
        account_closed.disconnect(failing)
    assert bob.client.accounts.get().closed_at is None
    assert not AuditEvent.objects.exists() and not IdentityVerification.objects.exists()


def test_A8_closing_needs_its_permission(bob, clock):
    from tests.conftest import admin_client, staff_user

    security = staff_user("sec1", group="Security team")
    response = csrf_post(admin_client(security), _close_url(bob.client.accounts.get()), {**VERIFIED, "reason": "x"})
    assert response.status_code == 403
    assert bob.client.accounts.get().closed_at is None


def test_A8_the_closure_is_not_a_free_edit_in_the_admin(root, bob, clock):
    from tests.conftest import admin_client

    account = bob.client.accounts.get()
    page = admin_client(root).get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert 'name="closed_at' not in page and 'name="closure_reason"' not in page


# --- What "closed" means, in the ORM and in the login's SQL ------------------------------


@pytest.mark.parametrize(
    "closures, expected",
    [
        ([], False),
        ([None], False),
        ([CLOSED_AT], True),
        ([CLOSED_AT, None], False),
        ([CLOSED_AT, CLOSED_AT - timedelta(days=300)], True),
        ([datetime(2026, 11, 2, 9, 0, 1, tzinfo=UTC)], False),  # closes a second from now
        ([datetime(2026, 11, 2, 9, 0, tzinfo=UTC)], True),  # closes now
    ],
    ids=["no-account", "open", "closed", "one-open", "all-closed", "closing-later", "closing-now"],
)
def test_A8_closed_means_every_account_closed_in_the_ORM_and_the_SQL_alike(client_factory, clock, closures, expected):
    person = client_factory("Dina", "Doe", "IT")
    person.accounts.all().delete()
    for index, closed_at in enumerate(closures):
        Account.objects.create(number=f"U55{index:05d}", client=person, closed_at=closed_at)
    now = timezone.now()
    assert all_accounts_closed(person.pk, now) is expected
    assert login_statements.all_accounts_closed(person.pk, now) is expected


# --- Statements and tax forms ---------------------------------------------------------


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_A8_statements_list_each_month_and_year_until_the_closure(closed, clock):
    http = _statements_session(closed)
    page = http.get("/statements/").content.decode()
    assert "Closed on " in page and "Your accounts are closed" in page
    assert "Activity statement, January 2025" in page and "Activity statement, June 2026" in page
    assert "July 2026" not in page, "no statement after the closure month"
    assert "Tax form 2025" in page and "Tax form 2026" in page, "the closure year's form comes with the closure"
    assert 'href="/statements/U1000001/2026/6/"' in page and 'href="/statements/U1000001/tax/2026/"' in page


def test_A8_an_open_account_has_statements_of_ended_months_only(web, alice, clock):
    login_fully(web, alice)
    page = web.get("/statements/").content.decode()
    assert "Activity statement, October 2026" in page and "November 2026" not in page
    assert "Tax form 2025" in page and "Tax form 2026" not in page
    number = alice.client.accounts.get().number
    assert web.get(f"/statements/{number}/2026/11/").status_code == 404
    assert web.get(f"/statements/{number}/tax/2026/").status_code == 404
    assert web.get(f"/statements/{number}/2024/12/").status_code == 404


def test_A8_statement_pdf_holds_the_months_records_and_balances(closed, clock):
    http = _statements_session(closed)
    account = closed.client.accounts.get()
    response = http.get(f"/statements/{account.number}/2026/3/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="statement-U1000001-2026-03.pdf"'
    assert "no-store" in response["Cache-Control"]
    text = _pdf_text(response.content)
    assert "Activity statement, March 2026" in text and "Account number: U1000001" in text
    assert "Carla Chiusi" in text and "Account closed on June 15, 2026." in text
    assert "Period: March 1, 2026 to March 31, 2026" in text
    deposit = account.deposits.get(requested_at__year=2026, requested_at__month=3)
    assert f"{deposit.amount_usd:,.2f}" in text and "Deposit (EFT transfer)" in text
    # The balances add up: the opening balance and this month's deposit make the closing one.
    opening = _amount(text, "Opening balance")
    closing = _amount(text, "Closing balance")
    withdrawn = sum(w.amount_usd for w in account.withdrawals.filter(requested_at__year=2026, requested_at__month=3))
    assert opening + deposit.amount_usd - withdrawn == closing


def _amount(text: str, label: str) -> Decimal:
    found = re.search(rf"{label}: ([\d,.]+) USD", text)
    assert found, f"{label} not in {text[:400]}"
    return Decimal(found.group(1).replace(",", ""))


def test_A8_the_last_statement_ends_at_zero_after_the_closing_withdrawal(closed, clock):
    http = _statements_session(closed)
    text = _pdf_text(http.get("/statements/U1000001/2026/6/").content)
    assert _amount(text, "Closing balance") == Decimal("0.00")
    assert "Withdrawal to Demo Bank" in text


def test_A8_tax_form_pdf_sums_the_year(closed, clock):
    http = _statements_session(closed)
    response = http.get("/statements/U1000001/tax/2025/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="tax-form-U1000001-2025.pdf"'
    text = _pdf_text(response.content)
    assert "Annual tax statement 2025" in text and "Country of residence: Italy" in text
    account = closed.client.accounts.get()
    deposits = sum(d.amount_usd for d in account.deposits.filter(requested_at__year=2025))
    assert f"{deposits:,.2f}" in text
    assert "Balance on 1 January" in text and "December 2025" in text


def test_A8_pdfs_follow_the_language_of_the_page(closed, clock):
    http = _statements_session(closed)
    http.cookies["django_language"] = "it"
    text = _pdf_text(http.get("/statements/U1000001/2026/3/").content)
    assert "Estratto conto" in text and "marzo 2026" in text.lower() and "U1000001" in text
    tax = _pdf_text(http.get("/statements/U1000001/tax/2025/").content)
    assert "2025" in tax and "Paese di residenza: Italia" in tax


def test_A8_another_clients_statement_is_404(closed, charlie, clock):
    http = _statements_session(closed)
    other = charlie.client.accounts.get().number
    assert http.get(f"/statements/{other}/2025/3/").status_code == 404
    assert http.get(f"/statements/{other}/tax/2025/").status_code == 404
    assert http.get("/statements/NOSUCH/2025/3/").status_code == 404
    assert http.get("/statements/U1000001/2025/13/").status_code == 404
    assert http.get("/statements/U1000001/99999999999/1/").status_code == 404


def test_A8_statements_need_a_login(db):
    response = HttpClient().get("/statements/")
    assert response.status_code == 302 and response.url.startswith("/login/?next=/statements/")


def test_A8_the_statements_page_costs_a_fixed_number_of_queries(closed, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = _statements_session(closed)
    http.get("/statements/")  # the session's first page reads the client's time zone once
    with CaptureQueriesContext(connection) as before:
        http.get("/statements/")
    for index in range(3):
        Account.objects.create(
            number=f"U10000{index + 2:02d}", client=closed.client, closed_at=CLOSED_AT, funded_at=FUNDED_AT
        )
    with CaptureQueriesContext(connection) as after:
        http.get("/statements/")
    assert len(after) == len(before)


# --- The demo's closed accounts ---------------------------------------------------------


def test_A8_demo_closed_accounts_log_in_to_their_statements(db, clock):
    from io import StringIO

    from django.core.management import call_command
    from django.test import override_settings

    from agents.management.commands.seed_demo import DEMO_PASSWORD
    from login.flows import load_pending
    from login.views import PENDING

    with override_settings(DEBUG=True):
        guide = StringIO()
        call_command("seed_demo", stdout=guide)
    assert "closed2" in guide.getvalue()
    assert AuditEvent.objects.filter(action="account.closed", rule="A8").count() == 2

    card_returned = HttpClient(enforce_csrf_checks=True)
    first = csrf_post(card_returned, "/login/", {"username": "closed1", "password": DEMO_PASSWORD})
    assert first.status_code == 302 and first.url == "/statements/"
    page = card_returned.get("/statements/").content.decode()
    assert "Activity statement, " in page and "Tax form " in page

    device_kept = HttpClient(enforce_csrf_checks=True)
    first = csrf_post(device_kept, "/login/", {"username": "closed2", "password": DEMO_PASSWORD})
    assert first.status_code == 302 and first.url == "/login/code/"
    question = load_pending(device_kept.session[PENDING], timezone.now()).offers[0]["challenge"]["question"]
    with override_settings(DEBUG=True):
        out = StringIO()
        call_command("device_simulator", "--client", "closed2", "--question", question, stdout=out)
    done = csrf_post(device_kept, "/login/code/", {"code": out.getvalue().splitlines()[1].split(" -> ")[-1]})
    assert done.status_code == 302 and done.url == "/statements/"
    assert device_kept.get("/").status_code == 403
