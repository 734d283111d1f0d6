"""A2, A3, A5, L4, L5, SECURITY.md 14, 18, 20, 23: an agent issues a
temporary passcode in the admin and reads it out once; passcodes and online
cards are read-only for agents; a passcode can be revoked."""

from __future__ import annotations

import html
import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core import serializers
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import IdentityVerification, User
from agents import actions
from audit.models import AuditEvent
from devices.models import DeviceStatus, Notice, SecurityDevice
from passcodes.models import EndReason, OnlineCard, TemporaryPasscode
from tests.conftest import (
    NOT_VERIFIED,
    PASSWORD,
    VERIFIED,
    admin_client,
    client_url,
    csrf_post,
    give_online_card,
    give_passcode,
    run_at_once,
    staff_user,
    user_url,
)

SECOND = timedelta(seconds=1)
CODE_ON_PAGE = re.compile(r'<output id="passcode"[^>]*>([A-Z0-9 ]+)</output>')


def issue_path(user: User) -> str:
    return client_url(user, "issue-passcode")


def form_post(http: HttpClient, path: str, data: dict):
    """GET the form (its CSRF token and when it was opened), then POST it."""
    page = http.get(path)
    opened = re.search(r'name="opened" value="([^"]+)"', page.content.decode())
    token = http.cookies["csrftoken"].value
    return http.post(path, {"opened": opened.group(1) if opened else "", **data, "csrfmiddlewaretoken": token})


def issue(desk: HttpClient, user: User, *, usernames=None, status="lost", verification=None, path=None):
    data = {"device_status": status, "usernames": usernames or [user.username], **(verification or VERIFIED)}
    return form_post(desk, path or issue_path(user), data)


