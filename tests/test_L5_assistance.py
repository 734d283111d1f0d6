"""L5: login assistance starts by telephone with identity verification; the
agent then sends a password-reset link to the e-mail of record (SECURITY.md 13)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from accounts.models import IdentityVerification, User
from agents import actions
from audit.models import AuditEvent
from login import lockout
from tests.conftest import (
    NOT_VERIFIED,
    VERIFIED,
    admin_client,
    client_url,
    csrf_post,
    lock,
    login_fully,
    staff_user,
    user_url,
)


def _reset_link(mail) -> str:
    return re.search(r"https://portal\.sls\.example(/password/reset/\S+/)", mail.body).group(1)


def test_L5_half_a_verification_is_refused(desk, alice):
    """L5: a method without a reference (or the reverse) is an error on the missing field."""
    lock("alice")
    response = csrf_post(desk, user_url(alice, "unlock"), {**VERIFIED, "reference": ""})
    assert response.status_code == 400
    assert 'id="id_reference_error"' in response.content.decode()
    assert lockout.locked_until("alice") is not None


@pytest.mark.parametrize(
    ("age", "allowed"),
    [(timedelta(minutes=29, seconds=59), True), (timedelta(minutes=30), False)],
)
def test_L5_recent_verification_by_the_same_agent_is_reused(alice, agent, clock, age, allowed):
    """L5: a verification this agent recorded stays good for IDENTITY_VERIFICATION_VALID (30 minutes)."""
    actions.record_verification(
        alice.client, actions.NewVerification("callback", "CALL-1"), agent=agent, now=timezone.now()
    )
    lock("alice")
    clock.shift(age)
    if allowed:
        assert actions.unlock_username(alice, agent=agent, now=timezone.now()) is True
    else:
        with pytest.raises(actions.VerificationRequired):
            actions.unlock_username(alice, agent=agent, now=timezone.now())
        assert lockout.locked_until("alice") is not None


def test_L5_verification_by_another_agent_or_for_another_client_is_not_reused(alice, charlie, agent, db):
    """L5: the agent who acts must be the one who verified this client."""
    colleague = staff_user("agent8", group="Customer service")
    now = timezone.now()
    new = actions.NewVerification("callback", "CALL-2")
    actions.record_verification(alice.client, new, agent=colleague, now=now)
    actions.record_verification(charlie.client, new, agent=agent, now=now)
    with pytest.raises(actions.VerificationRequired):
        actions.unlock_username(alice, agent=agent, now=now)


def test_L5_reused_verification_shown_on_the_form(desk, alice):
    """L5: the form says which verification it will use, so the agent can leave the fields empty."""
    csrf_post(desk, client_url(alice, "verify-identity"), VERIFIED)
    lock("alice")
    page = desk.get(user_url(alice, "unlock"))
    assert b"CALL-4711" in page.content
    response = csrf_post(desk, user_url(alice, "unlock"), NOT_VERIFIED)
    assert response.status_code == 302
    assert lockout.locked_until("alice") is None
    assert IdentityVerification.objects.count() == 1


def test_L5_record_identity_verification(desk, alice, agent):
    """L5 (s371): the record names the agent, method and reference; both fields are required."""
    refused = csrf_post(desk, client_url(alice, "verify-identity"), NOT_VERIFIED)
    assert refused.status_code == 400
    assert 'id="id_method_error"' in refused.content.decode()
    assert 'id="id_reference_error"' in refused.content.decode()
    response = csrf_post(desk, client_url(alice, "verify-identity"), VERIFIED)
    assert response.status_code == 302
    verification = IdentityVerification.objects.get()
    assert verification.agent == agent and verification.method == "security_questions"


def test_L5_identity_verification_read_only_after_creation(desk, root, alice, agent):
    """L5, principle 7: a verification cannot be changed or deleted, not even by a superuser."""
    verification = actions.record_verification(
        alice.client, actions.NewVerification("callback", "CALL-3"), agent=agent, now=timezone.now()
    )
    http = admin_client(root)
    url = f"/admin/accounts/identityverification/{verification.pk}/"
    assert b'name="_save"' not in http.get(url + "change/").content
    assert csrf_post(http, url + "change/", {"reference": "FORGED"}).status_code == 403
    assert http.get(url + "delete/").status_code == 403
    verification.refresh_from_db()
    assert verification.reference == "CALL-3"


def test_L5_identity_verification_added_in_admin_is_the_agents(desk, alice, agent):
    """L5: the admin's add page records the verification for the logged-in agent, audited."""
    response = csrf_post(
        desk,
        "/admin/accounts/identityverification/add/",
        {"client": alice.client_id, "method": "document", "reference": "TICKET-9", "notes": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    verification = IdentityVerification.objects.get()
    assert verification.agent == agent
    assert AuditEvent.objects.filter(action="identity.verify", verification=verification, actor=agent).exists()


def test_L5_agent_sends_reset_link_to_email_of_record(desk, alice, mailoutbox, clock):
    """L5, SECURITY.md 13: the link goes to the client's e-mail of record, works once, never logs in."""
    User.objects.filter(pk=alice.pk).update(email="typed-by-someone@example.net")
    response = csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED)
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@example.com"]
    link = _reset_link(mail)

    web = HttpClient(enforce_csrf_checks=True)
    form_page = web.get(link, follow=True)
    assert form_page.status_code == 200 and b'name="new_password1"' in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    new_password = "a brand new passphrase for alice"
    done = csrf_post(web, set_url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302
    # SECURITY.md 13: the reset logs nobody in; the second factor still stands.
    assert web.get("/").status_code == 302
    fresh = HttpClient(enforce_csrf_checks=True)
    step_one = csrf_post(fresh, "/login/", {"username": "alice", "password": new_password})
    assert step_one.status_code == 302 and step_one.url == "/login/code/"

    again = HttpClient().get(link, follow=True)
    assert b"This link no longer works" in again.content


@pytest.mark.parametrize(
    ("after", "works"),
    [(timedelta(minutes=59, seconds=59), True), (timedelta(hours=1, seconds=1), False)],
)
def test_L5_reset_link_expires_after_an_hour(desk, alice, mailoutbox, clock, after, works):
    """SECURITY.md 13 (ASVS 5.0 V6.4.1): the link works for one hour."""
    csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED)
    link = _reset_link(mailoutbox[0])
    clock.shift(after)
    page = HttpClient().get(link, follow=True)
    assert (b'name="new_password1"' in page.content) is works
    assert (b"This link no longer works" in page.content) is not works


def test_L5_reset_link_stops_working_once_the_client_logs_in(desk, alice, mailoutbox, clock):
    """The client remembered the password: a link sent before that login is dead."""
    csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED)
    link = _reset_link(mailoutbox[0])
    clock.shift(timedelta(minutes=5))
    login_fully(HttpClient(enforce_csrf_checks=True), alice)
    alice.refresh_from_db()
    assert alice.last_login == timezone.now()
    page = HttpClient().get(link, follow=True)
    assert b"This link no longer works" in page.content


def test_L5_reset_link_needs_identity_verification(desk, alice, mailoutbox):
    """L5: no verification, no e-mail."""
    response = csrf_post(desk, user_url(alice, "send-password-reset"), NOT_VERIFIED)
    assert response.status_code == 400 and b"(L5)" in response.content
    assert mailoutbox == []


@override_settings(PORTAL_URL="https://portal.public.example", ALLOWED_HOSTS=["testserver", "internal-admin.local"])
def test_L5_reset_link_uses_the_portals_public_address(desk, alice, mailoutbox, clock):
    """L5: the e-mailed link is on PORTAL_URL, never the host the agent's browser used."""
    csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED, HTTP_HOST="internal-admin.local")
    body = mailoutbox[0].body
    assert re.search(r"https://portal\.public\.example/password/reset/\S+/", body)
    assert "internal-admin.local" not in body and "testserver" not in body
