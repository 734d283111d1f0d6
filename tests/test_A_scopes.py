"""A: access scopes (A1), a closed account (A8), refusals that name their rule
in words (A9)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import Client as HttpClient
from django.test import RequestFactory

from accounts import access
from accounts.models import Account, IdentityVerification, User
from audit.models import AuditEvent
from devices.models import SecurityDevice
from tests.conftest import (
    VERIFIED,
    client_url,
    csrf_post,
    login_fully,
    masked,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_client(client_factory):

    client_factory("Carla", "Chiusi", "IT", username="closed1", closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    return User.objects.get(username="closed1")


def test_A1_full_scope_reaches_the_client_pages(web, alice, clock):
    login_fully(web, alice)
    assert web.get("/").status_code == 200
    page = web.get("/settings/security/sls/")
    assert page.status_code == 200
    assert SecurityDevice.objects.get(client=alice.client).serial.encode() in page.content


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


def test_A8_closed_account_dashboard_says_what_it_can_do(closed_client, clock):
    http = HttpClient()
    login_fully(http, closed_client)
    page = http.get("/")
    assert page.status_code == 403
    assert "view and print its statements and tax forms" in page.content.decode()
    assert 'href="/statements/"' in page.content.decode()
    assert "higher withdrawal limits" not in page.content.decode()


def test_A9_refusal_names_its_rule_never_a_bare_403(bob):
    """A page that needs a device, asked by a password-only (unenrolled) session."""

    @access.scope_required(access.FULL)
    def needs_device(request):  # pragma: no cover - must not run
        return HttpResponse("secret")

    request = RequestFactory().get("/withdrawals/")
    request.user = bob
    request.session = SessionStore()
    request.sls_scope = access.UNENROLLED
    response = needs_device(request)
    assert response.status_code == 403
    # A9: the rule in words; its ID is for the audit and the agents only.
    assert b"Enroll in the Secure Login System first" in response.content and b"secret" not in response.content
    # (as a word: the page's random CSRF token may hold the letters by chance)
    assert not re.search(rb"\bD8\b", masked(response, "bob")) and response.sls_rule == "D8"
    assert b"(203) 618-4006" in response.content  # A7/H2: the numbers to call


def test_A9_anonymous_is_sent_to_log_in_not_refused(db):
    @access.scope_required(access.FULL)
    def needs_device(request):  # pragma: no cover - must not run
        return HttpResponse("secret")

    request = RequestFactory().get("/withdrawals/")
    request.user = AnonymousUser()
    request.sls_scope = None
    response = needs_device(request)
    assert response.status_code == 302 and response.url == "/login/?next=/withdrawals/"
