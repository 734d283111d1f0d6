"""The agents' admin: second factor, permissions, identity verification, agent actions.

SECURITY.md 5, 13, 16, 18; RULES.md L3, L5, D5; ARCHITECTURE.md "Agents".
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import IdentityVerification, User
from agents import actions
from agents.admin_site import ADMIN_DEVICE_SESSION_KEY
from audit.models import AuditEvent
from devices.models import DeviceStatus, SecurityDevice
from login import lockout
from login.models import LoginGuard
from tests.conftest import PASSWORD, csrf_post, login_fully

# What an agent types after asking the caller's security questions.
VERIFIED = {"method": "security_questions", "reference": "CALL-4711", "notes": "Asked 3 questions, all right."}
NOT_VERIFIED = {"method": "", "reference": "", "notes": ""}


def totp_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
    return device


def current_token(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def admin_client(user: User) -> HttpClient:
    """A CSRF-enforcing browser session in the admin, past both factors."""
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(user)
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = session[ADMIN_DEVICE_SESSION_KEY] = totp_device(user).persistent_id
    session.save()
    return http


def staff_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    make = User.objects.create_superuser if superuser else User.objects.create_user
    user = make(username=username, password=PASSWORD, is_staff=True, email=f"{username}@sls.example")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def lock(username: str) -> None:
    now = timezone.now()
    LoginGuard.objects.update_or_create(username=username, defaults={"locked_until": now + timedelta(hours=24)})


def user_url(user: User, action: str) -> str:
    return f"/admin/accounts/user/{user.pk}/{action}/"


def client_url(user: User, action: str) -> str:
    return f"/admin/accounts/client/{user.client_id}/{action}/"


@pytest.fixture
def desk(agent) -> HttpClient:
    """The Customer-service agent's browser, logged in to the admin."""
    assert agent.groups.filter(name="Customer service").exists()
    return admin_client(agent)


@pytest.fixture
def root(db) -> User:
    return staff_user("root", superuser=True)


# --- Second factor and permissions (SECURITY.md 18) -------------------------


def admin_login(web: HttpClient, agent: User, device: TOTPDevice):
    """The admin's login form with the password and the device's current code."""
    return csrf_post(
        web,
        "/admin/login/",
        {
            "username": agent.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": current_token(device),
        },
    )


def test_admin_requires_second_factor(agent):
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


def test_client_cannot_enter_admin(alice, clock):
    """SECURITY.md 18: a client's fully verified session is not an agent's."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    response = web.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


@pytest.mark.parametrize("group", [None, "Security team"])
def test_agent_without_permission_gets_403(alice, group):
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


def test_action_links_follow_permissions(desk, alice, db):
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


def test_16_agent_action_without_csrf_token_refused(alice, agent):
    """SECURITY.md 16 (ASVS 4.2.2): an agent action POST without a token fails and changes nothing."""
    http = admin_client(agent)
    lock("alice")
    response = http.post(user_url(alice, "unlock"), VERIFIED)
    assert response.status_code == 403
    assert lockout.locked_until("alice") is not None


def test_staff_edited_by_superusers_only(agent, alice, root):
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


def test_admin_never_shows_password_hash_or_seed(root, alice):
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


# --- L3: unlock ---------------------------------------------------------------


def test_L3_agent_unlock_requires_identity_verification(desk, alice):
    """L3 (s371), L5: without a verification the form names the rule and nothing changes."""
    lock("alice")
    response = csrf_post(desk, user_url(alice, "unlock"), NOT_VERIFIED)
    assert response.status_code == 400
    text = response.content.decode()
    assert "(L5)" in text
    # The error is tied to its field for assistive technology.
    assert re.search(r'<select[^>]+aria-invalid="true"[^>]+aria-describedby="id_method_error"', text) or re.search(
        r'<select[^>]+aria-describedby="id_method_error"[^>]*aria-invalid="true"', text
    )
    assert 'id="id_method_error"' in text
    assert lockout.locked_until("alice") is not None
    assert not IdentityVerification.objects.exists()
    assert not AuditEvent.objects.filter(action="lockout.unlock").exists()


def test_L3_agent_unlock_with_verification_in_the_same_form(desk, alice, agent):
    """L3 (s371): verification and unlock in one step; the lock and the count are gone."""
    lock("alice")
    response = csrf_post(desk, user_url(alice, "unlock"), VERIFIED)
    assert response.status_code == 302 and response.url == f"/admin/accounts/user/{alice.pk}/change/"
    assert lockout.locked_until("alice") is None
    verification = IdentityVerification.objects.get()
    assert (verification.client, verification.agent, verification.reference) == (alice.client, agent, "CALL-4711")
    assert "is unlocked" in desk.get(response.url).content.decode()


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


# --- L5: password-reset link ----------------------------------------------------


def _reset_link(mail) -> str:
    return re.search(r"https://portal\.sls\.example(/password/reset/\S+/)", mail.body).group(1)


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


def test_agent_actions_do_not_apply_to_staff(desk, root):
    """Agent actions are for clients' usernames; a staff username has none (404)."""
    assert desk.get(user_url(root, "send-password-reset")).status_code == 404


# --- SECURITY.md 5: end all sessions ----------------------------------------------


