"""Request a new Secure Login Device (D1-D6) and cancel an order: the device
the equity gets, the address of record to confirm, the projected dates, the
PIN step (D2), a replacement of a device reported lost (D5), Platinum only
once the old one is returned (D5); a cancelled order's device never
activates (D3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from accounts import access
from accounts.models import IdentityVerification
from audit.models import AuditEvent
from devices import activation, flows, jobs, orders
from devices.models import DeviceOrder, DeviceStatus, DeviceType, SecurityDevice, active_binding_for, permanent_devices
from tests.conftest import (
    NOT_VERIFIED,
    PASSWORD,
    VERIFIED,
    check_password_step,
    csrf_post,
    give_passcode,
    log_in_with_passcode,
    login_fully,
)

REPLACEMENT = "/settings/security/sls/replacement/"
CANCEL = "/settings/security/sls/order/cancel/"
SLS = "/settings/security/sls/"
CONFIRM = {"step": "order", "confirm_address": "on"}


@pytest.fixture
def dan(client_factory):
    """A funded US client, unenrolled, whose equity gets a Security Code Card."""
    return client_factory("Dan", "Moe", "US", equity="500.00", username="dan").users.get()


@pytest.fixture
def as_scope(monkeypatch):
    """Every logged-in client request has the given scope (a temporary
    passcode's windows are not built yet: their scopes are set directly)."""

    def use(scope):
        monkeypatch.setattr(
            "login.scopes.derive_scope", lambda request: scope if request.user.is_authenticated else None
        )

    return use


def _verification(client, agent):
    return IdentityVerification.objects.create(client=client, agent=agent, method="security_questions", reference="C-1")


def _report_lost(device, agent, clock=None):
    flows.report_device(device, DeviceStatus.LOST, agent=agent, now=timezone.now())
    if clock is not None:
        clock.shift(timedelta(seconds=1))  # the sessions it ended are before the next login


# --- The page (D1, D2, D6) -----------------------------------------------------------


def test_D1_replacement_page_shows_the_device_address_method_and_dates(web, alice, clock):
    login_fully(web, alice)
    page = web.get(REPLACEMENT)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Request a new Secure Login Device" in html
    assert "Digital Security Card+" in html  # D6: USD 25,000 of equity
    assert "Via Roma 1" in html  # the address of record
    assert "International courier, tracked" in html
    assert 'datetime="2026-11-03T09:00:00+00:00"' in html  # projected shipping: a day to prepare it
    assert 'datetime="2026-11-08T09:00:00+00:00"' in html  # projected delivery: 5 days to Italy (D4)
    assert 'datetime="2026-11-10T09:00:00+00:00"' in html  # it activates itself 2 days later (D3)
    assert "create the PIN" in html  # D2
    assert not DeviceOrder.objects.exists()  # a GET orders nothing


def test_D1_D2_replacement_then_its_pin_finalises_the_order(web, alice, clock):
    login_fully(web, alice)
    card = active_binding_for(alice).security_device
    response = csrf_post(web, REPLACEMENT, CONFIRM)
    assert response.status_code == 302 and response.url == REPLACEMENT
    order = DeviceOrder.objects.get(client=alice.client)
    assert order.device_type == DeviceType.DSC_PLUS and order.device is None
    page = web.get(REPLACEMENT).content.decode()
    assert 'name="pin"' in page and "Create your PIN" in page

    mismatch = csrf_post(web, REPLACEMENT, {"step": "pin", "pin": "4729", "pin_again": "4730"})
    assert mismatch.status_code == 400 and b"not the same" in mismatch.content
    weak = csrf_post(web, REPLACEMENT, {"step": "pin", "pin": "1111", "pin_again": "1111"})
    assert weak.status_code == 400 and b"same digit" in weak.content
    long = csrf_post(web, REPLACEMENT, {"step": "pin", "pin": "9" * 5000, "pin_again": "9" * 5000})
    assert long.status_code == 400
    order.refresh_from_db()
    assert order.finalised_at is None and not SecurityDevice.objects.filter(type=DeviceType.DSC_PLUS).exists()

    done = csrf_post(web, REPLACEMENT, {"step": "pin", "pin": "4729", "pin_again": "4729"})
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status(timezone.now()) == "requested"
    assert order.device.status == DeviceStatus.ISSUED and order.device.type == DeviceType.DSC_PLUS
    card.refresh_from_db()
    assert card.status == DeviceStatus.ACTIVE  # she logs in with her card until the new one is active
    assert AuditEvent.objects.filter(action="device.order.pin_set", client=alice.client, rule="D2").exists()
    page = web.get(REPLACEMENT).content.decode()
    assert "Requested" in page and "Cancel this order" in page and 'name="pin"' not in page
    # A second request while this one is open is refused (D5), nothing written.
    again = csrf_post(web, REPLACEMENT, CONFIRM)
    assert again.status_code in (302, 400)
    assert DeviceOrder.objects.filter(client=alice.client).count() == 1


def test_D1_replacement_needs_the_address_confirmed(web, alice, clock):
    login_fully(web, alice)
    response = csrf_post(web, REPLACEMENT, {"step": "order"})
    assert response.status_code == 400
    assert b"Confirm the address" in response.content
    assert not DeviceOrder.objects.exists()


def test_D1_the_secure_login_system_page_links_the_replacement_page(web, alice, clock):
    login_fully(web, alice)
    page = web.get(SLS).content.decode()
    assert f'href="{REPLACEMENT}"' in page and "Request a new Secure Login Device" in page
    orders.place(alice.client, now=timezone.now(), pin="4729")
    page = web.get(SLS).content.decode()
    assert f'href="{REPLACEMENT}"' not in page  # an order is on its way
    assert f'href="{CANCEL}"' in page


# --- D5: what a replacement supersedes; Platinum ----------------------------------------


def test_D5_replacement_supersedes_the_device_reported_lost(web, alice, clock):
    card = active_binding_for(alice).security_device
    # She calls: the card is recorded lost and she gets a temporary passcode (A2).
    code = give_passcode(alice, device_status=DeviceStatus.LOST)
    clock.shift(timedelta(seconds=1))
    assert log_in_with_passcode(web, alice, code).status_code == 302
    page = web.get(REPLACEMENT).content.decode()
    assert f"It replaces your Security Code Card with serial number {card.serial} (Reported lost)" in page
    assert csrf_post(web, REPLACEMENT, CONFIRM).status_code == 302
    assert DeviceOrder.objects.get(client=alice.client).replaces == card


def test_D5_after_a_cancelled_order_a_new_one_still_replaces_the_lost_device(alice, agent, clock):
    card = active_binding_for(alice).security_device
    _report_lost(card, agent)
    first = orders.place(alice.client, now=timezone.now()).order
    orders.cancel(first, now=timezone.now())
    second = orders.place(alice.client, now=timezone.now()).order
    assert first.replaces == card and second.replaces == card


@pytest.fixture
def pat(client_factory, clock):
    """A Swiss client whose equity gets a Platinum token, and who has one."""
    person = client_factory("Pat", "Rich", "CH", equity="2500000.00", username="pat")
    device = flows.issue_device(person, DeviceType.PLATINUM, now=timezone.now(), pin="482915")
    return person.users.get(), device


@pytest.mark.parametrize("status", [DeviceStatus.ACTIVE, DeviceStatus.LOST, DeviceStatus.STOLEN, DeviceStatus.DAMAGED])
def test_D5_platinum_not_returned_refuses_a_new_device(pat, agent, status):
    user, platinum = pat
    SecurityDevice.objects.filter(pk=platinum.pk).update(status=status)
    for agent_order in (None, agent):
        with pytest.raises(orders.OrderRefused) as refused:
            orders.place(user.client, now=timezone.now(), agent=agent_order)
        assert refused.value.rule == "D5" and "received it back" in str(refused.value)
    assert not DeviceOrder.objects.exists()


def test_D5_platinum_replacement_page_refuses_until_the_return_then_shows_the_secrets_once(web, pat, clock):
    user, platinum = pat
    code = give_passcode(user, device_status=DeviceStatus.LOST)
    clock.shift(timedelta(seconds=1))
    assert log_in_with_passcode(web, user, code).status_code == 302
    page = web.get(REPLACEMENT).content.decode()
    assert "received it back" in page and 'name="confirm_address"' not in page
    assert "+41" in page  # the numbers to call
    refused = csrf_post(web, REPLACEMENT, CONFIRM)
    assert refused.status_code == 400 and b"received it back" in refused.content
    assert not DeviceOrder.objects.exists()

    # The return is acknowledged (what the returns desk will record).
    SecurityDevice.objects.filter(pk=platinum.pk).update(status=DeviceStatus.RETURNED)
    page = web.get(REPLACEMENT).content.decode()
    assert "Platinum token" in page and "have a printer ready" in page
    confirmed = csrf_post(web, REPLACEMENT, CONFIRM)
    assert confirmed.status_code == 200
    html = confirmed.content.decode()
    assert "can never be shown again" in html and confirmed["Cache-Control"].startswith("max-age=0")
    pin = html.split('id="platinum-pin">')[1].split("<")[0]
    passphrase = html.split('id="platinum-passphrase">')[1].split("<")[0]
    order = DeviceOrder.objects.get(client=user.client)
    assert order.device_type == DeviceType.PLATINUM and check_password(passphrase, order.passphrase_hash)
    later = web.get(REPLACEMENT).content.decode()
    assert passphrase not in later and pin not in later  # never again


# --- Who may use the page -----------------------------------------------------------------


def test_A2_replacement_serves_a_temporary_passcodes_full_window(web, alice, as_scope, clock):
    login_fully(web, alice)
    as_scope(access.FULL_NO_WITHDRAWALS)
    assert web.get(REPLACEMENT).status_code == 200
    assert csrf_post(web, REPLACEMENT, CONFIRM).status_code == 302
    assert csrf_post(web, REPLACEMENT, {"step": "pin", "pin": "4729", "pin_again": "4729"}).status_code == 302
    assert DeviceOrder.objects.get(client=alice.client).finalised_at == timezone.now()


@pytest.mark.parametrize("scope", [access.RESTRICTED_CARD_ONLY, access.STATEMENTS_ONLY])
def test_A9_replacement_refuses_the_narrowed_scopes_in_words(web, alice, as_scope, scope):
    login_fully(web, alice)
    as_scope(scope)
    response = csrf_post(web, REPLACEMENT, CONFIRM)
    assert response.status_code == 403
    assert response.sls_rule in ("A3", "A8")
    assert not DeviceOrder.objects.exists()


def test_D8_replacement_for_an_unfunded_client_says_to_fund_first(web, client_factory):
    zed = client_factory("Zed", "Null", "US", username="zed", funded_at=None).users.get()
    login_fully(web, zed)
    page = web.get(REPLACEMENT).content.decode()
    assert "Fund your account first" in page and 'name="confirm_address"' not in page
    assert csrf_post(web, REPLACEMENT, CONFIRM).status_code == 400
    assert not DeviceOrder.objects.exists()


def test_D1_replacement_needs_login(web, alice):
    assert web.get(REPLACEMENT).status_code == 302
    assert web.get(CANCEL).status_code == 302


# --- Cancelling an order ------------------------------------------------------------------


def test_D1_client_cancels_their_order_before_it_ships(web, dan, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    login_fully(web, dan)
    page = web.get(CANCEL)
    assert page.status_code == 200 and b"Yes, cancel my order" in page.content
    order.refresh_from_db()
    assert order.cancelled_at is None  # a GET cancels nothing
    response = csrf_post(web, CANCEL, {})
    assert response.status_code == 302 and response.url == SLS
    order.refresh_from_db()
    device = order.device
    device.refresh_from_db()
    assert order.cancelled_at == timezone.now() and order.status(timezone.now()) == "cancelled"
    assert device.status == DeviceStatus.REVOKED and device.deactivated_at == timezone.now()
    event = AuditEvent.objects.get(action="device.order.cancelled")
    assert event.client == dan.client and event.actor is None and event.rule == "D1"
    assert event.details["serial"] == device.serial and event.details["device_revoked"] is True
    page = web.get(SLS).content.decode()
    assert "Your device order is cancelled" in page and "Your device order</h2>" not in page


def test_D1_cancel_needs_a_post_with_its_csrf_token(web, dan, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    login_fully(web, dan)
    assert web.post(CANCEL, {}).status_code == 403
    order.refresh_from_db()
    assert order.cancelled_at is None


def test_D1_client_cannot_cancel_a_shipped_order(web, dan, agent, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    orders.mark_shipped(
        order,
        serial=order.device.serial,
        now=timezone.now(),
        agent=agent,
        verification=_verification(dan.client, agent),
    )
    login_fully(web, dan)
    assert b"Yes, cancel my order" not in web.get(CANCEL).content
    response = csrf_post(web, CANCEL, {})
    assert response.status_code == 400 and b"already shipped" in response.content
    order.refresh_from_db()
    assert order.cancelled_at is None and order.device.status == DeviceStatus.ISSUED
    assert not AuditEvent.objects.filter(action="device.order.cancelled").exists()


def test_D2_an_order_waiting_for_its_pin_cancels_and_takes_no_pin_after(alice, clock):
    order = orders.place(alice.client, now=timezone.now()).order
    assert order.device is None
    orders.cancel(order, now=timezone.now())
    with pytest.raises(orders.OrderRefused):
        orders.set_pin(order, "4729", now=timezone.now())
    assert not SecurityDevice.objects.filter(type=DeviceType.DSC_PLUS).exists()
    assert orders.open_order(alice.client, timezone.now()) is None


@pytest.mark.parametrize("job_ran", [False, True], ids=["without_job", "with_job"])
@pytest.mark.parametrize("who", ["client_before_shipping", "agent_after_shipping"])
def test_D3_a_cancelled_orders_device_never_activates(dan, agent, clock, job_ran, who):
    order = orders.place(dan.client, now=timezone.now()).order
    if who == "client_before_shipping":
        orders.cancel(order, now=timezone.now())
    else:
        verification = _verification(dan.client, agent)
        orders.mark_shipped(
            order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=verification
        )
        clock.shift(timedelta(days=1))  # in the post
        orders.cancel(order, now=timezone.now(), agent=agent, verification=verification)
    order.refresh_from_db()
    clock.move_to(order.auto_activates_at + timedelta(seconds=1))
    if job_ran:
        assert jobs.sweep(timezone.now())["activated"] == 0
    assert permanent_devices(dan, timezone.now()) == []
    assert active_binding_for(dan) is None
    assert order.status(timezone.now()) == "cancelled"
    assert SecurityDevice.objects.get(pk=order.device_id).status == DeviceStatus.REVOKED
    assert order.device_id not in activation.candidates(dan.client).values_list("pk", flat=True)
    step = check_password_step("dan", PASSWORD, ip="198.51.100.9", channel="web", now=timezone.now())
    assert step.factor is None and step.user == dan  # the password alone, as before


def test_D1_agent_cancels_in_the_admin_with_a_verification_audited(desk, dan, agent, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    url = f"/admin/devices/deviceorder/{order.pk}/cancel/"
    assert desk.get(f"/admin/devices/deviceorder/{order.pk}/change/").content.count(url.encode()) == 1
    refused = csrf_post(desk, url, NOT_VERIFIED)
    assert refused.status_code == 400 and b"(L5)" in refused.content
    order.refresh_from_db()
    assert order.cancelled_at is None and not IdentityVerification.objects.exists()
    response = csrf_post(desk, url, VERIFIED)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.cancelled_at == timezone.now()
    assert SecurityDevice.objects.get(pk=order.device_id).status == DeviceStatus.REVOKED
    event = AuditEvent.objects.get(action="device.order.cancelled")
    assert event.actor == agent and event.verification.reference == "CALL-4711"
    assert desk.get("/admin/devices/deviceorder/not-a-number/cancel/").status_code == 404


def test_D1_agent_cannot_cancel_an_activated_order(desk, dan, clock):
    order = orders.place(dan.client, now=timezone.now()).order
    clock.move_to(order.auto_activates_at)  # it activated itself (D3)
    response = csrf_post(desk, f"/admin/devices/deviceorder/{order.pk}/cancel/", VERIFIED)
    assert response.status_code == 400 and b"nothing to cancel. (D1)" in response.content
    assert not IdentityVerification.objects.exists()  # nothing half-written
    assert SecurityDevice.objects.get(pk=order.device_id).status == DeviceStatus.ISSUED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_D1_cancel_and_ship_at_once_one_of_them_wins(postgresql, client_factory, agent):
    from tests.conftest import run_at_once

    person = client_factory("Dan", "Moe", "US", equity="500.00", username="dan")
    order = orders.place(person, now=timezone.now()).order
    verification = _verification(person, agent)

    def work(index):
        if index == 0:
            return orders.cancel(order, now=timezone.now())
        return orders.mark_shipped(
            order, serial=order.device.serial, now=timezone.now(), agent=agent, verification=verification
        )

    results = run_at_once(2, work)
    refused = [r for r in results if isinstance(r, orders.OrderRefused)]
    assert len(refused) == 1, results  # no deadlock, no error: one of them was told why
    order.refresh_from_db()
    device = SecurityDevice.objects.get(pk=order.device_id)
    if order.cancelled_at is not None:
        assert order.shipped_at is None and device.status == DeviceStatus.REVOKED
    else:
        assert order.shipped_at is not None and device.status == DeviceStatus.ISSUED
