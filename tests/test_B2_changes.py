"""B2 and SECURITY.md 15: banking instructions and e-mail changes; the Security team's approvals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from accounts.models import BankingInstructions, ChangeRequest, Client
from audit.models import AuditEvent
from tests.conftest import VERIFIED, admin_client, card_codes_for, csrf_post, staff_user
from tests.test_B1_withdrawals import IBAN, logged_in, on_file

NEW_BANKING = {
    "account_holder": "Alice Rossi",
    "bank_name": "Nuova Banca",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "account_number": "",
    "routing_number": "",
}


def confirm_device(http, user, next_url="/settings/banking/"):
    from devices.reauth import CHALLENGE

    page = http.get(f"/settings/security/confirm/?next={next_url}")
    assert page.status_code == 200
    positions = http.session[CHALLENGE]["challenge"]["positions"]
    codes = card_codes_for(user, positions)
    return csrf_post_keep(
        http, "/settings/security/confirm/", {"code_1": codes[0], "code_2": codes[1], "next": next_url}
    )


def csrf_post_keep(http, path, data):
    """POST with the CSRF cookie already set, without a GET (which would ask a new challenge)."""
    return http.post(path, {**data, "csrfmiddlewaretoken": http.cookies["csrftoken"].value})


def test_SEC15_enrolled_change_needs_a_fresh_second_factor(alice, clock):
    on_file(alice)
    http = logged_in(alice)
    response = http.get("/settings/banking/")
    assert response.status_code == 302 and response.url.startswith("/settings/security/confirm/?next=")
    done = confirm_device(http, alice)
    assert done.status_code == 302 and done.url == "/settings/banking/"
    assert AuditEvent.objects.filter(action="factor.reconfirm", outcome="passed").exists()
    assert http.get("/settings/banking/").status_code == 200
    clock.shift(timedelta(minutes=5) + timedelta(seconds=1))
    assert http.get("/settings/banking/").status_code == 302


def test_SEC15_fresh_factor_one_second_before_the_end(alice, clock):
    http = logged_in(alice)
    confirm_device(http, alice)
    clock.shift(timedelta(minutes=5) - timedelta(seconds=1))
    assert http.get("/settings/banking/").status_code == 200


def test_SEC15_wrong_codes_do_not_confirm(alice):
    http = logged_in(alice)
    http.get("/settings/security/confirm/?next=/settings/banking/")
    response = csrf_post_keep(http, "/settings/security/confirm/", {"code_1": "222", "code_2": "222"})
    assert response.status_code == 400
    assert "do not match" in response.content.decode()
    assert AuditEvent.objects.filter(action="factor.reconfirm", outcome="failed").exists()
    assert http.get("/settings/banking/").status_code == 302


def test_SEC15_confirm_page_is_for_enrolled_sessions(bob):
    assert logged_in(bob).get("/settings/security/confirm/").status_code == 403


def test_SEC19_confirm_redirects_only_to_our_site(alice):
    http = logged_in(alice)
    done = confirm_device(http, alice, next_url="https://evil.example/")
    assert done.status_code == 302 and done.url == "/"


def test_B2_enrolled_banking_change_applies_and_notifies_old_address_in_italian(alice):
    on_file(alice)
    http = logged_in(alice)
    confirm_device(http, alice)
    mail.outbox.clear()
    response = csrf_post(http, "/settings/banking/", NEW_BANKING)
    assert response.status_code == 302
    current = BankingInstructions.objects.get(client=alice.client, replaced_at__isnull=True)
    assert current.iban == "GB82WEST12345698765432"
    assert BankingInstructions.objects.filter(client=alice.client, iban=IBAN, replaced_at__isnull=False).exists()
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
    assert "coordinate bancarie" in mail.outbox[0].subject  # alice's language is Italian
    assert "GB82WEST12345698765432" not in mail.outbox[0].body and "••••5432" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="change.apply", rule="B2").exists()
    assert not ChangeRequest.objects.exists()


def test_B2_enrolled_email_change_tells_old_and_new(alice):
    http = logged_in(alice)
    confirm_device(http, alice, next_url="/settings/email/")
    mail.outbox.clear()
    assert csrf_post(http, "/settings/email/", {"email": "alice.new@example.com"}).status_code == 302
    alice.refresh_from_db()
    assert alice.client.email == "alice.new@example.com" and alice.email == "alice.new@example.com"
    assert sorted(mail.outbox[0].to) == ["alice.new@example.com", "alice@example.com"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({**NEW_BANKING, "iban": "GB00WEST12345698765432"}, "That IBAN is not valid"),
        ({**NEW_BANKING, "iban": ""}, "Give an IBAN, or a US bank account number"),
        ({**NEW_BANKING, "account_number": "12345678", "routing_number": "011000015"}, "not both"),
        ({**NEW_BANKING, "iban": "", "account_number": "12345678", "routing_number": "011000016"}, "check digit"),
        ({**NEW_BANKING, "account_holder": ""}, "Enter the account holder"),
        ({**NEW_BANKING, "bank_name": "x" * 500}, "at most 140"),
        ({**NEW_BANKING, "bank_name": "a\x00b"}, "Null characters"),
    ],
)
def test_B2_bad_banking_input_is_400_and_nothing_changes(bob, data, says):
    http = logged_in(bob)
    response = csrf_post(http, "/settings/banking/", data)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not ChangeRequest.objects.exists() and not BankingInstructions.objects.exists()


def test_B2_unenrolled_change_waits_for_approval(bob):
    http = logged_in(bob)
    mail.outbox.clear()
    response = csrf_post(
        http,
        "/settings/banking/",
        {**NEW_BANKING, "iban": "", "account_number": "12345678", "routing_number": "011000015"},
    )
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.status == "pending" and change.kind == "banking"
    assert not BankingInstructions.objects.exists()
    page = http.get("/settings/banking/").content.decode()
    assert "waiting for approval by our Security team" in page and "••••5678" in page
    assert mail.outbox[0].to == ["bob@example.com"]
    again = csrf_post(http, "/settings/banking/", NEW_BANKING)
    assert again.status_code == 403 and "already asked" in again.content.decode()
    assert ChangeRequest.objects.count() == 1


def test_SEC16_change_without_csrf_token_is_refused(bob):
    http = logged_in(bob)
    assert http.post("/settings/email/", {"email": "x@example.com"}).status_code == 403
    assert not ChangeRequest.objects.exists()


def test_B2_email_same_as_current_is_named(bob):
    response = csrf_post(logged_in(bob), "/settings/email/", {"email": "bob@example.com"})
    assert response.status_code == 400 and "already your e-mail address" in response.content.decode()


# --- the Security team's queue ---------------------------------------------------


@pytest.fixture
def pending_email(bob):
    csrf_post(logged_in(bob), "/settings/email/", {"email": "bob.new@example.com"})
    return ChangeRequest.objects.get()


@pytest.fixture
def security_agent(agent):
    return staff_user("sec1", group="Security team")


def test_B2_queue_lists_pending_by_age(security_agent, pending_email, bob):
    page = admin_client(security_agent).get("/admin/accounts/changerequest/").content.decode()
    assert "bob.new@example.com" in page
    decided = admin_client(security_agent).get("/admin/accounts/changerequest/?status=approved").content.decode()
    assert "bob.new@example.com" not in decided


def test_B2_approve_applies_audits_and_mails(security_agent, pending_email, bob):
    desk = admin_client(security_agent)
    url = f"/admin/accounts/changerequest/{pending_email.pk}/approve/"
    mail.outbox.clear()
    response = csrf_post(desk, url, VERIFIED)
    assert response.status_code == 302
    pending_email.refresh_from_db()
    assert pending_email.status == "approved" and pending_email.decided_by == security_agent
    assert Client.objects.get(pk=bob.client_id).email == "bob.new@example.com"
    event = AuditEvent.objects.get(action="change.approve")
    assert event.rule == "B2" and event.actor == security_agent and event.verification is not None
    assert sorted(mail.outbox[0].to) == ["bob.new@example.com", "bob@example.com"]
    again = csrf_post(desk, url, VERIFIED)
    assert again.status_code == 400 and "already decided" in again.content.decode()
    assert AuditEvent.objects.filter(action="change.approve").count() == 1


def test_B2_reject_needs_a_reason_and_changes_nothing(security_agent, pending_email, bob):
    desk = admin_client(security_agent)
    url = f"/admin/accounts/changerequest/{pending_email.pk}/reject/"
    assert csrf_post(desk, url, VERIFIED).status_code == 400
    pending_email.refresh_from_db()
    assert pending_email.status == "pending"
    mail.outbox.clear()
    assert csrf_post(desk, url, {**VERIFIED, "reason": "The call-back did not reach the client."}).status_code == 302
    pending_email.refresh_from_db()
    assert pending_email.status == "rejected" and pending_email.reason.startswith("The call-back")
    assert Client.objects.get(pk=bob.client_id).email == "bob@example.com"
    assert AuditEvent.objects.filter(action="change.reject", rule="B2").exists()
    assert "call-back did not reach" in mail.outbox[0].body


def test_B2_decision_needs_identity_verification(security_agent, pending_email):
    desk = admin_client(security_agent)
    response = csrf_post(
        desk, f"/admin/accounts/changerequest/{pending_email.pk}/approve/", {"method": "", "reference": ""}
    )
    assert response.status_code == 400 and "Verify the caller" in response.content.decode()
    pending_email.refresh_from_db()
    assert pending_email.status == "pending"


def test_B2_customer_service_cannot_decide(agent, pending_email):
    desk = admin_client(agent)
    assert csrf_post(desk, f"/admin/accounts/changerequest/{pending_email.pk}/approve/", VERIFIED).status_code == 403
    pending_email.refresh_from_db()
    assert pending_email.status == "pending"


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999999", "999999"])
def test_B2_bad_ids_are_404(security_agent, object_id):
    assert admin_client(security_agent).get(f"/admin/accounts/changerequest/{object_id}/approve/").status_code == 404


def test_B2_italian_pages(bob):
    http = logged_in(bob, HTTP_ACCEPT_LANGUAGE="it")
    page = http.get("/settings/banking/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Coordinate bancarie" in page and "team di sicurezza" in page
    csrf_post(http, "/settings/email/", {"email": "bob.new@example.com"}, HTTP_ACCEPT_LANGUAGE="it")
    page = http.get("/settings/email/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "in attesa" in page
