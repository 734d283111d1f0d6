"""Ordering and shipping permanent devices (D1-D6, D8).

    place(client, now=...)                 -> Placed(order, pin, passphrase)
    set_pin(order, pin, now=...)           -> the order, final (D2)
    mark_shipped(order, serial=..., ...)   -> the order, shipped (an agent)
    cancel(order, now=..., agent=...)      -> the order, cancelled; its device revoked

Every refusal is an OrderRefused whose message says, in the client's words,
what is wrong and what to do; its `rule` goes to the audit and the agents'
views. Each function is one transaction. `place` holds the client's row lock, so
two orders placed at once take turns and the second one is refused; the
others lock the order's device before the order itself, in the order R1
(devices/activation.py) and D3's job (devices/jobs.py) lock them, so two
of them never wait for each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from accounts.models import Account, Client, IdentityVerification, User
from audit import trail

from . import pins
from .flows import issue_device
from .models import (
    DeviceBinding,
    DeviceOrder,
    DeviceStatus,
    DeviceType,
    OrderStatus,
    SecurityDevice,
    ShippingMethod,
)

PASSPHRASE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

# D5: the statuses of a device that a replacement supersedes.
SUPERSEDED = (DeviceStatus.LOST, DeviceStatus.STOLEN, DeviceStatus.DAMAGED, DeviceStatus.UNAVAILABLE)

# D5: a Platinum token is replaced only after its return is acknowledged.
# The acknowledgement is the device's RETURNED status (the returns app sets
# it at the receipt, returns.flows.record_receipt, before it orders or
# invites the replacement): any Platinum of the client in one of these
# statuses refuses every new order, whatever its type, and only RETURNED
# lets one through; a Platinum lost or stolen is not replaced in the portal.
# REVOKED is not here: that Platinum was superseded by a device the client
# activated since, so it is not the device being replaced.
PLATINUM_NOT_RETURNED = (
    DeviceStatus.ISSUED,
    DeviceStatus.ACTIVE,
    DeviceStatus.LOST,
    DeviceStatus.STOLEN,
    DeviceStatus.DAMAGED,
    DeviceStatus.UNAVAILABLE,
)

# Who may cancel an order in which status: the client before it ships; an
# agent, on a verified call, until its device is activated (a parcel lost in
# the post must not activate itself in someone else's hands).
CLIENT_CANCELLABLE = (OrderStatus.AWAITING_PIN, OrderStatus.REQUESTED)
AGENT_CANCELLABLE = (OrderStatus.AWAITING_PIN, OrderStatus.REQUESTED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class OrderRefused(Exception):
    """A rule forbids the order; the message names it in plain words."""

    def __init__(self, message: str, *, rule: str, field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.field = field


@dataclass(frozen=True)
class Placed:
    order: DeviceOrder
    # Platinum only (D5): shown once on the confirmation page, never stored.
    pin: str = ""
    passphrase: str = ""


def open_funded_accounts(client: Client, now: datetime):
    return Account.objects.filter(client=client, funded_at__lte=now).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=now)
    )


def equity_of(client: Client, now: datetime) -> Decimal:
    """D6: the client's equity, over their open funded accounts."""
    return sum((account.equity_usd for account in open_funded_accounts(client, now)), Decimal("0"))


def device_type_for(equity: Decimal) -> str:
    """D6: the device the equity gets (the last threshold it reaches)."""
    chosen = DeviceType.CODE_CARD
    for threshold, device_type in settings.SLS["DEVICE_BY_EQUITY_USD"]:
        if equity >= threshold:
            chosen = device_type
    return chosen


def delivery_days(country: str) -> int:
    """D4: the days a device takes to arrive in the country of residence."""
    table = settings.SLS["DELIVERY_DAYS_BY_COUNTRY"]
    return table.get(country, table["DEFAULT"])


def shipping_method(country: str) -> str:
    return ShippingMethod.DOMESTIC if country == "US" else ShippingMethod.INTERNATIONAL


