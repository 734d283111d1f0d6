"""Activating a new or current permanent device (R1).

    candidates(client)                       -> the devices the page lists
    begin(user, serial)                      -> the factor, with its challenge
    finish(user, persistent_id, challenge, code, now) -> the active device

The code is checked exactly as at login (the kind's contract, loaded
for_verify, throttled by the device: django-otp's ThrottlingMixin). Failed
attempts count on the device's throttle, in the audit, and toward L3 like
login codes. L3 (the username's lock) belongs to the login app, which this
app cannot import: `finish` takes the attempt from devices/guards.py (the
login app's reservation) in its own transaction, before the factor is
loaded, as step 2 does.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Client
from audit import trail
from help import refusals

from . import guards
from .factors import load_factor
from .flows import bind_usernames
from .models import DeviceBinding, DeviceOrder, DeviceStatus, SecurityDevice
from .signals import devices_activated

# R1: a device ordered (ISSUED), the one in use, or the one the client was
# without (lost and found again, or temporarily unavailable) can be
# activated. Stolen or damaged devices are replaced, never reactivated.
ACTIVATABLE = (DeviceStatus.ISSUED, DeviceStatus.ACTIVE, DeviceStatus.LOST, DeviceStatus.UNAVAILABLE)


class ActivationRefused(Exception):
    """The activation cannot go on; the message says what to do."""

    def __init__(self, message: str, *, throttled_until=None, refusal: refusals.LoginRefusal | None = None):
        super().__init__(message)
        self.throttled_until = throttled_until
        # L3: the login's own refusal (the lock, its end, the regional numbers).
        self.refusal = refusal


def candidates(client: Client):
    return SecurityDevice.objects.filter(client=client, status__in=ACTIVATABLE).order_by("-created_at")


def _not_theirs() -> ActivationRefused:
    return ActivationRefused(
        _(
            "This serial number is not one of your devices. Check the number on the back of your device; "
            "if it is not in the list, call Customer Service at one of the numbers below."
        )
    )


def begin(user, serial: str) -> DeviceBinding:
    """The username's binding to the device with this serial (made, not yet
    confirmed, when there is none), with a new challenge to show."""
    serial = (serial or "").strip().upper()
    if not serial or len(serial) > 32 or "\x00" in serial:
        raise _not_theirs()
    device = candidates(user.client).filter(serial=serial).first()
    if device is None:
        raise _not_theirs()
    binding = DeviceBinding.objects.filter(user=user, security_device=device).first()
    if binding is None:
        binding = DeviceBinding.objects.create(
            user=user, security_device=device, name=str(device), confirmed=False, kind=device.type
        )
        binding = DeviceBinding.objects.get(pk=binding.pk)  # loaded as its kind
    binding.challenge = binding.generate_challenge()
    return binding


def needs_passphrase(device: SecurityDevice) -> bool:
    """D5: a device ordered with a passphrase (Platinum) asks it to activate."""
    return DeviceOrder.objects.filter(device=device).exclude(passphrase_hash="").exists()


def _passphrase_ok(device: SecurityDevice, passphrase: str) -> bool:
    order = DeviceOrder.objects.filter(device=device).exclude(passphrase_hash="").first()
    if order is None:
        return True
    typed = "".join((passphrase or "").split()).upper()
    return check_password(typed, order.passphrase_hash)


def finish(
    user, persistent_id: str, challenge: dict, code: str, *, now: datetime, request=None, passphrase: str = ""
) -> DeviceBinding:
    """Check the code as at login; on success the device is the one required
    at every login (D5: the one it replaces is revoked first, in the same
    transaction) and its order is activated. The attempt counts toward the
    username's lock (L3) in the same transaction; a locked username is
    refused before any check."""
    with transaction.atomic():
        attempt = guards.attempt(user, now=now, request=request)
        if attempt.locked_until is not None:
            trail.record(
                "device.activation.failed",
                request=request,
                client=user.client,
                username=user.username,
                outcome="locked",
                rule="L3",
            )
            refusal = _locked(attempt.locked_until)
        else:
            refusal = _check(
                user, attempt, persistent_id, challenge, code, now=now, request=request, passphrase=passphrase
            )
    # Raised after the commit: the attempt, the throttle and the audit stay written.
    if isinstance(refusal, ActivationRefused):
        raise refusal
    return refusal


def _locked(until: datetime) -> ActivationRefused:
    refusal = refusals.locked_out(until)
    return ActivationRefused(str(refusal.message), refusal=refusal)


def _check(user, attempt, persistent_id, challenge, code, *, now, request, passphrase):
    """The check itself, inside finish()'s transaction: the active binding,
    or the refusal to raise once the transaction has committed."""
    factor = load_factor(persistent_id, for_verify=True)
    if (
        not isinstance(factor, DeviceBinding)
        or factor.user_id != user.pk
        or factor.security_device.status not in ACTIVATABLE
    ):
        # Not counted: nothing was checked (begin() already refused it).
        return _not_theirs()
    device = factor.security_device
    factor.challenge = challenge or {}
    if not _passphrase_ok(device, passphrase):
        # D5: a wrong passphrase is a failed attempt on the device's throttle.
        factor.verify_is_allowed()
        factor._throttle_write(reset=False)
        ok = False
    else:
        ok = factor.verify_for_activation(code or "")
    if ok:
        attempt.succeeded()
        _make_active(factor, user, now=now, request=request)
        return factor
    until = factor.throttled_until()
    locked_until = attempt.failed()
    trail.record(
        "device.activation.failed",
        request=request,
        client=user.client,
        username=user.username,
        outcome="refused",
        rule="R1",
        details={"serial": device.serial, "failures": factor.throttling_failure_count},
    )
    if locked_until is not None:
        # L3: the tenth failure says at once that the username is locked.
        return _locked(locked_until)
    return ActivationRefused(
        factor.format_hint(code or "")
        or _(
            "That is not the code (or the passphrase) your device needs. Check that the serial number matches the back "
            "of your device and try again with a new code; if it still fails, call Customer Service."
        ),
        throttled_until=until,
    )


def _make_active(factor: DeviceBinding, user, *, now: datetime, request) -> None:
    device = factor.security_device
    Client.objects.select_for_update().filter(pk=user.client_id).exists()
    replaced = list(
        SecurityDevice.objects.filter(client=user.client_id, status=DeviceStatus.ACTIVE)
        .exclude(pk=device.pk)
        .values_list("serial", flat=True)
    )
    # Revoke first: one_active_device_per_client holds at every statement.
    SecurityDevice.objects.filter(client=user.client_id, status=DeviceStatus.ACTIVE).exclude(pk=device.pk).update(
        status=DeviceStatus.REVOKED, deactivated_at=now
    )
    if device.status != DeviceStatus.ACTIVE:
        SecurityDevice.objects.filter(pk=device.pk).update(status=DeviceStatus.ACTIVE, activated_at=now)
        device.status, device.activated_at = DeviceStatus.ACTIVE, now
    DeviceBinding.objects.filter(pk=factor.pk).update(confirmed=True)
    factor.confirmed = True
    bind_usernames(device)
    DeviceOrder.objects.filter(device=device, activated_at__isnull=True).update(activated_at=now)
    devices_activated.send(sender=SecurityDevice, client_ids=[user.client_id], now=now)
    trail.record(
        "device.activated",
        request=request,
        client=user.client,
        username=user.username,
        rule="R1",
        details={"serial": device.serial, "replaced": replaced},
    )
