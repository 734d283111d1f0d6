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
