"""SECURITY.md 18: the admin requires the agent's own second factor (TOTP at the
admin's login), permissions give 403, no secret is shown twice."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client as HttpClient
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import IdentityVerification, User
from devices.flows import issue_code_card
from devices.models import DeviceStatus, SecurityDevice
from login import lockout
from tests.conftest import (
    PASSWORD,
    VERIFIED,
    admin_client,
    admin_login,
    client_url,
    csrf_post,
    lock,
    login_fully,
    staff_user,
    totp_device,
    user_url,
)


@pytest.fixture
def staff_client(client_factory, agent) -> User:
    """A Customer-service agent who is also a client, with a TOTP device and a code card."""
    person = client_factory("Sara", "Verdi", "IT", username="sara")
    issue_code_card(person, agent=agent, now=timezone.now())
    user = User.objects.get(username="sara")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name="Customer service"))
    totp_device(user)
    return user


def test_SEC18_admin_requires_second_factor(agent):
    """SECURITY.md 18 (ASVS 4.3.1): the admin needs a TOTP code on top of the password."""
    password_only = HttpClient(enforce_csrf_checks=True)
    password_only.force_login(agent)
    response = password_only.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")

    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    refused = csrf_post(web, "/admin/login/", {"username": agent.username, "password": PASSWORD})
    assert refused.status_code == 200 and b"errornote" in refused.content
    assert web.get("/admin/").status_code == 302
    wrong = csrf_post(
        web,
        "/admin/login/",
        {"username": agent.username, "password": PASSWORD, "otp_device": device.persistent_id, "otp_token": "000000"},
    )
    assert wrong.status_code == 200 and web.get("/admin/").status_code == 302

    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    ok = admin_login(web, agent, device)
    assert ok.status_code == 302
    assert web.get("/admin/").status_code == 200


def test_SEC18_client_cannot_enter_admin(alice, clock):
    """SECURITY.md 18: a client's fully verified session is not an agent's."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    response = web.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_SEC18_client_login_with_code_card_never_opens_admin(staff_client, bob, clock):
    """SECURITY.md 18: a staff username logged in at /login/ with its code card is a
    client's session; the admin and its actions still ask for the agent's TOTP login."""
    web = HttpClient(enforce_csrf_checks=True)
    assert login_fully(web, staff_client).status_code == 302
    assert web.get("/").status_code == 200
    page = web.get("/admin/")
    assert page.status_code == 302 and page.url.startswith("/admin/login/")
    lock("bob")
    action = web.get(user_url(bob, "unlock"))
    assert action.status_code == 302 and action.url.startswith("/admin/login/")


def test_SEC18_admin_login_then_client_pages_do_not_fail(staff_client, clock):
    """SECURITY.md 18: the same username verified by its TOTP device at /admin/login/
    reaches the admin; the client pages treat it as not logged in (no 500)."""
    web = HttpClient(enforce_csrf_checks=True)
    assert admin_login(web, staff_client, totp_device(staff_client)).status_code == 302
    assert web.get("/admin/").status_code == 200
    dashboard = web.get("/")
    assert dashboard.status_code == 302 and "/login/" in dashboard.url


def test_SEC18_admin_session_lost_after_client_login(staff_client, clock):
    """SECURITY.md 18: logging in as a client in the admin's browser ends the admin access."""
    web = HttpClient(enforce_csrf_checks=True)
    assert admin_login(web, staff_client, totp_device(staff_client)).status_code == 302
    assert web.get("/admin/").status_code == 200
    web.get("/logout/")
    assert login_fully(web, staff_client).status_code == 302
    assert web.get("/admin/").status_code == 302


@pytest.mark.parametrize("group", [None, "Security team"])
def test_SEC18_agent_without_permission_gets_403(alice, group):
    """SECURITY.md 18: a staff user without the action's permission gets 403 and changes nothing."""
    outsider = admin_client(staff_user("agent9", group=group))
    lock("alice")
    for url in [
        user_url(alice, "unlock"),
        user_url(alice, "send-password-reset"),
        user_url(alice, "end-sessions"),
        client_url(alice, "issue-code-card"),
        client_url(alice, "verify-identity"),
    ]:
        assert outsider.get(url).status_code == 403, url
    token = outsider.get("/admin/").cookies["csrftoken"].value
    response = outsider.post(user_url(alice, "unlock"), {**VERIFIED, "csrfmiddlewaretoken": token})
    assert response.status_code == 403
    assert lockout.locked_until("alice") is not None
    assert not IdentityVerification.objects.exists()


