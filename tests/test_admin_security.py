"""The agents' admin under attack: SECURITY.md 7, 8 and 18, and the 500s an agent could trigger."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client as HttpClient
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from devices.flows import issue_code_card
from tests.conftest import PASSWORD, csrf_post, login_fully
from tests.test_admin import admin_client, admin_login, lock, staff_user, totp_device, user_url


@pytest.fixture
def root(db) -> User:
    return staff_user("root", superuser=True)


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


def test_SEC7_admin_login_throttles_one_address(agent, bob, clock):
    """SECURITY.md 7: /admin/login/ has the same per-address limit as /login/:
    over it, nothing is checked or stored for another username, and the audit
    says rate_limited."""
    limit = 3
    web = HttpClient(enforce_csrf_checks=True)
    with override_settings(SLS={**settings.SLS, "ADDRESS_FAILURES_LIMIT": limit}):
        for index in range(limit):
            csrf_post(web, "/admin/login/", {"username": f"victim{index}", "password": "wrong password here"})
        refused = csrf_post(web, "/admin/login/", {"username": "bob", "password": "wrong password here"})
    assert refused.status_code == 200
    assert b"Too many failed login attempts have come from your network address" in refused.content
    assert AuditEvent.objects.filter(action="admin.login", outcome="rate_limited", username="bob").count() == 1
    from login.models import LoginGuard

    assert not LoginGuard.objects.filter(username="bob", attempts__isnull=False).exists()


def test_SEC8_replayed_totp_code_refused_and_audited_as_replay(agent, clock):
    """SECURITY.md 8: a TOTP code is accepted once per time step; the second use
    is refused with "wait for the next code" and audited as a replay."""
    device = totp_device(agent)
    first = HttpClient(enforce_csrf_checks=True)
    assert admin_login(first, agent, device).status_code == 302
    second = HttpClient(enforce_csrf_checks=True)
    replay = admin_login(second, agent, device)
    assert replay.status_code == 200
    assert b"Wait for the next code" in replay.content
    assert second.get("/admin/").status_code == 302
    event = AuditEvent.objects.filter(action="admin.login").exclude(outcome="ok").get()
    assert event.outcome == "replayed" and event.username == agent.username


def test_SEC8_wrong_totp_code_is_an_ordinary_failure(agent, clock):
    """SECURITY.md 8: a wrong code is a failure, not a replay."""
    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    data = {"username": agent.username, "password": PASSWORD, "otp_device": device.persistent_id, "otp_token": "1"}
    assert csrf_post(web, "/admin/login/", data).status_code == 200
    assert AuditEvent.objects.get(action="admin.login").outcome == "failed"


# --- No 500 on an agent's input -------------------------------------------------

ACTION_PATHS = [
    "/admin/accounts/user/{id}/unlock/",
    "/admin/accounts/user/{id}/send-password-reset/",
    "/admin/accounts/user/{id}/end-sessions/",
    "/admin/accounts/client/{id}/verify-identity/",
    "/admin/accounts/client/{id}/issue-code-card/",
    "/admin/devices/securitydevice/{id}/printout/",
]


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-1", "99999999999999999999999", "%C2%B2", "%00"])
@pytest.mark.parametrize("path", ACTION_PATHS)
def test_agent_action_with_a_non_integer_id_is_404(root, bad_id, path):
    """No 500 on any input: an action URL whose id is not a number is a 404 (400 for a NUL)."""
    response = admin_client(root).get(path.format(id=bad_id))
    assert response.status_code in (400, 404), response.status_code


@pytest.mark.postgres
@pytest.mark.parametrize("path", ACTION_PATHS)
def test_agent_action_with_a_non_integer_id_is_404_on_postgresql(postgresql, root, path):
    """The same on PostgreSQL, which refuses a too-large number or a NUL in a query."""
    http = admin_client(root)
    for bad_id in ("abc", "99999999999999999999999", "%00"):
        assert http.get(path.format(id=bad_id)).status_code in (400, 404), bad_id


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditevent/?outcome=%00failed",
        "/admin/audit/auditevent/?action=a%00b",
        "/admin/audit/auditevent/?q=%00",
        "/admin/accounts/user/?q=ali%00ce",
        "/admin/autocomplete/?term=%00x&app_label=devices&model_name=securitydevice&field_name=client",
    ],
)
def test_nul_in_admin_filters_and_autocomplete_is_400(root, alice, url):
    """No 500 on any input: a NUL in a filter, a search or the autocomplete term is a 400 (PostgreSQL refuses it)."""
    response = admin_client(root).get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content