def shown_code(response) -> str:
    match = CODE_ON_PAGE.search(response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def nothing_written(client) -> None:
    assert not TemporaryPasscode.objects.filter(client=client).exists()
    assert not IdentityVerification.objects.filter(client=client).exists()
    assert not AuditEvent.objects.filter(client=client, action__in=["passcode.issued", "identity.verify"]).exists()
    assert not Notice.objects.filter(client=client).exists()
    assert SecurityDevice.objects.filter(client=client, status=DeviceStatus.ACTIVE).exists()


def web_login_with_passcode(user: User, code: str) -> HttpClient:
    web = HttpClient(enforce_csrf_checks=True)
    first = csrf_post(web, "/login/", {"username": user.username, "password": PASSWORD})
    assert first.status_code == 302 and first.url == "/login/code/", first.content[:300]
    done = csrf_post(web, "/login/code/", {"passcode": code, "factor": 0})
    assert done.status_code == 302 and done.url == "/", done.content[:500]
    return web


# --- item 1: issuing -----------------------------------------------------------------


def test_A2_agent_issues_a_passcode_and_reads_it_out_once(desk, agent, alice, clock, mailoutbox):
    form = desk.get(issue_path(alice))
    assert form.status_code == 200
    page = form.content.decode()
    assert 'value="alice"' in page and 'type="checkbox"' in page and "Temporarily unavailable" in page

    response = issue(desk, alice)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    read_out = shown_code(response)
    assert re.fullmatch(r"[A-Z0-9]{4} [A-Z0-9]{4} [A-Z0-9]{4}", read_out)
    code = read_out.replace(" ", "")
    passcode = TemporaryPasscode.objects.get(user=alice)
    assert passcode.check_token(code) and passcode.issued_by == agent and passcode.device_status == "lost"
    assert SecurityDevice.objects.get(client=alice.client).status == DeviceStatus.LOST
    event = AuditEvent.objects.get(action="passcode.issued")
    assert event.rule == "A2" and event.actor == agent and event.client == alice.client
    assert event.verification == IdentityVerification.objects.get(client=alice.client, reference="CALL-4711")

    clock.shift(SECOND)
    web = web_login_with_passcode(alice, code)
    assert web.get("/").status_code == 200


def test_A2_A5_result_says_what_to_tell_the_client_in_the_client_zone_and_utc(desk, alice, clock, mailoutbox):
    page = issue(desk, alice).content.decode()
    # NOW is 2026-11-02 09:00 UTC; alice lives in Italy (CET in November).
    assert "without spaces" in page
    assert "2026-11-04 10:00 CET" in page and "2026-11-04 09:00 UTC" in page  # A2: 2 days of full access
    assert "2026-11-14 10:00 CET" in page and "2026-11-14 09:00 UTC" in page  # A3: 10 days more
    assert "except withdrawals" in page and "Europe/Rome" in page


def test_SEC23_reloading_or_going_back_never_shows_the_code_again(desk, alice, clock, mailoutbox):
    """A reload or the back button submits the same form again: nothing is issued, nothing shown."""
    path = issue_path(alice)
    form = desk.get(path).content.decode()
    opened = re.search(r'name="opened" value="([^"]+)"', form).group(1)
    data = {"device_status": "lost", "usernames": ["alice"], **VERIFIED, "opened": opened}
    token = desk.cookies["csrftoken"].value
    first = desk.post(path, {**data, "csrfmiddlewaretoken": token})
    code = shown_code(first)
    again = desk.post(path, {**data, "csrfmiddlewaretoken": token})
    assert again.status_code == 410 and "no-store" in again["Cache-Control"]
    assert code not in again.content.decode() and code.replace(" ", "") not in again.content.decode()
    assert "never shown again" in again.content.decode()
    assert TemporaryPasscode.objects.filter(user=alice).count() == 1
    back = desk.get(path).content.decode()
    assert code not in back and code.replace(" ", "") not in back


def test_SEC18_no_admin_page_shows_the_code_or_its_digest_after_it_was_shown(desk, alice, clock, mailoutbox):
    code = shown_code(issue(desk, alice)).replace(" ", "")
    passcode = TemporaryPasscode.objects.get(user=alice)
    event = AuditEvent.objects.get(action="passcode.issued")
    pages = [
        f"/admin/passcodes/temporarypasscode/{passcode.pk}/change/",
        "/admin/passcodes/temporarypasscode/",
        f"/admin/accounts/client/{alice.client_id}/change/",
        client_url(alice, "timeline"),
        f"/admin/audit/auditevent/{event.pk}/change/",
        "/admin/audit/auditevent/",
        issue_path(alice),
    ]
    for path in pages:
        response = desk.get(path)
        assert response.status_code == 200, path
        content = response.content.decode()
        assert code not in content and passcode.code_digest not in content, path


def test_SEC20_the_clear_code_is_in_no_audit_event_log_line_e_mail_or_row(desk, alice, clock, mailoutbox, caplog):
    from devices.jobs import send_notices

    caplog.set_level(logging.DEBUG)
    code = shown_code(issue(desk, alice)).replace(" ", "")
    send_notices(timezone.now(), 100)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [alice.client.email]
    assert code not in mailoutbox[0].body and code not in mailoutbox[0].subject
    event = AuditEvent.objects.get(action="passcode.issued")
    assert code not in json.dumps(event.details) and code not in str(event.__dict__)
    assert all(code not in record.getMessage() for record in caplog.records)
    # Every row of every table, sessions decoded.
    for model in apps.get_models():
        dumped = serializers.serialize("json", model._base_manager.all())
        assert code not in dumped, model
    for session in Session.objects.all():
        assert code not in json.dumps(session.get_decoded(), default=str)


def test_A2_issued_from_the_username_page_with_that_username_chosen(desk, alice, clock, mailoutbox):
    path = user_url(alice, "issue-passcode")
    assert path.encode() in desk.get(f"/admin/accounts/user/{alice.pk}/change/").content
    page = desk.get(path).content.decode()
    assert re.search(r'value="alice"[^>]*checked|checked[^>]*value="alice"', page)
    response = issue(desk, alice, path=path)
    assert response.status_code == 200 and TemporaryPasscode.objects.filter(user=alice).exists()


def test_A2_one_passcode_for_several_usernames(desk, alice, clock, mailoutbox):
    User.objects.create_user(username="alice2", password=PASSWORD, client=alice.client)
    code = shown_code(issue(desk, alice, usernames=["alice", "alice2"])).replace(" ", "")
    passcodes = TemporaryPasscode.objects.filter(client=alice.client)
    assert sorted(p.user.username for p in passcodes) == ["alice", "alice2"]
    assert all(p.check_token(code) for p in passcodes)


def test_A2_no_username_chosen_is_refused_with_a_message(desk, alice, clock, mailoutbox):
    response = form_post(desk, issue_path(alice), {"device_status": "lost", **VERIFIED})
    assert response.status_code == 400
    assert "Choose at least one username of this client" in response.content.decode()
    nothing_written(alice.client)


def test_SEC17_a_username_of_another_client_is_refused(desk, alice, charlie, clock, mailoutbox):
    response = issue(desk, alice, usernames=["charlie"])
    assert response.status_code == 400
    assert "charlie is not a username of this client" in response.content.decode()
    nothing_written(alice.client)
    assert not TemporaryPasscode.objects.filter(user=charlie).exists()


def test_L5_no_verification_no_passcode(desk, alice, clock, mailoutbox):
    response = issue(desk, alice, verification=NOT_VERIFIED)
    assert response.status_code == 400
    assert "Verify the caller's identity first (L5)" in html.unescape(response.content.decode())
    nothing_written(alice.client)


def test_L5_a_recent_verification_of_this_agent_is_enough(desk, agent, alice, clock, mailoutbox):
    actions.record_verification(
        alice.client, actions.NewVerification("callback", "CALL-9"), agent=agent, now=timezone.now()
    )
    clock.shift(timedelta(minutes=5))
    response = issue(desk, alice, verification=NOT_VERIFIED)
    assert response.status_code == 200
    assert TemporaryPasscode.objects.get(user=alice).verification.reference == "CALL-9"


def test_A2_what_happened_to_the_device_is_required(desk, alice, clock, mailoutbox):
    response = issue(desk, alice, status="")
    assert response.status_code == 400 and "Choose what happened to the client" in response.content.decode()
    nothing_written(alice.client)


def test_A2_a_device_temporarily_unavailable(desk, alice, clock, mailoutbox):
    issue(desk, alice, status="unavailable")
    assert SecurityDevice.objects.get(client=alice.client).status == DeviceStatus.UNAVAILABLE
    assert TemporaryPasscode.objects.get(user=alice).device_status == "unavailable"


def test_A8_no_passcode_for_a_closed_account(desk, client_factory, clock, mailoutbox):
    person = client_factory("Dan", "Closed", username="dan", closed_at=timezone.now() - timedelta(days=1))
    user = User.objects.get(username="dan")
    response = issue(desk, user)
    assert response.status_code == 400 and "(A8)" in response.content.decode()
    assert not TemporaryPasscode.objects.filter(client=person).exists()


def test_A2_a_changed_form_is_refused(desk, alice, clock, mailoutbox):
    data = {"device_status": "lost", "usernames": ["alice"], **VERIFIED, "opened": "forged"}
    response = form_post(desk, issue_path(alice), data)
    assert response.status_code == 400 and "open it again" in response.content.decode()
    nothing_written(alice.client)


def test_A2_issuing_needs_the_permission(db, alice, clock, mailoutbox):
    other = staff_user("helpdesk")
    other.user_permissions.add(Permission.objects.get(codename="view_client"))
    http = admin_client(other)
    assert http.get(issue_path(alice)).status_code == 403
    assert issue(http, alice).status_code == 403
    assert not TemporaryPasscode.objects.exists()
    assert b"issue-passcode" not in http.get(f"/admin/accounts/client/{alice.client_id}/change/").content


def test_A2_customer_service_group_has_the_passcode_permissions(agent):
    codenames = set(Group.objects.get(name="Customer service").permissions.values_list("codename", flat=True))
    assert {
        "issue_temporary_passcode",
        "revoke_temporary_passcode",
        "view_temporarypasscode",
        "view_onlinecard",
    } <= codenames


@pytest.mark.django_db(transaction=True)
def test_A2_two_agents_issuing_at_once_both_succeed_in_turn(postgresql, client_factory):
    """PostgreSQL: each waits for the other's row lock; one passcode per username is left not ended."""
    from devices.flows import issue_code_card

    first, second = staff_user("agenta"), staff_user("agentb")
    person = client_factory("Alice", "Rossi", username="alice")
    User.objects.create_user(username="alice2", password=PASSWORD, client=person)
    issue_code_card(person, agent=first, now=timezone.now())
    users = list(User.objects.filter(client=person))
    agents = [first, second]

    def work(index: int):
        return actions.issue_temporary_passcode(
            person,
            users,
            device_status="lost",
            agent=agents[index],
            now=timezone.now(),
            new_verification=actions.NewVerification("callback", f"CALL-{index}"),
            form_opened_at=timezone.now() - timedelta(minutes=1),
        )

    results = run_at_once(2, work)
    assert all(not isinstance(result, BaseException) for result in results), results
    assert TemporaryPasscode.objects.filter(client=person).count() == 4
    live = TemporaryPasscode.objects.filter(client=person, ended_at__isnull=True)
    assert sorted(live.values_list("user__username", flat=True)) == ["alice", "alice2"]
    assert len(set(live.values_list("issued_by", flat=True))) == 1
    assert TemporaryPasscode.objects.filter(client=person, ended_reason=EndReason.REPLACED).count() == 2
    assert AuditEvent.objects.filter(action="passcode.issued", client=person).count() == 2


def test_D5_the_e_mail_has_a_sentence_for_a_device_temporarily_unavailable(agent, alice, clock, mailoutbox):
    device = SecurityDevice.objects.get(client=alice.client)
    alice.client.language = "en"
    alice.client.save(update_fields=["language"])
    actions.report_device(
        device,
        DeviceStatus.UNAVAILABLE,
        agent=agent,
        now=timezone.now(),
        new_verification=actions.NewVerification("callback", "CALL-5"),
    )
    body = mailoutbox[0].body
    assert f"with serial number {device.serial} is not with you for a while" in body
    assert "damaged" not in body.split("\n\n")[1]


# --- item 2: read-only passcodes and cards, revocation -------------------------------------


def test_SEC18_passcodes_and_cards_are_read_only_and_show_no_secret(desk, alice, clock, mailoutbox):
    give_passcode(alice)
    card = give_online_card(alice)
    passcode = TemporaryPasscode.objects.get(user=alice)
    for model, obj, secret in (
        ("temporarypasscode", passcode, passcode.code_digest),
        ("onlinecard", card, card.seed_encrypted),
    ):
        change = desk.get(f"/admin/passcodes/{model}/{obj.pk}/change/")
        assert change.status_code == 200
        content = change.content.decode()
        assert secret not in content and "code_digest" not in content and "seed" not in content.lower()
        assert 'name="_save"' not in content and f"/{obj.pk}/delete/" not in content
        assert desk.get(f"/admin/passcodes/{model}/add/").status_code == 403
        assert desk.get(f"/admin/passcodes/{model}/{obj.pk}/delete/").status_code == 403
        listing = desk.get(f"/admin/passcodes/{model}/")
        assert listing.status_code == 200 and secret not in listing.content.decode()
        assert "alice" in listing.content.decode()
    assert card.seed.hex() not in desk.get(f"/admin/passcodes/onlinecard/{card.pk}/change/").content.decode()


def test_SEC18_passcode_lists_search_by_exact_username(desk, alice, charlie, clock, mailoutbox):
    give_passcode(alice)
    give_passcode(charlie)
    page = desk.get("/admin/passcodes/temporarypasscode/", {"q": "alice"}).content.decode()
    assert "alice" in page and "charlie" not in page


def test_SEC5_agent_revokes_a_passcode_and_its_session_ends(desk, agent, alice, clock, mailoutbox):
    code = give_passcode(alice)
    clock.shift(SECOND)
    web = web_login_with_passcode(alice, code)
    passcode = TemporaryPasscode.objects.get(user=alice)
    change = f"/admin/passcodes/temporarypasscode/{passcode.pk}/change/"
    revoke = f"/admin/passcodes/temporarypasscode/{passcode.pk}/revoke/"
    assert revoke.encode() in desk.get(change).content
    response = csrf_post(desk, revoke, VERIFIED)
    assert response.status_code == 302 and response.url == change
    passcode.refresh_from_db()
    assert passcode.ended_at == timezone.now() and passcode.ended_reason == EndReason.REVOKED
    event = AuditEvent.objects.get(action="passcode.revoked")
    assert event.actor == agent and event.username == "alice" and event.verification.reference == "CALL-4711"
    assert web.get("/").status_code == 302  # principle 2: the session that rode on it ends
    assert revoke.encode() not in desk.get(change).content


def test_SEC5_revoking_needs_a_verification_and_a_live_passcode(desk, alice, clock, mailoutbox):
    give_passcode(alice)
    clock.shift(timedelta(hours=1))  # the verification made to issue it is no longer good
    passcode = TemporaryPasscode.objects.get(user=alice)
    revoke = f"/admin/passcodes/temporarypasscode/{passcode.pk}/revoke/"
    refused = csrf_post(desk, revoke, NOT_VERIFIED)
    assert refused.status_code == 400 and "Verify the caller's identity first" in html.unescape(
        refused.content.decode()
    )
    passcode.refresh_from_db()
    assert passcode.ended_at is None and not AuditEvent.objects.filter(action="passcode.revoked").exists()
    csrf_post(desk, revoke, VERIFIED)
    again = csrf_post(desk, revoke, VERIFIED)
    assert again.status_code == 400 and "nothing to revoke" in again.content.decode()
    assert AuditEvent.objects.filter(action="passcode.revoked").count() == 1


def test_SEC18_revoking_needs_the_permission(db, alice, clock, mailoutbox):
    give_passcode(alice)
    passcode = TemporaryPasscode.objects.get(user=alice)
    other = staff_user("viewer")
    other.user_permissions.add(Permission.objects.get(codename="view_temporarypasscode"))
    http = admin_client(other)
    assert http.get(f"/admin/passcodes/temporarypasscode/{passcode.pk}/revoke/").status_code == 403
    assert b"/revoke/" not in http.get(f"/admin/passcodes/temporarypasscode/{passcode.pk}/change/").content


def test_SEC18_an_online_card_shows_its_expiry_not_its_codes(desk, alice, clock):
    card = give_online_card(alice)
    page = desk.get(f"/admin/passcodes/onlinecard/{card.pk}/change/").content.decode()
    assert "Full access" in page and "2026-11-23 09:00" in page  # A4: 21 days from activation
    assert isinstance(card, OnlineCard)


# --- item 5: the demo's interim personas ----------------------------------------------------


def test_A2_A3_demo_personas_log_in_with_the_passcodes_the_guide_prints(settings, db):
    from passcodes.models import Phase

    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    guide = out.getvalue()
    now = timezone.now()
    phases = {}
    for username in ("passcode1", "passcode5"):
        passcode = TemporaryPasscode.objects.get(user__username=username, ended_at__isnull=True)
        code = re.search(rf"{username}\s.*?passcode ([A-Z0-9]{{12}})", guide).group(1)
        assert passcode.check_token(code), username
        phases[username] = passcode.current_phase(now)
    assert phases == {"passcode1": Phase.FULL, "passcode5": Phase.RESTRICTED}
    cards = {card.user.username: card for card in OnlineCard.objects.filter(ended_at__isnull=True)}
    warning = settings.SLS["ONLINE_CARD_WARNING_BEFORE"]
    assert cards["cardactive1"].window(now)[0] == Phase.FULL
    assert cards["cardactive1"].expires_at(now) - now > warning
    assert cards["cardexpiring1"].window(now)[0] == Phase.FULL
    assert cards["cardexpiring1"].expires_at(now) - now < warning
    replacement = cards["replacement1"]
    assert replacement.window(now)[0] == Phase.FULL
    order = replacement.client.device_orders.get(cancelled_at__isnull=True)
    assert order.status(now) == "shipped"
    assert order.device.serial in guide
    # Run again (make run each time): the same codes, the same states.
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert again.getvalue() == guide
    assert TemporaryPasscode.objects.filter(user__username="passcode1").count() == 1
