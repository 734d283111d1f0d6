"""The audit trail (ARCHITECTURE.md principle 7, SECURITY.md 20-21): every
decision and agent action is an event; no secret in it; read-only."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings as django_settings
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import IdentityVerification
from agents import actions
from audit import trail
from audit.models import AuditEvent
from devices.models import SecurityDevice
from tests.conftest import (
    PASSWORD,
    VERIFIED,
    WRONG,
    admin_client,
    admin_login,
    card_codes_for,
    client_url,
    csrf_post,
    lock,
    log_in_step_one,
    pending_positions,
    staff_user,
    totp_device,
    user_url,
)

ADDRESS = "203.0.113.7"


def _only(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def test_L3_agent_unlock_audited_with_agent_client_and_verification(agent, alice):
    """L3 (s371), SECURITY.md 20: who, what, to whom, when, from where, and why (the verification)."""
    http = admin_client(agent)
    lock("alice")
    csrf_post(http, user_url(alice, "unlock"), VERIFIED, REMOTE_ADDR=ADDRESS)
    event = _only("lockout.unlock")
    verification = IdentityVerification.objects.get()
    assert event.actor == agent
    assert event.client == alice.client
    assert event.username == "alice"
    assert event.verification == verification
    assert event.ip == ADDRESS
    assert event.rule == "L3" and event.outcome == "ok"
    assert event.details == {"was_locked": True}
    assert event.at.utcoffset().total_seconds() == 0
    recorded = _only("identity.verify")
    assert (recorded.actor, recorded.client, recorded.verification, recorded.ip) == (
        agent,
        alice.client,
        verification,
        ADDRESS,
    )


def test_L5_reset_link_audited_without_the_link(agent, alice, mailoutbox, caplog):
    """L5, SECURITY.md 20: the event names the username and verification; the link (a secret) is nowhere in it."""
    http = admin_client(agent)
    with caplog.at_level(logging.INFO, logger="sls.audit"):
        csrf_post(http, user_url(alice, "send-password-reset"), VERIFIED, REMOTE_ADDR=ADDRESS)
    event = _only("password_reset.send")
    assert (event.actor, event.client, event.username, event.ip, event.rule) == (
        agent,
        alice.client,
        "alice",
        ADDRESS,
        "L5",
    )
    assert event.verification is not None
    token = mailoutbox[0].body.split("/password/reset/")[1].split("/")[1]
    assert token not in json.dumps(event.details)
    assert token not in caplog.text


def test_SEC20_end_sessions_audited(agent, alice):
    """SECURITY.md 5 and 20: ending a client's sessions is an audited agent action."""
    http = admin_client(agent)
    csrf_post(http, user_url(alice, "end-sessions"), VERIFIED, REMOTE_ADDR=ADDRESS)
    event = _only("sessions.end_all")
    assert (event.actor, event.client, event.username, event.ip) == (agent, alice.client, "alice", ADDRESS)
    assert event.verification == IdentityVerification.objects.get()


def test_D5_code_card_issue_and_printout_audited(agent, bob):
    """D5, SECURITY.md 20: issuing a card and each printout attempt are events, the refused one too."""
    http = admin_client(agent)
    response = csrf_post(http, client_url(bob, "issue-code-card"), VERIFIED, REMOTE_ADDR=ADDRESS)
    device = SecurityDevice.objects.get(client=bob.client)
    issued = _only("device.issue")
    assert (issued.actor, issued.client, issued.ip) == (agent, bob.client, ADDRESS)
    assert issued.verification == IdentityVerification.objects.get()
    assert issued.details["serial"] == device.serial

    csrf_post(http, response.url, {}, REMOTE_ADDR=ADDRESS)
    csrf_post(http, response.url, {}, REMOTE_ADDR=ADDRESS)
    printouts = AuditEvent.objects.filter(action="device.printout").order_by("id")
    outcomes = list(printouts.values_list("outcome", flat=True))
    assert outcomes == ["ok", "refused"]


def test_L5_refused_agent_action_writes_nothing(agent, alice):
    """L5: an action refused for want of a verification leaves no event and no record behind."""
    http = admin_client(agent)
    before = AuditEvent.objects.count()
    csrf_post(http, user_url(alice, "end-sessions"), {"method": "", "reference": "", "notes": ""})
    assert AuditEvent.objects.count() == before
    assert not IdentityVerification.objects.exists()


