"""D5, T6, SECURITY.md 5: an agent reports a client's device lost, stolen or damaged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import IdentityVerification, User
from audit.models import AuditEvent
from devices.flows import DeviceConflict, issue_device, report_device
from devices.models import DeviceStatus, SecurityDevice
from tests.conftest import NOT_VERIFIED, PASSWORD, VERIFIED, admin_client, csrf_post, login_fully, staff_user

REASONS = [DeviceStatus.LOST, DeviceStatus.STOLEN, DeviceStatus.DAMAGED]


def device_of(user: User) -> SecurityDevice:
    return SecurityDevice.objects.get(client=user.client, status=DeviceStatus.ACTIVE)


def report_path(device: SecurityDevice) -> str:
    return f"/admin/devices/securitydevice/{device.pk}/report/"


def report(desk: HttpClient, device: SecurityDevice, reason: str, **verification):
    return csrf_post(desk, report_path(device), {"reason": reason, **(verification or VERIFIED)})


@pytest.mark.parametrize("reason", REASONS)
def test_D5_report_sets_the_status_and_deactivation_time(desk, alice, clock, mailoutbox, reason):
    device = device_of(alice)
    response = report(desk, device, reason)
    assert response.status_code == 302 and response.url == f"/admin/devices/securitydevice/{device.pk}/change/"
    device.refresh_from_db()
    assert device.status == reason and device.deactivated_at == timezone.now()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [alice.client.email]


def test_SEC5_D5_a_session_open_before_the_report_is_sent_to_log_in(desk, alice, clock, mailoutbox):
    """The client's session rode on the device: at its next request it is logged out."""
    browser = HttpClient(enforce_csrf_checks=True)
    login_fully(browser, alice)
    assert browser.get("/").status_code == 200
    clock.shift(timedelta(minutes=1))
    report(desk, device_of(alice), DeviceStatus.STOLEN)
    response = browser.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert browser.get("/").url.startswith("/login/")


def test_SEC5_D7_report_ends_the_sessions_of_every_username_on_the_device(desk, alice, clock, mailoutbox):
    """Even a request already past the scope check stops: each bound username's sessions end at once."""
    second = User.objects.create_user(username="alice2", password=PASSWORD, client=alice.client)
    device = device_of(alice)
    from devices.flows import bind_usernames

    bind_usernames(device)
    bystander = User.objects.create_user(username="bystander", password=PASSWORD)
    report(desk, device, DeviceStatus.LOST)
    for user in (alice, second):
        user.refresh_from_db()
        assert user.sessions_valid_after == timezone.now(), user.username
    bystander.refresh_from_db()
    assert bystander.sessions_valid_after is None
    event = AuditEvent.objects.get(action="device.report")
    assert event.details["sessions_ended"] == ["alice", "alice2"]


def test_D5_report_is_audited_with_the_verification(desk, agent, alice, clock, mailoutbox):
    device = device_of(alice)
    report(desk, device, DeviceStatus.DAMAGED)
    event = AuditEvent.objects.get(action="device.report")
    assert event.rule == "D5" and event.actor == agent and event.client == alice.client
    assert event.verification == IdentityVerification.objects.get(client=alice.client, reference="CALL-4711")
    assert event.details["serial"] == device.serial and event.details["status"] == "damaged"


def test_D5_T6_email_in_italian_for_an_italian_client(desk, alice, clock, mailoutbox):
    """The agent's admin is in English; the client reads Italian, with the region's numbers."""
    assert alice.client.language == "it"
    device = device_of(alice)
    report(desk, device, DeviceStatus.STOLEN)
    mail = mailoutbox[0]
    assert mail.subject == "Il suo dispositivo di sicurezza non funziona più"
    assert "rubato" in mail.body and device.serial in mail.body
    assert "codice di accesso temporaneo" in mail.body
    assert "+41-41-726-9500" in mail.body  # Europe's number (help/regions.py)
    assert "addebitato" in mail.body  # T6, without an amount
    assert "USD" not in mail.body and "D5" not in mail.body and "T6" not in mail.body


def test_D5_T6_email_in_english_names_the_region_numbers(desk, charlie, clock, mailoutbox):
    charlie.client.language = "en"
    charlie.client.save(update_fields=["language"])
    report(desk, device_of(charlie), DeviceStatus.LOST)
    body = mailoutbox[0].body
    assert "is lost" in body and "temporary passcode" in body and "may be charged" in body
    assert "+852-2156-7907" in body and "+86 (21) 6086 8586" in body  # Japan: the Asia numbers (T2)


def test_D5_report_needs_the_permission(db, alice, clock, mailoutbox):
    from django.contrib.auth.models import Permission

    other = staff_user("helpdesk")
    other.user_permissions.add(Permission.objects.get(codename="view_securitydevice"))
    http = admin_client(other)
    device = device_of(alice)
    assert http.get(report_path(device)).status_code == 403
    assert report(http, device, DeviceStatus.LOST).status_code == 403
    assert device_of(alice) == device and not mailoutbox and not AuditEvent.objects.filter(action="device.report")
    assert b"/report/" not in http.get(f"/admin/devices/securitydevice/{device.pk}/change/").content


def test_D5_customer_service_sees_the_action_on_device_and_client_pages(desk, alice):
    device = device_of(alice)
    assert report_path(device).encode() in desk.get(f"/admin/devices/securitydevice/{device.pk}/change/").content
    assert report_path(device).encode() in desk.get(f"/admin/accounts/client/{alice.client_id}/change/").content


