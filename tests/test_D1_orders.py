"""Device orders and shipping (D1, D2, D4, D5, D6, D8): the type by equity,
the address frozen, the projected dates, the status from timestamps, the
device shipped ISSUED (the client keeps logging in as before), refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from accounts.models import Account, IdentityVerification
from audit.models import AuditEvent
from devices import orders
from devices.models import DeviceOrder, DeviceStatus, DeviceType, SecurityDevice, active_binding_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def dan(client_factory):
    """A funded US client whose equity gets a Security Code Card."""
    return client_factory("Dan", "Moe", "US", equity="500.00", username="dan").users.get()


def _verification(client, agent):
    return IdentityVerification.objects.create(client=client, agent=agent, method="security_questions", reference="C-1")


@pytest.mark.parametrize(
    ("equity", "expected"),
    [
        ("0.00", DeviceType.CODE_CARD),
        ("9999.99", DeviceType.CODE_CARD),
        ("10000.00", DeviceType.DSC_PLUS),
        ("99999.99", DeviceType.DSC_PLUS),
        ("100000.00", DeviceType.GOLD),
        ("999999.99", DeviceType.GOLD),
        ("1000000.00", DeviceType.PLATINUM),
    ],
)
def test_D6_device_type_follows_equity_at_each_threshold(equity, expected):
    assert orders.device_type_for(Decimal(equity)) == expected


def test_D6_equity_counts_open_funded_accounts_only(client_factory):
    person = client_factory("Eva", "Neri", "IT", equity="5000.00")
    Account.objects.create(number="U9000001", client=person, equity_usd=Decimal("8000"), funded_at=NOW)
    Account.objects.create(number="U9000002", client=person, equity_usd=Decimal("900000"), funded_at=NOW, closed_at=NOW)
    Account.objects.create(number="U9000003", client=person, equity_usd=Decimal("900000"), funded_at=None)
    assert orders.equity_of(person, NOW + timedelta(seconds=1)) == Decimal("13000")
    assert orders.offer_for(person, NOW + timedelta(seconds=1)).device_type == DeviceType.DSC_PLUS


@pytest.mark.parametrize(("country", "days"), [("US", 2), ("IT", 5), ("JP", 7), ("AU", 10), ("VN", 14)])
def test_D4_projected_delivery_by_country(client_factory, clock, country, days):
    person = client_factory("Dan", "Moe", country, equity="500.00")
    placed = orders.place(person, now=timezone.now())
    order = placed.order
    assert order.projected_ship_at == timezone.now() + timedelta(days=1)
    assert order.projected_delivery_at == order.projected_ship_at + timedelta(days=days)
    assert order.shipping_method == ("domestic_priority" if country == "US" else "international_courier")


def test_D1_address_is_frozen_at_order_time(client_factory, clock):
    person = client_factory("Dan", "Moe", "US", equity="500.00", address="1 Main St\nGreenwich CT")
    order = orders.place(person, now=timezone.now()).order
    person.address = "2 Other Rd\nBoston MA"
    person.save()
    order.refresh_from_db()
    assert order.shipping_address == "1 Main St\nGreenwich CT"


def test_D1_ordered_device_is_issued_not_active_so_login_stays_as_before(dan, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    device = order.device
    assert device.type == DeviceType.CODE_CARD
    assert device.status == DeviceStatus.ISSUED
    assert device.auto_activates_at == order.projected_delivery_at + timedelta(days=2)
    assert active_binding_for(dan) is None  # password alone, as before
    assert AuditEvent.objects.filter(action="device.order.placed", client=dan.client, rule="D6").exists()


def test_D1_status_is_derived_from_timestamps_and_now(dan, agent, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    start = timezone.now()
    assert order.status(start) == "requested"
    clock.shift(timedelta(hours=20))
    orders.mark_shipped(
        order,
        serial=order.device.serial,
        now=timezone.now(),
        agent=agent,
        verification=_verification(dan.client, agent),
    )
    order.refresh_from_db()
    shipped = order.shipped_at
    assert order.status(shipped - timedelta(seconds=1)) == "requested"
    assert order.status(shipped) == "shipped"
    # Shipped before its projected shipping date: the delivery date given at order time stays.
    assert order.projected_delivery_at == start + timedelta(days=1) + timedelta(days=2)
    assert order.status(order.projected_delivery_at - timedelta(seconds=1)) == "shipped"
    assert order.status(order.projected_delivery_at) == "delivered"
    auto = order.projected_delivery_at + timedelta(days=2)
    assert order.status(auto - timedelta(seconds=1)) == "delivered"
    assert order.status(auto) == "activated"
    assert SecurityDevice.objects.get(pk=order.device_id).auto_activates_at == auto
    order.cancelled_at = shipped
    assert order.status(auto) == "cancelled"


def test_D2_pin_kind_waits_for_the_pin(client_factory, clock):
    person = client_factory("Gia", "Bo", "IT", equity="20000.00", username="gia")
    order = orders.place(person, now=timezone.now()).order
    assert order.device_type == DeviceType.DSC_PLUS
    assert order.device is None
    assert order.status(timezone.now()) == "awaiting_pin"
    orders.set_pin(order, "4729", now=timezone.now())
    order.refresh_from_db()
    assert order.status(timezone.now()) == "requested"
    assert order.device.pin_digest and b"4729" not in order.device.pin_digest
    assert order.device.status == DeviceStatus.ISSUED


@pytest.mark.parametrize(
    ("pin", "words"), [("12a4", "digits only"), ("123", "4 to 8 digits"), ("1111", "same digit"), ("", "Enter a PIN")]
)
def test_D2_wrong_pin_formats_refused_and_nothing_written(client_factory, clock, pin, words):
    person = client_factory("Gia", "Bo", "IT", equity="150000.00")
    with pytest.raises(orders.OrderRefused) as refused:
        orders.place(person, now=timezone.now(), pin=pin)
    assert words in str(refused.value)
    assert refused.value.rule == "D2"
    assert not DeviceOrder.objects.exists()
    assert not SecurityDevice.objects.exists()


def test_D5_platinum_pin_and_passphrase_generated_only_hashes_kept(client_factory, clock):
    person = client_factory("Pat", "Rich", "CH", equity="2500000.00")
    placed = orders.place(person, now=timezone.now())
    assert placed.order.device_type == DeviceType.PLATINUM
    assert len(placed.pin) == 6 and placed.pin.isdigit()
    assert len(placed.passphrase) == 23
    order = DeviceOrder.objects.get(pk=placed.order.pk)
    assert placed.passphrase not in order.passphrase_hash
    assert check_password(placed.passphrase, order.passphrase_hash)
    device = order.device
    assert placed.pin.encode() not in device.pin_digest
    assert placed.pin not in str(AuditEvent.objects.values_list("details", flat=True)[::1])


def test_D5_second_platinum_refused(client_factory, clock):
    person = client_factory("Pat", "Rich", "CH", equity="2500000.00")
    orders.place(person, now=timezone.now())
    # The first one arrived and was activated; a second one is still refused.
    DeviceOrder.objects.update(activated_at=timezone.now())
    SecurityDevice.objects.update(status=DeviceStatus.ACTIVE)
    with pytest.raises(orders.OrderRefused) as refused:
        orders.place(person, now=timezone.now())
    assert refused.value.rule == "D5"
    assert "Platinum" in str(refused.value)
    assert DeviceOrder.objects.count() == 1


def test_D5_one_order_at_a_time(dan, clock):
    orders.place(dan.client, now=timezone.now())
    with pytest.raises(orders.OrderRefused) as refused:
        orders.place(dan.client, now=timezone.now())
    assert refused.value.rule == "D5"
    assert DeviceOrder.objects.count() == 1


def test_D5_replacement_supersedes_a_device_reported_lost(alice, clock):
    card = active_binding_for(alice).security_device
    SecurityDevice.objects.filter(pk=card.pk).update(status=DeviceStatus.LOST, deactivated_at=timezone.now())
    order = orders.place(alice.client, now=timezone.now()).order
    assert order.replaces_id == card.pk


@pytest.mark.parametrize("case", ["closed", "unfunded"])
def test_D8_closed_or_unfunded_account_cannot_order(client_factory, clock, case):
    kwargs = {"closed_at": NOW - timedelta(days=1)} if case == "closed" else {"funded_at": None}
    person = client_factory("Zed", "Null", "US", **kwargs)
    with pytest.raises(orders.OrderRefused) as refused:
        orders.place(person, now=timezone.now())
    assert refused.value.rule == "D8"
    assert "funded" in str(refused.value)
    assert not DeviceOrder.objects.exists()


def test_D1_mark_shipped_checks_serial_and_verification(dan, agent, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    with pytest.raises(orders.OrderRefused) as refused:
        orders.mark_shipped(order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=None)
    assert refused.value.rule == "L5"
    verification = _verification(dan.client, agent)
    with pytest.raises(orders.OrderRefused) as refused:
        orders.mark_shipped(order, serial="SC0000000000", now=timezone.now(), agent=agent, verification=verification)
    assert refused.value.field == "serial"
    order.refresh_from_db()
    assert order.shipped_at is None
    orders.mark_shipped(
        order, serial=order.device.serial.lower(), now=timezone.now(), agent=agent, verification=verification
    )
    event = AuditEvent.objects.get(action="device.order.shipped")
    assert event.actor == agent and event.verification == verification
    with pytest.raises(orders.OrderRefused):
        orders.mark_shipped(
            order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=verification
        )


# --- The agents' admin for orders --------------------------------------------------


def test_D1_agent_orders_a_replacement_with_verification_audited(desk, alice, agent, clock):
    from tests.conftest import VERIFIED, client_url, csrf_post

    card = active_binding_for(alice).security_device
    SecurityDevice.objects.filter(pk=card.pk).update(status=DeviceStatus.LOST, deactivated_at=timezone.now())
    page = desk.get(client_url(alice, "order-device"))
    assert page.status_code == 200 and b"Digital Security Card+" in page.content
    response = csrf_post(desk, client_url(alice, "order-device"), VERIFIED)
    assert response.status_code == 302
    order = DeviceOrder.objects.get(client=alice.client)
    assert order.replaces_id == card.pk and order.ordered_by == agent
    assert order.verification.reference == "CALL-4711"
    event = AuditEvent.objects.get(action="device.order.placed")
    assert event.actor == agent and event.verification == order.verification


def test_D1_agent_order_needs_verification_and_names_the_rule(desk, client_factory, clock):
    from tests.conftest import NOT_VERIFIED, VERIFIED, client_url, csrf_post

    person = client_factory("Zed", "Null", "US", username="zed", funded_at=None)
    zed = person.users.get()
    response = csrf_post(desk, client_url(zed, "order-device"), NOT_VERIFIED)
    assert response.status_code == 400 and b"(L5)" in response.content
    response = csrf_post(desk, client_url(zed, "order-device"), VERIFIED)
    assert response.status_code == 400 and b"(D8)" in response.content
    assert not DeviceOrder.objects.exists()
    assert not IdentityVerification.objects.exists()  # nothing half-written


def test_D1_agent_marks_shipped_with_the_serial(desk, dan, clock):
    from tests.conftest import VERIFIED, csrf_post

    order = orders.place(dan.client, now=timezone.now()).order
    url = f"/admin/devices/deviceorder/{order.pk}/mark-shipped/"
    response = csrf_post(desk, url, {**VERIFIED, "serial": "SC0000000001"})
    assert response.status_code == 400 and b"does not match" in response.content
    assert not IdentityVerification.objects.exists()
    response = csrf_post(desk, url, {**VERIFIED, "serial": order.device.serial})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.shipped_at == timezone.now()
    assert AuditEvent.objects.filter(action="device.order.shipped", verification__isnull=False).exists()
    assert desk.get("/admin/devices/deviceorder/not-a-number/mark-shipped/").status_code == 404


def test_D1_admin_lists_orders_by_status_with_a_date_hierarchy(desk, dan, client_factory, clock):
    orders.place(dan.client, now=timezone.now())
    gia = client_factory("Gia", "Bo", "IT", equity="20000.00")
    orders.place(gia, now=timezone.now())
    page = desk.get("/admin/devices/deviceorder/?status=requested")
    assert page.status_code == 200
    assert b"Moe" in page.content and b"Bo</a>" not in page.content
    page = desk.get("/admin/devices/deviceorder/?status=awaiting_pin")
    assert b"Gia Bo" in page.content and b"Dan Moe" not in page.content
    assert b"projected_delivery_at__year=" in page.content  # the date hierarchy


def test_D1_demo_data_has_an_order_in_transit(db, settings, capsys):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    order = DeviceOrder.objects.get(client__users__username="intransit1")
    now = timezone.now()
    assert order.status(now) == "shipped"
    assert order.device.status == DeviceStatus.ISSUED
    assert active_binding_for(order.client.users.get()) is None
    assert order.device.serial in capsys.readouterr().out


# --- D4, D3: an order shipped late -----------------------------------------------------


def _ship(order, agent, client):
    orders.mark_shipped(
        order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=_verification(client, agent)
    )
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(("offset", "late"), [(-1, False), (0, False), (1, True)], ids=["before", "at", "after"])
def test_D4_shipped_after_its_projected_date_moves_delivery_and_auto_activation(dan, agent, clock, offset, late):
    """One second either side of the projected shipping date: shipped late,
    the delivery (shipment + the country's days) and D3's auto-activation
    move by the same delay, in the shipment's transaction; on time or early
    they keep the dates given at order time."""
    order = orders.place(dan.client, now=timezone.now()).order
    promised = order.projected_delivery_at
    clock.move_to(order.projected_ship_at + timedelta(seconds=offset))
    order = _ship(order, agent, dan.client)
    expected = order.shipped_at + timedelta(days=2) if late else promised
    assert order.projected_delivery_at == expected
    assert expected == promised + timedelta(seconds=max(offset, 0))
    device = SecurityDevice.objects.get(pk=order.device_id)
    assert device.auto_activates_at == order.auto_activates_at == expected + timedelta(days=2)
    event = AuditEvent.objects.get(action="device.order.shipped")
    assert event.details["late"] is late
    assert event.details["projected_delivery_at"] == expected.isoformat()


@pytest.mark.parametrize("job_ran", [False, True], ids=["without_job", "with_job"])
def test_D3_a_late_shipment_moves_the_auto_activation_the_login_honours(dan, agent, clock, job_ran):
    from devices import jobs
    from devices.models import permanent_devices

    order = orders.place(dan.client, now=timezone.now()).order
    promised_auto = order.auto_activates_at
    clock.move_to(order.projected_ship_at + timedelta(days=3))  # three days late
    order = _ship(order, agent, dan.client)
    assert order.auto_activates_at == promised_auto + timedelta(days=3)

    def offered_at(instant):
        clock.move_to(instant)
        if job_ran:
            jobs.sweep(timezone.now())
        return [f.security_device_id for f in permanent_devices(dan, timezone.now())]

    assert offered_at(promised_auto + timedelta(seconds=1)) == []  # the old date no longer counts
    assert offered_at(order.auto_activates_at - timedelta(seconds=1)) == []
    assert order.status(timezone.now()) == "delivered"
    assert offered_at(order.auto_activates_at + timedelta(seconds=1)) == [order.device_id]
    assert order.status(timezone.now()) == "activated"


def test_D4_an_order_never_shipped_keeps_the_dates_of_order_time(dan, clock):
    """Nothing moves the dates of an order nobody marks shipped: its device
    activates itself at the time given when it was ordered (docs/architecture.md)."""
    order = orders.place(dan.client, now=timezone.now()).order
    ships, arrives, auto = order.projected_ship_at, order.projected_delivery_at, order.auto_activates_at
    clock.move_to(ships + timedelta(days=7))
    order.refresh_from_db()
    assert (order.projected_ship_at, order.projected_delivery_at) == (ships, arrives)
    assert SecurityDevice.objects.get(pk=order.device_id).auto_activates_at == auto
    assert order.status(auto - timedelta(seconds=1)) == "requested"
    assert order.status(auto) == "activated"