def test_SEC21_audit_log_is_read_only_in_admin(alice, db):
    """SECURITY.md 21, principle 7: no add, change or delete of audit events, not even for a superuser."""
    root = staff_user("root", superuser=True)
    http = admin_client(root)
    event = trail.record("login", client=alice.client, username="alice")
    count = AuditEvent.objects.count()
    base = "/admin/audit/auditevent/"

    assert http.get(base).status_code == 200
    assert http.get(f"{base}{event.pk}/change/").status_code == 200  # view only
    assert b'name="_save"' not in http.get(f"{base}{event.pk}/change/").content
    assert http.get(f"{base}add/").status_code == 403
    assert csrf_post(http, f"{base}{event.pk}/change/", {"action": "forged", "username": "x"}).status_code == 403
    assert http.get(f"{base}{event.pk}/delete/").status_code == 403
    token = http.cookies["csrftoken"].value
    assert http.post(f"{base}{event.pk}/delete/", {"post": "yes", "csrfmiddlewaretoken": token}).status_code == 403
    bulk = http.post(
        base, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes", "csrfmiddlewaretoken": token}
    )
    assert bulk.status_code == 200  # the list again: no delete action to run

    event.refresh_from_db()
    assert event.action == "login" and AuditEvent.objects.count() == count
    assert b"Delete selected" not in http.get(base).content


def test_audit_list_filters_and_search(agent, alice, bob):
    """Principle 7: agents find events by action, outcome and username."""
    http = admin_client(agent)
    trail.record("login", client=alice.client, username="alice")
    trail.record("login.password", client=bob.client, username="bob", outcome="failed", rule="L2")
    by_username = http.get("/admin/audit/auditevent/", {"q": "bob"})
    assert by_username.status_code == 200
    assert b">bob<" in by_username.content and b">alice<" not in by_username.content
    by_outcome = http.get("/admin/audit/auditevent/", {"outcome": "failed"})
    assert b">bob<" in by_outcome.content and b">alice<" not in by_outcome.content
    by_action = http.get("/admin/audit/auditevent/", {"action": "login"})
    assert b">alice<" in by_action.content and b">bob<" not in by_action.content


def test_SEC20_newline_in_username_cannot_forge_a_log_line(db, caplog):
    """SECURITY.md 20 (ASVS 7.3.1): one event is one JSON line, whatever the username holds."""
    forged = 'x"}\n{"action": "lockout.unlock", "actor": 1'
    with caplog.at_level(logging.INFO, logger="sls.audit"):
        trail.record("login.password", username=forged, outcome="failed", at=timezone.now())
    lines = [r.getMessage() for r in caplog.records if r.name == "sls.audit"]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert json.loads(lines[0])["action"] == "login.password"


def test_L5_verification_reused_names_the_original_record(agent, alice):
    """Principle 7 ("why"): an action that reuses a recent verification points at that record."""
    verification = actions.record_verification(
        alice.client, actions.NewVerification("callback", "CALL-77"), agent=agent, now=timezone.now()
    )
    actions.end_all_sessions(alice, agent=agent, now=timezone.now())
    assert _only("sessions.end_all").verification == verification


def test_SEC20_login_audit_holds_no_password_or_code(web, alice, clock, caplog):
    """ASVS 7.1.1, 5.0 V16.2.5: no password, code or session key in events or logs."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    log_in_step_one(web, "alice", WRONG)
    log_in_step_one(web, "alice", PASSWORD)
    csrf_post(web, "/login/code/", {"code_1": "ZZZ", "code_2": "YYY"})
    clock.shift(timedelta(seconds=2))  # past the device's throttle
    codes = card_codes_for(alice, pending_positions(web))
    csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    session_key = web.cookies[django_settings.SESSION_COOKIE_NAME].value

    events = list(AuditEvent.objects.filter(username="alice").values())
    assert {event["outcome"] for event in events} >= {"failed", "passed", "ok"}
    stored = json.dumps(events, default=str)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "the audit events are logged"
    for text in (stored, logged):
        for secret in (PASSWORD, WRONG, "".join(codes), "ZZZYYY", session_key):
            assert secret not in text
        for code in codes:
            assert f'"{code}"' not in text
        assert "password" not in json.dumps([event["details"] for event in events])


def test_SEC20_log_line_escapes_a_newline_in_the_username(db, caplog):
    """ASVS 7.3.1, 5.0 V16.4.1: a username cannot forge a second log line."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    forged = 'eve\n{"action": "login", "outcome": "ok", "username": "alice"}'
    trail.record("login.password", username=forged, outcome="failed")
    [record] = [record for record in caplog.records if record.name == "sls.audit"]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["username"] == forged


def test_SEC20_agent_login_success_audited(agent, clock):
    """SECURITY.md 20: a successful agent login is an audit event naming the agent."""
    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    ok = admin_login(web, agent, device)
    assert ok.status_code == 302
    event = AuditEvent.objects.get(action="admin.login", outcome="ok")
    assert event.actor == agent and event.ip == "127.0.0.1"


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
