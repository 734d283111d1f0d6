"""What agents hit in the admin: A8 refusals, usernames as typed, links on the public address,
search, history and the audit list."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from accounts.models import Account, IdentityVerification
from audit.models import AuditEvent
from devices.models import SecurityDevice
from tests.conftest import csrf_post
from tests.test_admin import VERIFIED, admin_client, client_url, lock, user_url


@pytest.fixture
def desk(agent):
    """The Customer-service agent's browser, logged in to the admin."""
    return admin_client(agent)


def test_A8_no_code_card_for_a_closed_account(desk, bob, clock):
    """A8: a closed account logs in with username and password only; issuing it a card is
    refused with the reason, and nothing is recorded, not even the verification."""
    Account.objects.filter(client=bob.client).update(closed_at=datetime(2026, 1, 1, tzinfo=UTC))
    response = csrf_post(desk, client_url(bob, "issue-code-card"), VERIFIED)
    assert response.status_code == 400
    assert b"(A8)" in response.content and b"closed" in response.content
    assert not SecurityDevice.objects.filter(client=bob.client).exists()
    assert not IdentityVerification.objects.exists()
    assert not AuditEvent.objects.filter(action="device.issue").exists()


def test_A8_a_client_with_one_open_account_gets_a_card(desk, bob, client_factory, clock):
    """A8 concerns a closed account: one account still open and the card is issued."""
    Account.objects.filter(client=bob.client).update(closed_at=datetime(2026, 1, 1, tzinfo=UTC))
    Account.objects.create(number="U9999999", client=bob.client)
    response = csrf_post(desk, client_url(bob, "issue-code-card"), VERIFIED)
    assert response.status_code == 302
    assert SecurityDevice.objects.filter(client=bob.client).count() == 1


def test_admin_messages_never_capitalise_usernames(desk, client_factory, clock):
    """Usernames are case-sensitive: "enrolled1 is unlocked.", never "Enrolled1"."""
    client_factory("Enzo", "Neri", username="enrolled1")
    from accounts.models import User

    user = User.objects.get(username="enrolled1")
    lock("enrolled1")
    response = csrf_post(desk, user_url(user, "unlock"), VERIFIED)
    page = desk.get(response.url).content.decode()
    assert "enrolled1 is unlocked." in page
    assert "Enrolled1" not in page


@override_settings(PORTAL_URL="https://portal.public.example", ALLOWED_HOSTS=["testserver", "internal-admin.local"])
def test_L5_reset_link_uses_the_portals_public_address(desk, alice, mailoutbox, clock):
    """L5: the e-mailed link is on PORTAL_URL, never the host the agent's browser used."""
    csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED, HTTP_HOST="internal-admin.local")
    body = mailoutbox[0].body
    assert re.search(r"https://portal\.public\.example/password/reset/\S+/", body)
    assert "internal-admin.local" not in body and "testserver" not in body


# --- Finding people (ARCHITECTURE.md "Agents"; issue: search at a million users) -------------


def test_client_search_is_a_case_insensitive_prefix_on_names_and_email(desk, alice, bob):
    """An agent types what the caller says: "rossi", "ROS", "alice@exa", "alice ros"."""
    for term in ("rossi", "ROS", "Rossi", "alice@exa", "ALICE@EXAMPLE.COM", "alice", "alice ros"):
        page = desk.get("/admin/accounts/client/", {"q": term}).content
        assert b"Alice Rossi" in page and b"Bob Smith" not in page, term
    assert b"Alice Rossi" not in desk.get("/admin/accounts/client/", {"q": "ossi"}).content  # a prefix, not a substring


def test_client_search_is_exact_on_account_number_username_and_serial(desk, alice, bob):
    number = alice.client.accounts.get().number
    serial = SecurityDevice.objects.get(client=alice.client).serial
    for term in (number, "alice", serial):
        page = desk.get("/admin/accounts/client/", {"q": term}).content
        assert b"Alice Rossi" in page and b"Bob Smith" not in page, term
    for term in (number[:-1], serial[:-1]):
        assert b"Alice Rossi" not in desk.get("/admin/accounts/client/", {"q": term}).content, term


def test_client_search_username_is_exact(desk, client_factory):
    client_factory("Dan", "Uno", username="dan42")
    assert b"Dan Uno" in desk.get("/admin/accounts/client/", {"q": "dan42"}).content
    assert b"Dan Uno" not in desk.get("/admin/accounts/client/", {"q": "dan4"}).content


def test_user_search_exact_username_prefix_email_and_client_name(desk, alice, bob, client_factory):
    client_factory("Alicia", "Bianchi", username="alicia")
    for term, found in (
        ("alice", {"alice"}),
        ("ALICE@ex", {"alice"}),
        ("rossi", {"alice"}),
        ("bian", {"alicia"}),
        ("ali", {"alice", "alicia"}),
        ("bob", {"bob"}),
    ):
        page = desk.get("/admin/accounts/user/", {"q": term}).content.decode()
        shown = set(re.findall(r">(alice|alicia|bob)<", page))
        assert shown == found, (term, shown)