def test_SEC18_action_links_follow_permissions(desk, alice, db):
    """ARCHITECTURE.md "Agents": actions are linked from the change pages, for agents allowed to use them."""
    user_page = desk.get(f"/admin/accounts/user/{alice.pk}/change/")
    for label in (b"Unlock username", b"Send password-reset link", b"End all sessions"):
        assert label in user_page.content
    client_page = desk.get(f"/admin/accounts/client/{alice.client_id}/change/")
    assert b"Record identity verification" in client_page.content
    assert b"Issue Security Code Card" in client_page.content

    viewer = admin_client(staff_user("sec1", group="Security team"))
    assert viewer.get(f"/admin/accounts/user/{alice.pk}/change/").status_code == 200
    assert b"Unlock username" not in viewer.get(f"/admin/accounts/user/{alice.pk}/change/").content


def test_SEC18_staff_edited_by_superusers_only(agent, alice, root):
    """SECURITY.md 18: an agent who may change usernames still cannot change staff or grant rights."""
    agent.user_permissions.add(Permission.objects.get(codename="change_user"))
    agent = User.objects.get(pk=agent.pk)
    http = admin_client(agent)
    colleague = staff_user("agent8", group="Customer service")

    page = http.get(f"/admin/accounts/user/{colleague.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    refused = csrf_post(http, f"/admin/accounts/user/{colleague.pk}/change/", {"username": "agent8", "is_active": ""})
    assert refused.status_code == 403
    colleague.refresh_from_db()
    assert colleague.is_active

    own = http.get(f"/admin/accounts/user/{alice.pk}/change/")
    assert b'name="_save"' in own.content
    assert b'name="is_staff"' not in own.content and b'name="groups"' not in own.content

    superuser_page = admin_client(root).get(f"/admin/accounts/user/{colleague.pk}/change/")
    assert b'name="is_staff"' in superuser_page.content


def test_agent_actions_do_not_apply_to_staff(desk, root):
    """Agent actions are for clients' usernames; a staff username has none (404)."""
    assert desk.get(user_url(root, "send-password-reset")).status_code == 404


def test_SEC18_admin_never_shows_password_hash_or_seed(root, alice):
    """SECURITY.md 18 (ASVS 5.0 V6.4.6): no page renders a password hash, a device seed or its ciphertext."""
    http = admin_client(root)
    device = SecurityDevice.objects.get(client=alice.client)
    secrets = [alice.password, alice.password.split("$")[-1], device.seed_encrypted, device.seed.hex()]
    pages = [
        "/admin/accounts/user/",
        f"/admin/accounts/user/{alice.pk}/change/",
        f"/admin/accounts/user/{root.pk}/change/",
        f"/admin/accounts/client/{alice.client_id}/change/",
        "/admin/devices/securitydevice/",
        f"/admin/devices/securitydevice/{device.pk}/change/",
        "/admin/audit/auditevent/",
        user_url(alice, "unlock"),
        client_url(alice, "issue-code-card"),
    ]
    for url in pages:
        response = http.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert "argon2" not in text and "pbkdf2" not in text, url
        for secret in secrets:
            assert secret not in text, url
        assert 'name="password"' not in text and 'name="seed' not in text, url


def test_SEC18_code_card_pdf_downloaded_once(desk, bob, agent):
    """Principle 4, SECURITY.md 18: the printable card is handed out once; the second download is refused."""
    response = csrf_post(desk, client_url(bob, "issue-code-card"), VERIFIED)
    device = SecurityDevice.objects.get(client=bob.client)
    assert device.status == DeviceStatus.ACTIVE and device.issued_by == agent
    assert response.status_code == 302 and response.url == f"/admin/devices/securitydevice/{device.pk}/printout/"

    page = desk.get(response.url)
    assert b"Download the printable card (once)" in page.content
    first = csrf_post(desk, response.url, {})
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    assert "no-store" in first["Cache-Control"]

    second = csrf_post(desk, response.url, {})
    assert second.status_code == 410
    assert b"already downloaded" in second.content
    assert desk.get(response.url).content.count(b"Download the printable card (once)") == 0


def test_SEC18_code_card_printout_only_for_the_issuing_agent(alice, db):
    """Principle 4: another agent, even allowed to issue cards, cannot print someone else's card."""
    colleague = admin_client(staff_user("agent8", group="Customer service"))
    device = SecurityDevice.objects.get(client=alice.client)
    assert colleague.get(f"/admin/devices/securitydevice/{device.pk}/printout/").status_code == 403


def test_SEC18_agent_authenticator_command_shows_secret_once(agent):
    """SECURITY.md 18: an agent gets the TOTP device the admin asks for; a second
    call without --replace refuses instead of silently issuing another."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("agent_authenticator", agent.username, stdout=out)
    device = TOTPDevice.objects.get(user=agent)
    assert device.confirmed and "otpauth://totp/" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("agent_authenticator", agent.username, stdout=StringIO())
    call_command("agent_authenticator", agent.username, "--replace", stdout=StringIO())
    assert TOTPDevice.objects.filter(user=agent).count() == 1
    assert TOTPDevice.objects.get(user=agent).pk != device.pk