@dataclass(frozen=True)
class Offer:
    """What the enrollment page and D1's request show before confirming."""

    device_type: str
    equity: Decimal
    address: str
    method: str
    ships_at: datetime
    delivered_at: datetime

    @property
    def device_label(self) -> str:
        return DeviceType(self.device_type).label

    @property
    def method_label(self) -> str:
        return ShippingMethod(self.method).label

    @property
    def needs_pin(self) -> bool:
        return _client_sets_pin(self.device_type)

    @property
    def shows_secrets(self) -> bool:
        # D5: Platinum's PIN and passphrase are shown once, on confirming.
        return self.device_type == DeviceType.PLATINUM

    @property
    def auto_activates_at(self) -> datetime:
        return self.delivered_at + settings.SLS["AUTO_ACTIVATION_AFTER_DELIVERY"]


def offer_for(client: Client, now: datetime) -> Offer:
    equity = equity_of(client, now)
    ships_at = now + settings.SLS["DEVICE_HANDLING"]
    return Offer(
        device_type=device_type_for(equity),
        equity=equity,
        address=client.address,
        method=shipping_method(client.country),
        ships_at=ships_at,
        delivered_at=ships_at + timedelta(days=delivery_days(client.country)),
    )


def _client_sets_pin(device_type: str) -> bool:
    # D2: a PIN-bound kind whose PIN is not generated (Platinum's is, D5).
    return DeviceBinding.KINDS[device_type].needs_pin and device_type != DeviceType.PLATINUM


def open_order(client: Client, now: datetime) -> DeviceOrder | None:
    for order in DeviceOrder.objects.filter(client=client, cancelled_at__isnull=True, activated_at__isnull=True):
        if order.is_open(now):
            return order
    return None


# Checks that higher apps add to every order (the returns app: D5's
# Platinum replacement waits until the old token's receipt is
# acknowledged). Each returns an OrderRefused, or None to allow.
ORDER_CHECKS: list[Callable[[Client, str, datetime], OrderRefused | None]] = []


def register_order_check(check: Callable[[Client, str, datetime], OrderRefused | None]):
    ORDER_CHECKS.append(check)
    return check


def _refuse_unless_allowed(client: Client, device_type: str, now: datetime) -> None:
    if not open_funded_accounts(client, now).exists():
        raise OrderRefused(
            _(
                "A security device is sent to clients with an open, funded account. Fund your account first, "
                "then order your device; it is free of charge."
            ),
            rule="D8",
        )
    if open_order(client, now) is not None:
        raise OrderRefused(
            _("A security device is already on its way to you: one device is linked to your account at a time."),
            rule="D5",
        )
    # The higher apps' checks first: the returns app says more precisely
    # why, when a Platinum is on its way back to us.
    for check in ORDER_CHECKS:
        refused = check(client, device_type, now)
        if refused is not None:
            raise refused
    if SecurityDevice.objects.filter(
        client=client, type=DeviceType.PLATINUM, status__in=PLATINUM_NOT_RETURNED
    ).exists():
        raise OrderRefused(
            _(
                "You have a Platinum token: one is linked at a time, and a new device replaces it only once we "
                "have received it back. Send it back to us, or call Customer Service if you no longer have it; "
                "then order the new one."
            ),
            rule="D5",
        )


def refusal_for(client: Client, now: datetime) -> OrderRefused | None:
    """What would refuse an order placed now (D5, D8), to say so before the
    client confirms; None when it would be placed. `place` checks again."""
    try:
        _refuse_unless_allowed(client, offer_for(client, now).device_type, now)
    except OrderRefused as refused:
        return refused
    return None


def superseded_device(client: Client) -> SecurityDevice | None:
    """D5: the device reported lost, stolen, damaged or unavailable that a
    new order replaces (the latest one no live order replaces), or None."""
    replaced = DeviceOrder.objects.filter(replaces=OuterRef("pk"), cancelled_at__isnull=True)
    return (
        SecurityDevice.objects.filter(~Exists(replaced), client=client, status__in=SUPERSEDED)
        .order_by("-deactivated_at", "-id")
        .first()
    )


def _platinum_secrets() -> tuple[str, str]:
    length = settings.SLS["PLATINUM_PIN_LENGTH"]
    while True:
        pin = f"{secrets.randbelow(10**length):0{length}d}"
        try:
            pins.validate_pin(pin)
        except ValidationError:
            continue
        break
    groups = [
        "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(5))
        for _ in range(settings.SLS["PLATINUM_PASSPHRASE_GROUPS"])
    ]
    return pin, "-".join(groups)


