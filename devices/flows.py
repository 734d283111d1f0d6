"""Device workflows that touch devices, bindings and the audit log together."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Client, IdentityVerification, User
from audit import trail

from . import codecard
from .models import DeviceBinding, DeviceStatus, DeviceType, SecurityDevice


class DeviceConflict(Exception):
    """A rule forbids the change; the message names it."""


def _new_serial(prefix: str) -> str:
    return f"{prefix}{secrets.randbelow(10**10):010d}"


def bind_usernames(device: SecurityDevice) -> None:
    """D7: every username of the device's client logs in with it."""
    existing = set(device.bindings.values_list("user_id", flat=True))
    DeviceBinding.objects.bulk_create(
        [
            DeviceBinding(user=user, security_device=device, name=str(device), confirmed=True, kind=device.type)
            for user in User.objects.filter(client=device.client_id).exclude(pk__in=existing)
        ]
    )


def issue_code_card(
    client: Client,
    *,
    agent: User,
    now: datetime,
    request=None,
    verification: IdentityVerification | None = None,
) -> SecurityDevice:
    """An agent issues a Security Code Card, active at once, for mailing."""
    with transaction.atomic():
        # Lock the client's row, so two agents issuing at once take turns and
        # the second gets the D5 message instead of a constraint error.
        Client.objects.select_for_update().filter(pk=client.pk).exists()
        if SecurityDevice.objects.filter(client=client, status=DeviceStatus.ACTIVE).exists():
            raise DeviceConflict(
                _("This client already has an active security device; one device is linked at a time (D5).")
            )
        device = SecurityDevice(
            client=client,
            type=DeviceType.CODE_CARD,
            serial=_new_serial("SC"),
            status=DeviceStatus.ACTIVE,
            activated_at=now,
            issued_by=agent,
        )
        device.set_seed(codecard.new_seed())
        device.save()
        bind_usernames(device)
        trail.record(
            "device.issue",
            request=request,
            actor=agent,
            client=client,
            verification=verification,
            rule="D5",
            details={"serial": device.serial, "type": device.type},
        )
    return device


def issue_device(
    client: Client,
    device_type: str,
    *,
    now: datetime,
    pin: str | None = None,
    active: bool = True,
    issued_by: User | None = None,
) -> SecurityDevice:
    """A physical device of any kind for the client, its secrets made by its
    kind (a PIN-bound kind takes the PIN, D2), bound to every username (D7).
    Active at once unless `active` is False (D5: refused if one is active)."""
    kind = DeviceBinding.KINDS[device_type]
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=client.pk).exists()
        if active and SecurityDevice.objects.filter(client=client, status=DeviceStatus.ACTIVE).exists():
            raise DeviceConflict(
                _("This client already has an active security device; one device is linked at a time (D5).")
            )
        device = SecurityDevice(
            client=client,
            type=device_type,
            serial=_new_serial(kind.serial_prefix),
            status=DeviceStatus.ACTIVE if active else DeviceStatus.ISSUED,
            activated_at=now if active else None,
            issued_by=issued_by,
            created_at=now,
        )
        kind.provision(device, pin=pin)
        device.save()
        bind_usernames(device)
    return device


def take_printout(device: SecurityDevice, *, agent: User, now: datetime, request=None) -> bool:
    """Principle 4: the card's codes are handed out once. True the first time."""
    taken = SecurityDevice.objects.filter(pk=device.pk, printout_taken_at__isnull=True).update(printout_taken_at=now)
    trail.record(
        "device.printout",
        request=request,
        actor=agent,
        client=device.client,
        outcome="ok" if taken else "refused",
        details={"serial": device.serial},
    )
    return bool(taken)


# D5, T6: what an agent may record about a device a client no longer has in hand.
REPORTED_STATUSES = (DeviceStatus.LOST, DeviceStatus.STOLEN, DeviceStatus.DAMAGED, DeviceStatus.UNAVAILABLE)


def report_device(
    device: SecurityDevice,
    status: str,
    *,
    agent: User,
    now: datetime,
    verification: IdentityVerification | None = None,
    request=None,
) -> list[str]:
    """D5, SECURITY.md 5: the device is reported lost, stolen or damaged.

    It stops verifying at once: the access scope ends a session riding on
    it at its next request, and the sessions of every username bound to it
    end too (even a request in flight stops). Audited. Returns the usernames
    whose sessions ended. Raises DeviceConflict (and changes nothing) for a
    device that is not active. The caller's transaction holds it all."""
    if status not in REPORTED_STATUSES:
        raise ValueError(f"not a reportable status: {status!r}")
    with transaction.atomic():
        # The device's row locked: two agents reporting at once take turns,
        # and the second is told it is no longer active.
        locked = SecurityDevice.objects.select_for_update().filter(pk=device.pk).first()
        if locked is None or locked.status != DeviceStatus.ACTIVE:
            current = locked.get_status_display() if locked is not None else ""
            raise DeviceConflict(
                _(
                    "This device is not active (%(status)s): only an active device can be reported lost, "
                    "stolen or damaged (D5). Nothing was changed."
                )
                % {"status": current}
            )
        SecurityDevice.objects.filter(pk=device.pk).update(status=status, deactivated_at=now)
        device.status, device.deactivated_at = status, now
        users = list(User.objects.filter(pk__in=device.bindings.values("user_id")).order_by("username"))
        for user in users:
            user.end_all_sessions(now)
        usernames = [user.username for user in users]
        trail.record(
            "device.report",
            request=request,
            actor=agent,
            client=device.client,
            verification=verification,
            rule="D5",
            details={"serial": device.serial, "type": device.type, "status": status, "sessions_ended": usernames},
            at=now,
        )
    return usernames