def test_L5_D5_report_needs_an_identity_verification(desk, alice, clock, mailoutbox):
    device = device_of(alice)
    response = report(desk, device, DeviceStatus.LOST, **NOT_VERIFIED)
    assert response.status_code == 400 and b"Verify the caller" in response.content
    assert device_of(alice) == device and not mailoutbox and not AuditEvent.objects.filter(action="device.report")


def test_L5_D5_a_recent_verification_is_reused(desk, agent, alice, clock, mailoutbox):
    csrf_post(desk, f"/admin/accounts/client/{alice.client_id}/verify-identity/", VERIFIED)
    clock.shift(timedelta(minutes=5))
    assert report(desk, device_of(alice), DeviceStatus.LOST, **NOT_VERIFIED).status_code == 302
    assert IdentityVerification.objects.filter(client=alice.client).count() == 1


def test_D5_reason_is_required_and_from_the_list(desk, alice, clock, mailoutbox):
    device = device_of(alice)
    for reason in ("", "revoked", "active", "x" * 5000):
        response = report(desk, device, reason)
        assert response.status_code == 400 and b"lost, stolen or damaged" in response.content, reason
    assert device_of(alice) == device and not mailoutbox


def test_D5_an_inactive_device_is_refused_with_a_message(desk, alice, clock, mailoutbox):
    device = device_of(alice)
    assert report(desk, device, DeviceStatus.LOST).status_code == 302
    again = report(desk, device, DeviceStatus.STOLEN)
    assert again.status_code == 400 and b"This device is not active (Reported lost)" in again.content
    device.refresh_from_db()
    assert device.status == DeviceStatus.LOST and len(mailoutbox) == 1
    assert AuditEvent.objects.filter(action="device.report").count() == 1
    page = desk.get(f"/admin/devices/securitydevice/{device.pk}/change/").content
    assert report_path(device).encode() not in page


def test_D5_issued_device_not_yet_active_is_refused(alice, agent, clock):
    pending = issue_device(alice.client, "mobile", now=timezone.now(), active=False)
    with pytest.raises(DeviceConflict, match="not active"):
        report_device(pending, DeviceStatus.LOST, agent=agent, now=timezone.now())
    pending.refresh_from_db()
    assert pending.status == DeviceStatus.ISSUED and pending.deactivated_at is None


def test_D5_a_failed_mail_leaves_nothing_written(desk, alice, clock, monkeypatch):
    def broken(**kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("agents.actions.send_mail", broken)
    device = device_of(alice)
    with pytest.raises(OSError):
        report(desk, device, DeviceStatus.LOST)
    assert device_of(alice) == device
    assert not AuditEvent.objects.filter(action="device.report")
    assert not IdentityVerification.objects.filter(client=alice.client)
    alice.refresh_from_db()
    assert alice.sessions_valid_after is None


@pytest.mark.parametrize("object_id", ["abc", "99999999", "1%00", "9" * 30, "-1"])
def test_D5_bad_ids_are_404_or_400(desk, alice, mailoutbox, object_id):
    path = f"/admin/devices/securitydevice/{object_id}/report/"
    assert desk.get(path).status_code in (400, 404), object_id
    token = desk.get(report_path(device_of(alice))).cookies["csrftoken"].value
    response = desk.post(path, {"reason": "lost", **VERIFIED, "csrfmiddlewaretoken": token})
    assert response.status_code in (400, 404), (object_id, response.status_code)
    assert device_of(alice) and not mailoutbox


def test_D5_nul_in_the_form_is_400(desk, alice, mailoutbox):
    device = device_of(alice)
    response = report(desk, device, "lost\x00", **{**VERIFIED, "reference": "CALL\x00"})
    assert response.status_code == 400
    assert device_of(alice) == device and not mailoutbox


def test_D5_device_list_filters_by_status_and_finds_exact_serial_and_client(desk, alice, bob, clock, mailoutbox):
    device = device_of(alice)
    report(desk, device, DeviceStatus.LOST)
    lost = desk.get("/admin/devices/securitydevice/", {"status__exact": "lost"}).content
    assert device.serial.encode() in lost
    assert device.serial.encode() not in desk.get("/admin/devices/securitydevice/", {"status__exact": "active"}).content
    assert device.serial.encode() in desk.get("/admin/devices/securitydevice/", {"q": device.serial}).content
    assert device.serial.encode() not in desk.get("/admin/devices/securitydevice/", {"q": device.serial[:-1]}).content
    number = alice.client.accounts.get().number
    for term in (number, "alice", alice.client.email):
        assert device.serial.encode() in desk.get("/admin/devices/securitydevice/", {"q": term}).content, term


def test_D5_report_page_shows_the_form_and_the_outcome(desk, alice, clock, mailoutbox):
    device = device_of(alice)
    page = desk.get(report_path(device))
    assert page.status_code == 200
    assert b'name="reason"' in page.content and b'name="method"' in page.content and b"(T6)" in page.content
    done = desk.get(report(desk, device, DeviceStatus.LOST).url).content.decode()
    assert "is now reported lost. Sessions ended for: alice." in done
    assert "not active (Reported lost)" in desk.get(report_path(device)).content.decode()