def _make_device(order: DeviceOrder, *, pin: str | None, now: datetime) -> None:
    device = issue_device(order.client, order.device_type, now=now, pin=pin, active=False, issued_by=order.ordered_by)
    device.auto_activates_at = order.auto_activates_at
    device.save(update_fields=["auto_activates_at"])
    order.device = device
    order.finalised_at = now


def place(
    client: Client,
    *,
    now: datetime,
    agent: User | None = None,
    verification: IdentityVerification | None = None,
    pin: str | None = None,
    replaces: SecurityDevice | None = None,
    request=None,
) -> Placed:
    """Order the device the client's equity gets (D6), to the address of
    record (D1), as a replacement of `replaces` (a returned device, T5) or
    else of a device reported lost, stolen or damaged if there is one (D5).
    A kind whose PIN the client sets waits for it (D2) unless `pin` is
    given; Platinum's PIN and passphrase are generated and returned once (D5)."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        offer = offer_for(client, now)
        _refuse_unless_allowed(client, offer.device_type, now)
        if pin is not None and _client_sets_pin(offer.device_type):
            try:
                pins.validate_pin(pin)
            except ValidationError as error:
                raise OrderRefused(error.messages[0], rule="D2", field="pin") from None
        if replaces is None:
            replaces = superseded_device(client)
        elif replaces.client_id != client.pk:
            raise ValueError("a device replaces one of its own client's devices only")
        order = DeviceOrder(
            client=client,
            device_type=offer.device_type,
            equity_usd=offer.equity,
            replaces=replaces,
            shipping_address=offer.address,
            shipping_country=client.country,
            shipping_method=offer.method,
            requested_at=now,
            projected_ship_at=offer.ships_at,
            projected_delivery_at=offer.delivered_at,
            ordered_by=agent,
            verification=verification,
        )
        shown_pin = passphrase = ""
        if offer.device_type == DeviceType.PLATINUM:
            shown_pin, passphrase = _platinum_secrets()
            order.passphrase_hash = make_password(passphrase)
            _make_device(order, pin=shown_pin, now=now)
        elif not _client_sets_pin(offer.device_type):
            _make_device(order, pin=None, now=now)
        elif pin is not None:
            _make_device(order, pin=pin, now=now)
        order.save()
        trail.record(
            "device.order.placed",
            request=request,
            actor=agent,
            client=client,
            verification=verification,
            rule="D6",
            details={
                "order": order.pk,
                "type": order.device_type,
                "equity_usd": str(offer.equity),
                "replaces": replaces.serial if replaces else "",
                "final": order.finalised_at is not None,
            },
        )
    return Placed(order=order, pin=shown_pin, passphrase=passphrase)


def set_pin(order: DeviceOrder, pin: str, *, now: datetime, request=None) -> DeviceOrder:
    """D2: the client's PIN finalises the order of a PIN-bound device."""
    with transaction.atomic():
        order = DeviceOrder.objects.select_for_update().get(pk=order.pk)
        if order.finalised_at is not None or order.cancelled_at is not None:
            raise OrderRefused(_("This order already has its PIN; nothing was changed."), rule="D2", field="pin")
        try:
            pins.validate_pin(pin)
        except ValidationError as error:
            raise OrderRefused(error.messages[0], rule="D2", field="pin") from None
        _make_device(order, pin=pin, now=now)
        order.save(update_fields=["device", "finalised_at"])
        trail.record(
            "device.order.pin_set",
            request=request,
            client=order.client,
            rule="D2",
            details={"order": order.pk, "serial": order.device.serial},
        )
    return order


def _locked_status(order: DeviceOrder, now: datetime) -> str:
    """The status of an order just locked: what another transaction recorded
    while this one waited for the lock counts, even when it is stamped a
    moment after `now` (taken before the wait)."""
    recorded = [t for t in (order.finalised_at, order.shipped_at, order.activated_at, order.cancelled_at) if t]
    return order.status(max([now, *recorded]))


def _lock_device_of(order: DeviceOrder) -> SecurityDevice | None:
    """The order's device, its row locked (before the order's: see above)."""
    return SecurityDevice.objects.select_for_update(of=("self",)).filter(order__pk=order.pk).first()


