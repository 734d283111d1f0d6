"""The audit trail of agent actions (ARCHITECTURE.md principle 7, SECURITY.md 20-21)."""

from __future__ import annotations

import json
import logging

from django.utils import timezone

from accounts.models import IdentityVerification
from agents import actions
from audit import trail
from audit.models import AuditEvent
from devices.models import SecurityDevice
from tests.conftest import csrf_post
from tests.test_admin import VERIFIED, admin_client, client_url, lock, staff_user, user_url

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


def test_5_end_sessions_audited(agent, alice):
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


def test_refused_agent_action_writes_nothing(agent, alice):
    """L5: an action refused for want of a verification leaves no event and no record behind."""
    http = admin_client(agent)
    before = AuditEvent.objects.count()
    csrf_post(http, user_url(alice, "end-sessions"), {"method": "", "reference": "", "notes": ""})
    assert AuditEvent.objects.count() == before
    assert not IdentityVerification.objects.exists()


def test_audit_log_is_read_only_in_admin(alice, db):
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
    assert bulk.status_code in (200, 302)

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


def test_20_newline_in_username_cannot_forge_a_log_line(db, caplog):
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
