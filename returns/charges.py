"""Device charges (T6, B4).

    fee_for(device_type)                                   -> Decimal (USD)
    create_charge(device, reason, agent=..., now=...)      -> DeviceCharge
    waive_charge(charge, reason=..., agent=..., now=...)   -> DeviceCharge

A device that is lost, stolen, damaged, not returned when the account
closes, or lost on its way back is charged by its type
(SLS["DEVICE_CHARGE_USD"]); agents create the charge or waive it with a
reason, each audited. A device is charged once: the device's row lock makes
a second attempt wait and be told, and the unique constraint holds even
without it. Nothing here is called by enrollment or ordering (B4).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import formats
from django.utils.translation import gettext as _

from accounts.models import Account, IdentityVerification, User
from audit import trail
from devices.models import DeviceType, SecurityDevice

from .models import ChargeReason, DeviceCharge


class ChargeRefused(Exception):
    """A rule forbids it; the message says what is wrong, and nothing was written."""

    def __init__(self, message: str, *, rule: str = "T6", field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.field = field


def fee_table() -> list[tuple[str, Decimal]]:
    """(device type label, amount) for every charged type, cheapest first."""
    table = settings.SLS["DEVICE_CHARGE_USD"]
    return sorted(
        ((str(DeviceType(device_type).label), amount) for device_type, amount in table.items()),
        key=lambda row: (row[1], row[0]),
    )


def fee_for(device_type: str) -> Decimal:
    """T6: the charge for a device of this type, or ChargeRefused for a type without one."""
    amount = settings.SLS["DEVICE_CHARGE_USD"].get(device_type)
    if amount is None:
        label = DeviceType(device_type).label if device_type in DeviceType.values else device_type
        raise ChargeRefused(
            _("A device of type “%(type)s” is not charged: no charge is set for it. Nothing was written.")
            % {"type": label},
            field="device",
        )
    return amount


def _account_for(device: SecurityDevice, account: Account | None, now: datetime) -> Account:
    """The account charged: the one given (the device's client's), or else
    the client's first open account, or else their most recently closed."""
    accounts = Account.objects.filter(client_id=device.client_id)
    if account is not None:
        if account.client_id != device.client_id:
            raise ChargeRefused(_("That account is not this client's. Nothing was written."), field="account")
        return account
    found = (
        accounts.filter(Q(closed_at__isnull=True) | Q(closed_at__gt=now)).order_by("number").first()
        or accounts.order_by("-closed_at", "number").first()
    )
    if found is None:
        raise ChargeRefused(_("This client has no account to charge. Nothing was written."), field="account")
    return found


def _already_charged(charge: DeviceCharge, now: datetime) -> ChargeRefused:
    return ChargeRefused(
        _("This device was already charged on %(date)s (%(status)s): a device is charged once. Nothing was written.")
        % {
            "date": formats.date_format(charge.created_at, "DATE_FORMAT"),
            "status": charge.status_label(now),
        }
    )


def create_charge(
    device: SecurityDevice,
    reason: str,
    *,
    agent: User,
    now: datetime,
    account: Account | None = None,
    verification: IdentityVerification | None = None,
    request=None,
) -> DeviceCharge:
    """T6: charge the device's cost to one of its client's accounts, once."""
    if reason not in ChargeReason.values:
        raise ChargeRefused(
            _(
                "Choose why the device is charged: lost, stolen, damaged, not returned when the account closed, "
                "or lost on its way back."
            ),
            field="reason",
        )
    with transaction.atomic():
        # The device's row locked: two agents charging at once take turns,
        # and the second is told the device is charged already.
        locked = SecurityDevice.objects.select_for_update().get(pk=device.pk)
        existing = DeviceCharge.objects.filter(device=locked).first()
        if existing is not None:
            raise _already_charged(existing, now)
        amount = fee_for(locked.type)
        charged = _account_for(locked, account, now)
        try:
            with transaction.atomic():
                charge = DeviceCharge.objects.create(
                    account=charged,
                    device=locked,
                    device_type=locked.type,
                    amount_usd=amount,
                    reason=reason,
                    created_at=now,
                    created_by=agent,
                    verification=verification,
                )
        except IntegrityError:
            # Only without the row lock (another path writing charges).
            existing = DeviceCharge.objects.filter(device=locked).first()
            if existing is None:
                raise
            raise _already_charged(existing, now) from None
        trail.record(
            "device.charge.created",
            request=request,
            actor=agent,
            client_id=locked.client_id,
            verification=verification,
            rule="T6",
            details={
                "charge": charge.pk,
                "serial": locked.serial,
                "type": locked.type,
                "account": charged.number,
                "amount_usd": str(amount),
                "reason": reason,
            },
            at=now,
        )
    return charge


def waive_charge(
    charge: DeviceCharge,
    *,
    reason: str,
    agent: User,
    now: datetime,
    verification: IdentityVerification | None = None,
    request=None,
) -> DeviceCharge:
    """T6: an agent waives a charge, saying why (the client sees it waived)."""
    reason = (reason or "").strip()
    limit = settings.SLS["CHARGE_WAIVE_REASON_MAX_LENGTH"]
    if not reason:
        raise ChargeRefused(_("Say why the charge is waived. Nothing was written."), field="reason")
    if len(reason) > limit:
        raise ChargeRefused(
            _("The reason is too long: at most %(limit)d characters. Nothing was written.") % {"limit": limit},
            field="reason",
        )
    with transaction.atomic():
        locked = DeviceCharge.objects.select_for_update().select_related("device", "account").get(pk=charge.pk)
        if locked.waived_at is not None:
            raise ChargeRefused(
                _("This charge was already waived on %(date)s. Nothing was written.")
                % {"date": formats.date_format(locked.waived_at, "DATE_FORMAT")}
            )
        locked.waived_at, locked.waived_by, locked.waive_reason = now, agent, reason
        locked.waive_verification = verification
        locked.save(update_fields=["waived_at", "waived_by", "waive_reason", "waive_verification"])
        trail.record(
            "device.charge.waived",
            request=request,
            actor=agent,
            client_id=locked.account.client_id,
            verification=verification,
            rule="T6",
            details={"charge": locked.pk, "serial": locked.device.serial, "amount_usd": str(locked.amount_usd)},
            at=now,
        )
    return locked
