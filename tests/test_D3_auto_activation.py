"""Auto-activation (D3, J2): an ordered device activates itself 2 days after
its projected delivery date unless activated earlier; the login honours it
from the timestamps alone, with or without the job having run; the job
persists it and sends the reminder on the delivery date and the notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from devices import jobs, orders
from devices.models import DeviceBinding, DeviceStatus, Notice, SecurityDevice, active_binding_for, permanent_devices
from tests.conftest import PASSWORD, check_password_step


@pytest.fixture
def shipped(client_factory, agent, clock):
    """Dan (US, unenrolled) has a Security Code Card shipped to him now."""
    from accounts.models import IdentityVerification

    person = client_factory("Dan", "Moe", "US", equity="500.00", username="dan")
    order = orders.place(person, now=timezone.now()).order
    verification = IdentityVerification.objects.create(client=person, agent=agent, method="callback", reference="C")
    orders.mark_shipped(order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=verification)
    order.refresh_from_db()
    return order


def _at(clock, instant):
    clock.move_to(instant)
    return timezone.now()


def _offered(user):
    return [f.security_device_id for f in permanent_devices(user, timezone.now())]


@pytest.mark.parametrize("job_ran", [False, True], ids=["without_job", "with_job"])
def test_D3_login_honours_auto_activation_one_second_either_side(shipped, clock, job_ran):
    user = shipped.client.users.get()
    auto = shipped.projected_delivery_at + timedelta(days=2)
    assert shipped.device.auto_activates_at == auto
    _at(clock, auto - timedelta(seconds=1))
    if job_ran:
        jobs.sweep(timezone.now())
    assert _offered(user) == []
    assert shipped.status(timezone.now()) == "delivered"
    step = check_password_step("dan", PASSWORD, ip="198.51.100.9", channel="web", now=timezone.now())
    assert step.factor is None and step.user == user  # password alone, as before
    _at(clock, auto + timedelta(seconds=1))
    if job_ran:
        jobs.sweep(timezone.now())
    assert _offered(user) == [shipped.device_id]
    assert shipped.status(timezone.now()) == "activated"
    step = check_password_step("dan", PASSWORD, ip="198.51.100.9", channel="web", now=timezone.now())
    assert step.token is not None  # step 2 now asks the card
    device = SecurityDevice.objects.get(pk=shipped.device_id)
    assert device.status == (DeviceStatus.ACTIVE if job_ran else DeviceStatus.ISSUED)
    binding = DeviceBinding.objects.get(user=user, security_device=device)
    assert binding.is_usable and binding.access_scope(timezone.now()) == "full"


def test_D3_exactly_at_the_auto_activation_time_it_counts(shipped, clock):
    user = shipped.client.users.get()
    _at(clock, shipped.projected_delivery_at + timedelta(days=2))
    assert _offered(user) == [shipped.device_id]


@pytest.mark.parametrize("job_ran", [False, True], ids=["without_job", "with_job"])
def test_D3_reminder_on_the_projected_delivery_date_one_second_either_side(shipped, clock, job_ran):
    delivery = shipped.projected_delivery_at
    _at(clock, delivery - timedelta(seconds=1))
    jobs.sweep(timezone.now()) if job_ran else None
    assert shipped.status(timezone.now()) == "shipped"
    assert not Notice.objects.filter(event=jobs.REMINDER).exists()
    _at(clock, delivery + timedelta(seconds=1))
    assert shipped.status(timezone.now()) == "delivered"
    jobs.sweep(timezone.now())
    reminder = Notice.objects.get(event=jobs.REMINDER)
    assert reminder.sent_at == timezone.now()
    assert len(mail.outbox) == 1
    assert "should arrive today" in mail.outbox[0].subject
    assert shipped.device.serial in mail.outbox[0].body
    assert mail.outbox[0].to == ["dan@example.com"]
    # Still ISSUED: the reminder activates nothing.
    assert SecurityDevice.objects.get(pk=shipped.device_id).status == DeviceStatus.ISSUED


def test_D3_job_persists_activation_and_notice_once(shipped, clock):
    _at(clock, shipped.projected_delivery_at + timedelta(days=2, seconds=1))
    first = jobs.sweep(timezone.now())
    again = jobs.sweep(timezone.now())
    assert first["activated"] == 1 and again["activated"] == 0
    device = SecurityDevice.objects.get(pk=shipped.device_id)
    assert device.status == DeviceStatus.ACTIVE and device.activated_at == timezone.now()
    shipped.refresh_from_db()
    # The order is activated by its timestamps; its activated_at is the client's own activation (R1).
    assert shipped.activated_at is None and shipped.status(timezone.now()) == "activated"
    # Delivery day passed without a run: no stale reminder after activation.
    assert [m.subject for m in mail.outbox] == ["Your security device is now active"]
    assert Notice.objects.filter(event=jobs.ACTIVATED, sent_at__isnull=False).count() == 1


def test_D3_activated_earlier_by_the_client_does_not_activate_again(shipped, clock):
    SecurityDevice.objects.filter(pk=shipped.device_id).update(status=DeviceStatus.ACTIVE, activated_at=timezone.now())
    _at(clock, shipped.projected_delivery_at + timedelta(days=3))
    assert jobs.sweep(timezone.now())["activated"] == 0
    assert mail.outbox == []


def test_D3_auto_activation_replaces_the_active_device(client_factory, agent, clock):
    from devices.flows import issue_code_card

    person = client_factory("Eli", "Tor", "IT", equity="500.00", username="eli")
    eli = person.users.get()
    old = issue_code_card(person, agent=agent, now=timezone.now())
    order = orders.place(person, now=timezone.now()).order
    _at(clock, order.auto_activates_at)
    # Before the job: the login already asks the new device (J2).
    assert active_binding_for(eli).security_device_id == order.device_id
    jobs.sweep(timezone.now())
    old.refresh_from_db()
    assert old.status == DeviceStatus.REVOKED
    assert SecurityDevice.objects.get(client=person, status=DeviceStatus.ACTIVE).pk == order.device_id


def test_D3_notice_in_the_clients_language(client_factory, agent, clock):
    person = client_factory("Lia", "Verdi", "IT", equity="500.00", username="lia")
    order = orders.place(person, now=timezone.now()).order
    _at(clock, order.auto_activates_at)
    jobs.sweep(timezone.now())
    assert mail.outbox[0].subject == "Il suo dispositivo di sicurezza è ora attivo"