def test_end_all_sessions_logs_client_out(desk, alice, clock):
    """SECURITY.md 5 (ASVS 2.8.6, 5.0 V7.4.2): an agent ends the client's sessions; the next request goes to /login/."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    assert web.get("/").status_code == 200
    clock.shift(timedelta(minutes=5))

    response = csrf_post(desk, user_url(alice, "end-sessions"), VERIFIED)
    assert response.status_code == 302
    after = web.get("/")
    assert after.status_code == 302 and after.url.startswith("/login/")

    clock.shift(timedelta(minutes=1))
    fresh = HttpClient(enforce_csrf_checks=True)
    login_fully(fresh, alice)
    assert fresh.get("/").status_code == 200


def test_end_all_sessions_needs_identity_verification(desk, alice, clock):
    """SECURITY.md 5, L5: without a verification the sessions live on."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    response = csrf_post(desk, user_url(alice, "end-sessions"), NOT_VERIFIED)
    assert response.status_code == 400
    assert web.get("/").status_code == 200


# --- D5: Security Code Card -----------------------------------------------------


def test_code_card_pdf_downloaded_once(desk, bob, agent):
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


def test_code_card_printout_only_for_the_issuing_agent(alice, db):
    """Principle 4: another agent, even allowed to issue cards, cannot print someone else's card."""
    colleague = admin_client(staff_user("agent8", group="Customer service"))
    device = SecurityDevice.objects.get(client=alice.client)
    assert colleague.get(f"/admin/devices/securitydevice/{device.pk}/printout/").status_code == 403


def test_D5_issue_code_card_refused_when_client_has_an_active_device(desk, alice):
    """D5: one device at a time; the refusal names the rule and records nothing, not even the verification."""
    response = csrf_post(desk, client_url(alice, "issue-code-card"), VERIFIED)
    assert response.status_code == 400
    assert b"(D5)" in response.content
    assert SecurityDevice.objects.filter(client=alice.client).count() == 1
    assert not IdentityVerification.objects.exists()


def test_D5_issue_code_card_needs_identity_verification(desk, bob):
    """D5, L5: no verification, no card."""
    response = csrf_post(desk, client_url(bob, "issue-code-card"), NOT_VERIFIED)
    assert response.status_code == 400 and b"(L5)" in response.content
    assert not SecurityDevice.objects.filter(client=bob.client).exists()


def test_device_status_is_read_only_in_admin(root, alice):
    """STYLE.md 7: a device's status changes only through explicit actions, never a free edit."""
    http = admin_client(root)
    device = SecurityDevice.objects.get(client=alice.client)
    page = http.get(f"/admin/devices/securitydevice/{device.pk}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content
    change_url = f"/admin/devices/securitydevice/{device.pk}/change/"
    assert csrf_post(http, change_url, {"status": "revoked"}).status_code == 403
    assert http.get("/admin/devices/securitydevice/add/").status_code == 403
    device.refresh_from_db()
    assert device.status == DeviceStatus.ACTIVE


# --- Finding people ---------------------------------------------------------------


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


def test_L3_user_list_shows_lock_status(desk, alice, bob):
    """L3: the username list says which usernames are locked, and until when."""
    lock("alice")
    page = desk.get("/admin/accounts/user/").content.decode()
    assert "locked until" in page and "not locked" in page


@pytest.mark.parametrize("url", ["/admin/accounts/user/", "/admin/accounts/client/", "/admin/devices/securitydevice/"])
def test_change_lists_use_constant_queries(desk, client_factory, agent, url):
    """ARCHITECTURE.md Scale: a list's query count does not grow with its rows (list_select_related)."""
    from devices.flows import issue_code_card

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(url).status_code == 200
        return len(queries)

    person = client_factory("Dan", "Uno", username="dan")
    issue_code_card(person, agent=agent, now=timezone.now())
    few = count()
    for index in range(5):
        person = client_factory(f"P{index}", "Many", username=f"p{index}")
        issue_code_card(person, agent=agent, now=timezone.now())
    assert count() == few


def test_L3_agent_login_counts_failures_and_locks(agent, clock):
    """L3 for agents too, SECURITY.md 20: ten failed admin logins lock the
    username; while locked even the right password and code are refused,
    and every decision is an audit event."""
    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    for _ in range(10):
        csrf_post(web, "/admin/login/", {"username": agent.username, "password": "wrong password here"})
    assert AuditEvent.objects.filter(action="admin.login", outcome="failed", username=agent.username).count() == 10
    locked = admin_login(web, agent, device)
    assert locked.status_code == 200
    assert b"locked after 10 failed login attempts" in locked.content
    assert web.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="admin.login", outcome="locked").count() == 1


def test_20_agent_login_success_audited(agent, clock):
    """SECURITY.md 20: a successful agent login is an audit event naming the agent."""
    device = totp_device(agent)
    web = HttpClient(enforce_csrf_checks=True)
    ok = admin_login(web, agent, device)
    assert ok.status_code == 302
    event = AuditEvent.objects.get(action="admin.login", outcome="ok")
    assert event.actor == agent and event.ip == "127.0.0.1"


def test_18_agent_authenticator_command_shows_secret_once(agent):
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
