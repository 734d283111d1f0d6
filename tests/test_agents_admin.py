"""What agents do in the admin besides the rules' actions: find people, read
messages with usernames as typed, use it in Italian."""

from __future__ import annotations

import re

from django.test import Client as HttpClient

from accounts.models import User
from devices.models import SecurityDevice
from tests.conftest import (
    VERIFIED,
    admin_client,
    csrf_post,
    lock,
    user_url,
)


def test_client_search_by_account_number_username_and_email(desk, alice, bob):
    """ARCHITECTURE.md "Agents": a caller is found by account number, username or e-mail."""
    number = alice.client.accounts.get().number
    for term in (number, "alice", "alice@example.com", "Rossi"):
        page = desk.get("/admin/accounts/client/", {"q": term})
        assert b"Alice Rossi" in page.content and b"Bob Smith" not in page.content, term
    users = desk.get("/admin/accounts/user/", {"q": "bob"})
    assert b">bob<" in users.content and b">alice<" not in users.content
    devices = desk.get("/admin/devices/securitydevice/", {"q": "alice@example.com"})
    assert SecurityDevice.objects.get(client=alice.client).serial.encode() in devices.content


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


def test_lists_say_more_than_when_not_counted(desk, alice, monkeypatch):
    from agents.admin import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 0)
    assert "more than 0 clients" in desk.get("/admin/accounts/client/").content.decode()


def test_admin_messages_never_capitalise_usernames(desk, client_factory, clock):
    """Usernames are case-sensitive: "enrolled1 is unlocked.", never "Enrolled1"."""
    client_factory("Enzo", "Neri", username="enrolled1")

    user = User.objects.get(username="enrolled1")
    lock("enrolled1")
    response = csrf_post(desk, user_url(user, "unlock"), VERIFIED)
    page = desk.get(response.url).content.decode()
    assert "enrolled1 is unlocked." in page
    assert "Enrolled1" not in page


def test_italian_admin_has_no_english_left(agent, alice, clock):
    """The admin in Italian: the OTP label of the login form and "Sessions valid after"."""

    login_page = HttpClient(HTTP_ACCEPT_LANGUAGE="it").get("/admin/login/").content.decode()
    assert "Codice OTP" in login_page and "OTP Token" not in login_page
    desk = admin_client(agent)
    page = desk.get(f"/admin/accounts/user/{alice.pk}/change/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Sessioni valide dopo" in page and "Sessions valid after" not in page