def mark_shipped(
    order: DeviceOrder,
    *,
    serial: str,
    now: datetime,
    agent: User,
    verification: IdentityVerification | None,
    request=None,
) -> DeviceOrder:
    """An agent records the shipment of the order's device, checking the
    serial number on its back. Shipped after its projected shipping date,
    the order arrives later: its projected delivery date becomes the
    shipment plus the country's delivery days (D4), and the device's
    auto-activation moves with it (D3), in this transaction. Shipped on
    time or early, both keep the dates given when it was ordered."""
    serial = (serial or "").strip().upper()
    with transaction.atomic():
        _lock_device_of(order)
        order = DeviceOrder.objects.select_for_update(of=("self",)).select_related("device").get(pk=order.pk)
        if verification is None:
            raise OrderRefused(_("Verify the client's identity on this call first."), rule="L5")
        status = _locked_status(order, now)
        if status == "awaiting_pin":
            raise OrderRefused(_("The client has not created the PIN yet: the device cannot ship."), rule="D2")
        if status != "requested":
            raise OrderRefused(
                _("This order is %(status)s: only a requested order ships.") % {"status": OrderStatus(status).label},
                rule="D1",
            )
        if not serial or len(serial) > 32 or serial != order.device.serial:
            raise OrderRefused(
                _("The serial number does not match the device of this order: check the back of the device."),
                rule="D1",
                field="serial",
            )
        order.shipped_at = now
        projected = order.projected_delivery_at
        if now > order.projected_ship_at:
            order.projected_delivery_at = now + timedelta(days=delivery_days(order.shipping_country))
        order.save(update_fields=["shipped_at", "projected_delivery_at"])
        SecurityDevice.objects.filter(pk=order.device_id, status=DeviceStatus.ISSUED).update(
            auto_activates_at=order.auto_activates_at
        )
        trail.record(
            "device.order.shipped",
            request=request,
            actor=agent,
            client=order.client,
            verification=verification,
            rule="D1",
            details={
                "order": order.pk,
                "serial": serial,
                "late": order.projected_delivery_at != projected,
                "projected_delivery_at": order.projected_delivery_at.isoformat(),
            },
        )
    return order


def cancel(
    order: DeviceOrder,
    *,
    now: datetime,
    agent: User | None = None,
    verification: IdentityVerification | None = None,
    request=None,
) -> DeviceOrder:
    """Cancel an order: the client's own before it ships, or an agent's on a
    verified call until its device is activated (CLIENT_CANCELLABLE,
    AGENT_CANCELLABLE). Its device never activates: an ISSUED device becomes
    REVOKED in this transaction, so neither R1, nor the login's reading of
    D3 (`live_device`), nor the job can pick it up."""
    with transaction.atomic():
        device = _lock_device_of(order)
        order = DeviceOrder.objects.select_for_update(of=("self",)).select_related("client").get(pk=order.pk)
        if agent is not None and verification is None:
            raise OrderRefused(_("Verify the client's identity on this call first."), rule="L5")
        status = _locked_status(order, now)
        if status not in (AGENT_CANCELLABLE if agent is not None else CLIENT_CANCELLABLE):
            if agent is None and status in AGENT_CANCELLABLE:
                message = _(
                    "Your device has already shipped, so the order can no longer be cancelled here. If you do not "
                    "want it, call Customer Service before it activates itself."
                )
            else:
                message = _("This order is %(status)s: there is nothing to cancel.") % {
                    "status": OrderStatus(status).label.lower()
                }
            raise OrderRefused(message, rule="D1")
        if device is None and order.device_id is not None:
            # The PIN was set (D2) while this waited for the order's lock.
            device = _lock_device_of(order)
        order.cancelled_at = now
        order.save(update_fields=["cancelled_at"])
        revoked = 0
        if device is not None:
            revoked = SecurityDevice.objects.filter(pk=device.pk, status=DeviceStatus.ISSUED).update(
                status=DeviceStatus.REVOKED, deactivated_at=now
            )
        trail.record(
            "device.order.cancelled",
            request=request,
            actor=agent,
            client=order.client,
            verification=verification,
            rule="D1",
            details={
                "order": order.pk,
                "was": status,
                "serial": device.serial if device is not None else "",
                "device_revoked": bool(revoked),
            },
        )
    return order
