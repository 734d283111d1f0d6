"""Returning a device (T1-T5): the client starts the return, an agent records its receipt.

    start_return(user, device, reason=..., replacement_wanted=..., now=...) -> DeviceReturn
    record_receipt(device_return, agent=..., verification=..., now=...)   -> Receipt

Every refusal is a ReturnRefused whose message says, in the client's (or
the agent's) words, what is wrong; its `rule` goes to the audit. Each
function is one transaction: a refusal writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import formats
from django.utils.translation import gettext as _

from accounts.models import IdentityVerification, User
from audit import trail
from devices import orders
from devices.jobs import INVITATION, REPLACEMENT_ORDERED
from devices.models import DeviceOrder, DeviceStatus, DeviceType, Notice, SecurityDevice

from .instructions import Replacement, instructions_for
from .models import DeviceReturn


class ReturnRefused(Exception):
    """A rule forbids it; the message names it in plain words."""

    def __init__(self, message: str, *, rule: str, field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.field = field


def refusal_for(device: SecurityDevice) -> ReturnRefused | None:
    """Why this device cannot be returned now, or None (T5)."""
    found = instructions_for(device.type)
    if not found.returned:
        return ReturnRefused(str(found.what_to_do), rule="T5", field="device")
    if device.status == DeviceStatus.RETURNED:
        return ReturnRefused(_("We have already received this device back."), rule="T3", field="device")
    if DeviceReturn.objects.filter(device=device).exists():
        return ReturnRefused(
            _("You have already started the return of this device: download its form below."),
            rule="T1",
            field="device",
        )
    return None


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    limit = settings.SLS["RETURN_REASON_MAX_LENGTH"]
    if not reason:
        raise ReturnRefused(
            _("Give a brief reason for the return, for example: account closed, battery dead, broken."),
            rule="T1",
            field="reason",
        )
    if len(reason) > limit:
        raise ReturnRefused(
            _("Keep the reason brief: at most %(limit)d characters (yours has %(length)d).")
            % {"limit": limit, "length": len(reason)},
            rule="T1",
            field="reason",
        )
    return reason


def start_return(
    user: User,
    device: SecurityDevice,
    *,
    reason: str,
    replacement_wanted: bool,
    now: datetime,
    request=None,
) -> DeviceReturn:
    """T1: record the return the client is about to send, so that agents expect it."""
    if device.client_id != user.client_id:
        # The view answers 404 before; this is the flow's own guard.
        raise ValueError("a client returns their own devices only")
    reason = check_reason(reason)
    with transaction.atomic():
        # The device's row locked: a double-clicked form takes turns and the
        # second is told the return is started already.
        locked = SecurityDevice.objects.select_for_update().get(pk=device.pk)
        refused = refusal_for(locked)
        if refused is not None:
            raise refused
        try:
            with transaction.atomic():
                device_return = DeviceReturn.objects.create(
                    client_id=locked.client_id,
                    device=locked,
                    reason=reason,
                    replacement_wanted=replacement_wanted,
                    started_at=now,
                    started_by=user,
                )
        except IntegrityError:
            raise refusal_for(locked) or ReturnRefused(_("This return is already recorded."), rule="T1") from None
        trail.record(
            "device.return.started",
            request=request,
            client_id=locked.client_id,
            username=user.username,
            rule="T1",
            details={
                "return": device_return.pk,
                "serial": locked.serial,
                "type": locked.type,
                "replacement_wanted": replacement_wanted,
            },
            at=now,
        )
    return device_return


class Outcome:
    """What the receipt did about the replacement (T5, D5, D6)."""

    NOT_WANTED = "not_wanted"
    INVITED = "invited"
    ORDERED = "ordered"
    CLIENT_REQUESTS = "client_requests"
    REFUSED = "refused"


@dataclass(frozen=True)
class Receipt:
    device_return: DeviceReturn
    outcome: str
    order: DeviceOrder | None = None
    # Why no order could be placed (OUTCOME.REFUSED), in words, and its rule.
    refusal: str = ""
    rule: str = ""


def record_receipt(
    device_return: DeviceReturn,
    *,
    agent: User,
    verification: IdentityVerification | None,
    now: datetime,
    notes: str = "",
    request=None,
) -> Receipt:
    """T3: the device has arrived. The client's page shows it received; the
    device becomes returned; its sessions end. Then, if a replacement is
    wanted, by type (T5): the equity decides (D6, evaluated now) between
    D5's e-mail invitation to request a Platinum token in the portal and a
    device for the equity ordered at once with no web step; a Digital
    Security Card+ or Gold is requested by the client, with its PIN (D2).
    One transaction with its audit event; the order, if any, in it too."""
    if verification is None:
        raise ReturnRefused(_("Verify the client's identity first."), rule="L5")
    with transaction.atomic():
        locked = DeviceReturn.objects.select_for_update().select_related("client", "device").get(pk=device_return.pk)
        if locked.received_at is not None:
            raise ReturnRefused(
                _("The receipt of this device was already recorded on %(date)s. Nothing was changed.")
                % {"date": formats.date_format(locked.received_at, "DATE_FORMAT")},
                rule="T3",
            )
        locked.received_at, locked.received_by, locked.receipt_verification = now, agent, verification
        notes = (notes or "").strip()
        if notes:
            locked.agent_notes = f"{locked.agent_notes}\n{notes}".strip()
        locked.save(update_fields=["received_at", "received_by", "receipt_verification", "agent_notes"])
        device = locked.device
        was_active = device.status == DeviceStatus.ACTIVE
        SecurityDevice.objects.filter(pk=device.pk).update(
            status=DeviceStatus.RETURNED, deactivated_at=Coalesce("deactivated_at", now)
        )
        device.refresh_from_db(fields=["status", "deactivated_at"])
        if was_active:
            # Sessions that rode on it end now, even a request in flight.
            for user in User.objects.filter(pk__in=device.bindings.values("user_id")):
                user.end_all_sessions(now)
        receipt = _replacement(locked, agent=agent, verification=verification, now=now, request=request)
        trail.record(
            "device.return.received",
            request=request,
            actor=agent,
            client=locked.client,
            verification=verification,
            rule="T3",
            details={
                "return": locked.pk,
                "serial": device.serial,
                "type": device.type,
                "replacement": receipt.outcome,
                "order": receipt.order.pk if receipt.order else None,
                "refused_rule": receipt.rule,
            },
            at=now,
        )
    return receipt


def _replacement(
    device_return: DeviceReturn, *, agent: User, verification: IdentityVerification, now: datetime, request
) -> Receipt:
    if not device_return.replacement_wanted:
        return Receipt(device_return, Outcome.NOT_WANTED)
    device, client = device_return.device, device_return.client
    how = instructions_for(device.type).replacement
    if how == Replacement.CLIENT_REQUESTS:
        return Receipt(device_return, Outcome.CLIENT_REQUESTS)
    if how not in (Replacement.INVITATION, Replacement.AUTOMATIC):
        return Receipt(device_return, Outcome.NOT_WANTED)
    # D6: the device follows the equity when the return is acknowledged.
    if orders.device_type_for(orders.equity_of(client, now)) == DeviceType.PLATINUM:
        # D5: a Platinum's PIN and passphrase are shown once, on the page of
        # the client's own request: never ordered without the client.
        Notice.objects.bulk_create(
            [Notice(event=INVITATION, object_key=f"device:{device.pk}", client=client, created_at=now)],
            ignore_conflicts=True,
        )
        return Receipt(device_return, Outcome.INVITED)
    try:
        placed = orders.place(client, now=now, agent=agent, verification=verification, replaces=device, request=request)
    except orders.OrderRefused as refused:
        return Receipt(device_return, Outcome.REFUSED, refusal=str(refused), rule=refused.rule)
    Notice.objects.bulk_create(
        [Notice(event=REPLACEMENT_ORDERED, object_key=f"order:{placed.order.pk}", client=client, created_at=now)],
        ignore_conflicts=True,
    )
    return Receipt(device_return, Outcome.ORDERED, order=placed.order)


@orders.register_order_check
def platinum_waits_for_its_return(client, device_type: str, now: datetime) -> orders.OrderRefused | None:
    """D5, T5: a Platinum token on its way back to us blocks a new Platinum
    order until its receipt is acknowledged (one device at a time)."""
    if device_type != DeviceType.PLATINUM:
        return None
    waiting = DeviceReturn.objects.filter(
        client=client, device__type=DeviceType.PLATINUM, received_at__isnull=True
    ).exists()
    if not waiting:
        return None
    return orders.OrderRefused(
        _(
            "We have not received your Platinum token back yet: a new one can be requested once we have "
            "confirmed its receipt. We e-mail you then."
        ),
        rule="D5",
    )
