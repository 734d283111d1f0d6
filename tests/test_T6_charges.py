"""Device charges (T6, B4): by type, created or waived by agents with a reason,
audited, shown to the client, never twice for one device; enrollment free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import Account, User
from audit.models import AuditEvent
from devices import jobs, orders
from devices.flows import issue_device
from devices.models import DeviceStatus, DeviceType, SecurityDevice
from passcodes.models import ReportedStatus, TemporaryPasscode
from returns import charges
from returns.models import ChargeReason, DeviceCharge
from tests.conftest import (
    NOT_VERIFIED,
    VERIFIED,
    admin_client,
    csrf_post,
    give_passcode,
    log_in_with_passcode,
    login_fully,
    run_at_once,
)

PIN = "135790"


@pytest.fixture
def holder(client_factory, clock):
    """make(type, ...) -> (username, device), the device reported lost."""
    made = {"count": 0}

    def make(device_type=DeviceType.ALPINE, *, status=DeviceStatus.LOST, **kw):
        made["count"] += 1
        name = f"holder{made['count']}"
        person = client_factory("Luca", "Neri", kw.pop("country", "GB"), username=name, email=f"{name}@x.com", **kw)
        device = issue_device(person, device_type, now=timezone.now(), pin=PIN, active=False)
        SecurityDevice.objects.filter(pk=device.pk).update(status=status, deactivated_at=timezone.now())
        device.refresh_from_db()
        user = User.objects.get(username=name)
        if status in ReportedStatus.values:
            # What Customer Service gives a client whose device is gone (T4).
            PASSCODES[name] = give_passcode(user, device_status=status)
        return user, device

    return make


PASSCODES: dict[str, str] = {}


def log_in(http: HttpClient, user: User) -> None:
    if user.username in PASSCODES and TemporaryPasscode.objects.filter(user=user, ended_at__isnull=True).exists():
        log_in_with_passcode(http, user, PASSCODES[user.username])
    else:
        login_fully(http, user)


def charge_path(device: SecurityDevice) -> str:
    return f"/admin/devices/securitydevice/{device.pk}/charge/"


def waive_path(charge: DeviceCharge) -> str:
    return f"/admin/returns/devicecharge/{charge.pk}/waive/"


def charge(device: SecurityDevice, agent: User, reason=ChargeReason.LOST) -> DeviceCharge:
    return charges.create_charge(device, reason, agent=agent, now=timezone.now())


# --- The table ------------------------------------------------------------------------


def test_T6_every_charge_is_within_20_to_150_usd_and_the_dsc_plus_is_20():
    low, high = settings.SLS["DEVICE_FEE_RANGE_USD"]
    table = settings.SLS["DEVICE_CHARGE_USD"]
    assert table["dsc_plus"] == Decimal("20.00")
    assert all(low <= amount <= high for amount in table.values()), table
    assert set(table) <= set(DeviceType.values)
    # Every device that goes back (T5) has a price if it does not.
    from returns.instructions import RETURNED_TYPES

    assert set(RETURNED_TYPES) == set(table)


@pytest.mark.parametrize("device_type", [DeviceType.MOBILE, DeviceType.CODE_CARD, "hologram"])
def test_T6_a_type_without_a_charge_gets_a_clear_message_and_nothing_is_written(holder, agent, device_type):
    _user, device = holder(DeviceType.ALPINE)
    SecurityDevice.objects.filter(pk=device.pk).update(type=device_type)
    device.refresh_from_db()
    with pytest.raises(charges.ChargeRefused, match="is not charged: no charge is set for it"):
        charge(device, agent)
    assert not DeviceCharge.objects.exists()
    assert not AuditEvent.objects.filter(action="device.charge.created").exists()


# --- Agents create charges -----------------------------------------------------------


@pytest.mark.parametrize(
    ("device_type", "amount"),
    [
        (DeviceType.DSC_PLUS, "20.00"),
        (DeviceType.ALPINE, "40.00"),
        (DeviceType.GOLD, "60.00"),
        (DeviceType.PLATINUM, "150.00"),
    ],
)
def test_T6_agent_charges_a_lost_device_by_its_type(holder, desk, agent, device_type, amount):
    user, device = holder(device_type)
    account = user.client.accounts.get()
    form = desk.get(charge_path(device))
    assert form.status_code == 200 and f"{amount} USD" in form.content.decode()
    response = csrf_post(desk, charge_path(device), {"reason": "lost", "account": account.pk, **NOT_VERIFIED})
    assert response.status_code == 302, response.content.decode()[-2000:]
    made = DeviceCharge.objects.get()
    assert (made.device, made.account, made.device_type, made.amount_usd) == (
        device,
        account,
        device_type,
        Decimal(amount),
    )
    assert made.reason == "lost" and made.created_by == agent and made.verification is None
    assert made.status(timezone.now()) == "charged"
    event = AuditEvent.objects.get(action="device.charge.created")
    assert event.rule == "T6" and event.actor == agent and event.client == user.client
    assert event.details["amount_usd"] == amount and event.details["serial"] == device.serial


@pytest.mark.parametrize("reason", ChargeReason.values)
def test_T6_each_reason_can_be_charged(holder, agent, reason):
    _user, device = holder()
    assert charge(device, agent, reason).get_reason_display()


def test_T6_an_unknown_reason_is_refused(holder, agent, desk):
    _user, device = holder()
    with pytest.raises(charges.ChargeRefused, match="Choose why the device is charged"):
        charge(device, agent, "forgot")
    response = csrf_post(desk, charge_path(device), {"reason": "forgot", **NOT_VERIFIED})
    assert response.status_code == 400 and "Choose why the device is charged." in response.content.decode()
    assert not DeviceCharge.objects.exists()


def test_T6_acting_for_a_caller_needs_the_callers_verification(holder, desk):
    user, device = holder()
    account = user.client.accounts.get()
    refused = csrf_post(desk, charge_path(device), {"reason": "stolen", "account": account.pk, "on_call": "on"})
    assert refused.status_code == 400 and "Verify the caller" in refused.content.decode()
    assert not DeviceCharge.objects.exists()
    done = csrf_post(
        desk, charge_path(device), {"reason": "stolen", "account": account.pk, "on_call": "on", **VERIFIED}
    )
    assert done.status_code == 302
    made = DeviceCharge.objects.get()
    assert made.verification is not None and made.verification.reference == "CALL-4711"
    assert AuditEvent.objects.get(action="device.charge.created").verification == made.verification


def test_T6_the_account_charged_is_the_clients_own(holder, agent, desk, client_factory):
    user, device = holder()
    stranger = client_factory("Sara", "Blu", "GB", email="sara@x.com").accounts.get()
    with pytest.raises(charges.ChargeRefused, match="not this client's"):
        charges.create_charge(device, "lost", agent=agent, now=timezone.now(), account=stranger)
    response = csrf_post(desk, charge_path(device), {"reason": "lost", "account": stranger.pk, **NOT_VERIFIED})
    assert response.status_code == 400 and "Choose one of this client&#x27;s accounts." in response.content.decode()
    assert not DeviceCharge.objects.exists()


def test_T6_a_closed_accounts_device_is_charged_to_the_closed_account(holder, agent):
    user, device = holder(status=DeviceStatus.ACTIVE, closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    made = charge(device, agent, ChargeReason.NOT_RETURNED_AT_CLOSURE)
    assert made.account == user.client.accounts.get()


# --- Never twice ---------------------------------------------------------------------------


def test_T6_a_second_charge_for_a_device_gets_a_clear_message_and_writes_nothing(holder, agent, desk):
    _user, device = holder()
    first = charge(device, agent)
    with pytest.raises(charges.ChargeRefused, match="already charged on .*a device is charged once"):
        charge(device, agent, ChargeReason.DAMAGED)
    response = csrf_post(desk, charge_path(device), {"reason": "damaged", "account": first.account_id, **VERIFIED})
    assert response.status_code == 400
    assert "This device was already charged on" in response.content.decode()
    assert DeviceCharge.objects.count() == 1
    assert AuditEvent.objects.filter(action="device.charge.created").count() == 1
    # The verification typed with the refused charge is not kept either.
    assert not AuditEvent.objects.filter(action="identity.verify").exists()
    # The device's page no longer offers to charge it.
    assert "/charge/" not in desk.get(f"/admin/devices/securitydevice/{device.pk}/change/").content.decode()


def test_T6_a_waived_charge_still_counts_as_the_devices_one_charge(holder, agent):
    _user, device = holder()
    charges.waive_charge(charge(device, agent), reason="Found it", agent=agent, now=timezone.now())
    with pytest.raises(charges.ChargeRefused, match="Waived"):
        charge(device, agent)
    assert DeviceCharge.objects.count() == 1


def test_T6_the_database_refuses_a_second_charge_even_without_the_lock(holder, agent):
    from django.db import IntegrityError, transaction

    _user, device = holder()
    first = charge(device, agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceCharge.objects.create(
            account=first.account,
            device=device,
            device_type=device.type,
            amount_usd=Decimal("40.00"),
            reason="lost",
            created_at=timezone.now(),
            created_by=agent,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_T6_a_charge_created_at_once_by_eight_agents_gives_one_row(postgresql, client_factory, agent, clock):
    person = client_factory("Ada", "Verdi", "IT", username="ada")
    device = issue_device(person, DeviceType.PLATINUM, now=timezone.now(), pin=PIN, active=False)

    def attempt(index: int) -> str:
        try:
            charges.create_charge(device, "lost", agent=agent, now=timezone.now())
        except charges.ChargeRefused:
            return "refused"
        return "charged"

    results = run_at_once(8, attempt)
    assert sorted(results) == ["charged"] + ["refused"] * 7, results
    assert DeviceCharge.objects.filter(device=device).count() == 1
    assert AuditEvent.objects.filter(action="device.charge.created").count() == 1


# --- Waiving ---------------------------------------------------------------------------------


def test_T6_agent_waives_a_charge_with_a_reason_audited(holder, agent, desk):
    _user, device = holder()
    made = charge(device, agent)
    missing = csrf_post(desk, waive_path(made), {"reason": "", **NOT_VERIFIED})
    assert missing.status_code == 400 and "Say why the charge is waived." in missing.content.decode()
    response = csrf_post(desk, waive_path(made), {"reason": "Device found and returned", **NOT_VERIFIED})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.waived_at == timezone.now() and made.waived_by == agent
    assert made.waive_reason == "Device found and returned" and made.status(timezone.now()) == "waived"
    event = AuditEvent.objects.get(action="device.charge.waived")
    assert event.rule == "T6" and event.actor == agent and event.details["charge"] == made.pk
    # Waived once only.
    with pytest.raises(charges.ChargeRefused, match="already waived"):
        charges.waive_charge(made, reason="again", agent=agent, now=timezone.now())
    assert "/waive/" not in desk.get(f"/admin/returns/devicecharge/{made.pk}/change/").content.decode()


def test_T6_a_waiver_reason_too_long_is_refused(holder, agent):
    _user, device = holder()
    made = charge(device, agent)
    with pytest.raises(charges.ChargeRefused, match="too long"):
        charges.waive_charge(made, reason="x" * 100_000, agent=agent, now=timezone.now())
    made.refresh_from_db()
    assert made.waived_at is None


def test_T6_charges_list_filters_and_its_waive_action(holder, agent, desk):
    _a, first = holder()
    _b, second = holder(DeviceType.PLATINUM)
    kept, waived = charge(first, agent), charge(second, agent, ChargeReason.DAMAGED)
    charges.waive_charge(waived, reason="Goodwill", agent=agent, now=timezone.now())
    listing = "/admin/returns/devicecharge/"
    assert first.serial in desk.get(listing + "?status=charged").content.decode()
    assert second.serial not in desk.get(listing + "?status=charged").content.decode()
    assert second.serial in desk.get(listing + "?status=waived").content.decode()
    assert second.serial in desk.get(listing + "?reason=damaged").content.decode()
    action = csrf_post(desk, listing, {"action": "waive_selected", "_selected_action": [kept.pk]})
    assert action.status_code == 302 and action.url == waive_path(kept)
    both = csrf_post(desk, listing, {"action": "waive_selected", "_selected_action": [kept.pk, waived.pk]}, follow=True)
    assert "Choose one charge: each waiver needs its own reason." in both.content.decode()


def test_T6_nobody_adds_changes_or_deletes_a_charge_in_the_admin(holder, agent, root):
    _user, device = holder()
    made = charge(device, agent)
    superuser = admin_client(root)
    assert superuser.get(f"/admin/returns/devicecharge/{made.pk}/delete/").status_code == 403
    assert superuser.get("/admin/returns/devicecharge/add/").status_code == 403
    page = superuser.get(f"/admin/returns/devicecharge/{made.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


# --- The client sees them -------------------------------------------------------------------


def test_T6_client_sees_the_charge_and_its_waiver_on_the_returns_page(holder, agent, clock):
    user, device = holder(DeviceType.PLATINUM)
    made = charge(device, agent, ChargeReason.LOST_IN_TRANSIT)
    http = HttpClient()
    log_in(http, user)
    page = http.get("/returns/").content.decode()
    assert "Lost on its way back to us" in page and "150.00" in page and user.client.accounts.get().number in page
    assert "Charge: 150.00 USD" in page
    clock.shift(timedelta(minutes=10))
    charges.waive_charge(made, reason="Courier's fault", agent=agent, now=timezone.now())
    assert "Waived on" in http.get("/returns/").content.decode()


def test_T6_the_returns_page_lists_the_charge_by_type(holder):
    user, _device = holder()
    http = HttpClient()
    log_in(http, user)
    page = http.get("/returns/").content.decode()
    assert "Digital Security Card+: 20.00 USD" in page and "Platinum token: 150.00 USD" in page
    assert "There are no charges on your accounts." in page


def test_T6_A8_a_closed_account_whose_device_is_not_back_is_told_a_charge_applies(holder):
    user, device = holder(status=DeviceStatus.ACTIVE, closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    SecurityDevice.objects.filter(pk=device.pk).update(status=DeviceStatus.REVOKED)
    http = HttpClient()
    log_in(http, user)
    page = http.get("/returns/").content.decode()
    assert f"Your account is closed and your Alpine token ({device.serial}) has not reached us" in page
    assert "a charge of 40.00 USD applies" in page


def test_T6_charges_of_other_clients_stay_theirs(holder, agent):
    user, _device = holder()
    _other, theirs = holder()
    charge(theirs, agent)
    http = HttpClient()
    log_in(http, user)
    page = http.get("/returns/").content.decode()
    assert theirs.serial not in page and "There are no charges on your accounts." in page


# --- B4: enrollment is free ----------------------------------------------------------------


def test_B4_enrolling_ordering_and_activating_create_no_charge(client_factory, clock):
    """D8's order on the web, an agent's order, the PIN step and the auto-activation."""
    person = client_factory("Bea", "Gialli", "US", equity="25000.00", username="bea")
    http = HttpClient(enforce_csrf_checks=True)
    login_fully(http, User.objects.get(username="bea"))
    assert csrf_post(http, "/settings/security/sls/order/", {"confirm_address": "on"}).status_code == 302
    assert csrf_post(http, "/settings/security/sls/order/pin/", {"pin": PIN, "pin_again": PIN}).status_code == 302
    other = client_factory("Ivo", "Rossi", "US", equity="2000000.00", email="ivo@x.com")
    placed = orders.place(other, now=timezone.now())
    clock.move_to(placed.order.auto_activates_at)
    jobs.sweep(timezone.now())
    assert SecurityDevice.objects.filter(client__in=[person, other], status=DeviceStatus.ACTIVE).count() == 2
    assert not DeviceCharge.objects.exists()
    assert Account.objects.filter(device_charges__isnull=False).count() == 0