def test_searches_need_no_distinct_and_lists_no_full_count(desk, alice, bob):
    """No DISTINCT over a join of accounts and usernames; no COUNT(*) of every row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for url, params in (
        ("/admin/accounts/client/", {"q": "rossi"}),
        ("/admin/accounts/user/", {"q": "rossi"}),
        ("/admin/accounts/user/", {}),
        ("/admin/accounts/client/", {}),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(url, params).status_code == 200
        sql = " ".join(query["sql"] for query in queries.captured_queries).upper()
        assert "DISTINCT" not in sql, url
        counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert all("LIMIT" in q.upper() for q in counts), counts


def test_lists_say_more_than_when_not_counted(desk, alice, monkeypatch):
    from agents.admin import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 0)
    assert "more than 0 clients" in desk.get("/admin/accounts/client/").content.decode()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("admin_model", "index"),
    [
        ("client", "client_last_name_prefix"),
        ("client", "client_email_prefix"),
        ("client", "client_first_name_prefix"),
        ("user", "user_email_prefix"),
    ],
)
def test_prefix_search_uses_its_index_on_postgresql(postgresql, alice, rf, agent, admin_model, index):
    """The search's istartswith (UPPER(col) LIKE UPPER(..)) is served by the UPPER(col)
    text_pattern_ops index: the plan names it (sequential scans off, as at a million rows)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Client, User
    from agents.admin_site import admin_site

    model = {"client": Client, "user": User}[admin_model]
    model_admin = admin_site._registry[model]
    request = rf.get("/")
    request.user = agent
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    with CaptureQueriesContext(connection) as queries:
        queryset, duplicates = model_admin.get_search_results(request, model.objects.all(), "ros")
        list(queryset[:100])
    assert duplicates is False
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert any(index in plan for plan in plans), plans
    assert not any("Seq Scan" in plan for plan in plans), plans


# --- The audit trail in the admin (SECURITY.md 20) --------------------------------------------


def test_SEC20_recent_actions_are_the_agents_audit_events(desk, alice, agent, clock):
    """The admin's "Recent actions" lists this agent's latest audit events."""
    lock("alice")
    csrf_post(desk, user_url(alice, "unlock"), VERIFIED)
    page = desk.get("/admin/").content.decode()
    sidebar = page[page.index("recent-actions-module") :]
    assert "lockout.unlock" in sidebar and "identity.verify" in sidebar
    assert "None available" not in sidebar


def test_SEC20_object_history_shows_its_audit_events(desk, alice, bob, agent, clock):
    """A client's and a username's "History" are their audit events."""
    lock("alice")
    csrf_post(desk, user_url(alice, "unlock"), VERIFIED)
    AuditEvent.objects.create(action="login.password", outcome="failed", username="alice", rule="L2")
    client_history = desk.get(f"/admin/accounts/client/{alice.client_id}/history/").content.decode()
    assert "lockout.unlock" in client_history and "identity.verify" in client_history
    user_history = desk.get(f"/admin/accounts/user/{alice.pk}/history/").content.decode()
    assert "lockout.unlock" in user_history and "login.password" in user_history
    bob_history = desk.get(f"/admin/accounts/user/{bob.pk}/history/").content.decode()
    assert "lockout.unlock" not in bob_history and "No audit events yet." in bob_history


def test_SEC20_audit_list_shows_seconds_and_the_username_typed(desk, alice, clock):
    """The audit list shows seconds; a failed password (no client recorded) shows the username typed."""
    from datetime import timedelta

    from django.utils import timezone

    AuditEvent.objects.create(
        action="login.password",
        outcome="failed",
        username="alice",
        rule="L2",
        at=timezone.now() + timedelta(seconds=7),
        details={"reason": "x" * 200},
    )
    page = desk.get("/admin/audit/auditevent/").content.decode()
    assert "2026-11-02 09:00:07" in page
    row = page[page.index("2026-11-02 09:00:07") :][:2000]
    assert "Alice Rossi (by username)" in row and "x" * 60 not in row


# --- Italian admin ----------------------------------------------------------------------------


def test_italian_admin_has_no_english_left(agent, alice, clock):
    """The admin in Italian: the OTP label of the login form and "Sessions valid after"."""
    from django.test import Client as HttpClient

    login_page = HttpClient(HTTP_ACCEPT_LANGUAGE="it").get("/admin/login/").content.decode()
    assert "Codice OTP" in login_page and "OTP Token" not in login_page
    desk = admin_client(agent)
    page = desk.get(f"/admin/accounts/user/{alice.pk}/change/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Sessioni valide dopo" in page and "Sessions valid after" not in page


def test_italian_replay_message(agent, clock):
    """SECURITY.md 8 in Italian: the agent is told to wait for the next code."""
    from django.test import Client as HttpClient

    from tests.test_admin import admin_login, totp_device

    device = totp_device(agent)
    admin_login(HttpClient(enforce_csrf_checks=True), agent, device)
    replay = admin_login(HttpClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="it"), agent, device)
    assert "Attenda il codice successivo" in replay.content.decode()
