"""SECURITY.md 8: a TOTP code is accepted once per time step; a replay is
refused, named to the agent and audited as a replay."""

from __future__ import annotations

from django.test import Client as HttpClient

from audit.models import AuditEvent
from tests.conftest import (
    PASSWORD,
    admin_login,
    csrf_post,
    totp_device,
)


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


def test_SEC8_replay_message_in_italian(agent, clock):
    """SECURITY.md 8 in Italian: the agent is told to wait for the next code."""
    from django.test import Client as HttpClient

    from tests.conftest import admin_login, totp_device

    device = totp_device(agent)
    admin_login(HttpClient(enforce_csrf_checks=True), agent, device)
    replay = admin_login(HttpClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="it"), agent, device)
    assert "Attenda il codice successivo" in replay.content.decode()
