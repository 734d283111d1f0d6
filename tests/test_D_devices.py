"""D: one device at a time (D5), shared by a client's usernames (D7); a
device's status changes only through explicit actions."""

from __future__ import annotations

from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import IdentityVerification, User
from devices.models import DeviceStatus, SecurityDevice
from tests.conftest import (
    NOT_VERIFIED,
    PASSWORD,
    VERIFIED,
    admin_client,
    client_url,
    csrf_post,
    login_fully,
)


def test_D7_one_card_serves_every_username_of_the_client(client_factory, agent, clock):

    from devices.flows import issue_code_card

    person = client_factory("Dora", "Bianchi", "IT", username="dora1")
    User.objects.create_user(username="dora2", password=PASSWORD, client=person, email=person.email)
    card = issue_code_card(person, agent=agent, now=timezone.now())
    for username in ("dora1", "dora2"):
        http = HttpClient(enforce_csrf_checks=True)
        assert login_fully(http, User.objects.get(username=username)).url == "/"
    assert card.bindings.count() == 2


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


def test_D_device_status_is_read_only_in_admin(root, alice):
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
