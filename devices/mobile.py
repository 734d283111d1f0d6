"""Enrolling the mobile authenticator (D8, s473, s475): validate the phone
number with a texted one-time code, then show the app's QR code once, then
activate the device with the first code the app shows.

    start(user, raw_number, now)          -> (validation, nonce); the code is texted
    confirm(user, nonce, code, now)       -> the seed, to show once as a QR code
    activate(user, nonce, totp_code, now) -> the new active SecurityDevice

Every step refuses with EnrollmentRefused, whose message says what is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from datetime import datetime

import phonenumbers
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import Client
from audit import trail

from . import algorithms, crypto, sms
from .flows import bind_usernames
from .models import DeviceBinding, DeviceStatus, DeviceType, PhoneValidation, SecurityDevice
from .signals import devices_activated

ISSUER = "SLS portal"


class EnrollmentRefused(Exception):
    """The step cannot go on; the message tells the client why and what to do."""


def _keyed(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def normalise_number(raw: str, country: str) -> str:
    """The number in E.164 (+393471234567), read as the client types it (a
    national number is read in their country of residence)."""
    raw = (raw or "").strip()
    if not raw:
        raise EnrollmentRefused(_("Enter your mobile phone number."))
    if len(raw) > 32 or "\x00" in raw:
        raise EnrollmentRefused(_("This is not a phone number: enter it with its country code, like +39 347 123 4567."))
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        raise EnrollmentRefused(
            _("This is not a phone number: enter it with its country code, like +39 347 123 4567.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise EnrollmentRefused(_("This phone number does not exist: check its digits and country code."))
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise EnrollmentRefused(_("This is not a mobile number: we text the code, so enter your mobile's number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def start(user, raw_number: str, *, now: datetime, request=None) -> str:
    """Validate the number and text it a code. Returns the nonce that binds
    the validation to the caller's session (keep it there, never show it)."""
    phone = normalise_number(raw_number, user.client.country)
    sls = settings.SLS
    code = f"{secrets.randbelow(10 ** sls['PHONE_CODE_LENGTH']):0{sls['PHONE_CODE_LENGTH']}d}"
    nonce = secrets.token_urlsafe(24)
    with transaction.atomic():
        # One validation at a time: a new one ends the earlier ones.
        PhoneValidation.objects.filter(user=user, finished_at__isnull=True).update(finished_at=now)
        validation = PhoneValidation.objects.create(
            user=user,
            phone=phone,
            code_hash=_keyed(f"{nonce}:{code}"),
            session_hash=_keyed(nonce),
            created_at=now,
            expires_at=now + sls["PHONE_CODE_TTL"],
            tries_left=sls["PHONE_CODE_TRIES"],
        )
        trail.record(
            "device.mobile.start",
            request=request,
            client=user.client,
            username=user.username,
            rule="D8",
            details={"phone_last_digits": phone[-3:], "validation": validation.pk},
        )
    minutes = int(sls["PHONE_CODE_TTL"].total_seconds() // 60)
    sms.send_sms(
        phone,
        _("Your Secure Login System code is %(code)s. It expires in %(minutes)d minutes. Never share it.")
        % {"code": code, "minutes": minutes},
    )
    return nonce


def _live(user, nonce: str, now: datetime):
    if not isinstance(nonce, str) or not nonce:
        return None
    return PhoneValidation.objects.filter(
        user=user, session_hash=_keyed(nonce), finished_at__isnull=True, expires_at__gt=now
    ).first()


def pending(user, nonce: str, now: datetime) -> PhoneValidation | None:
    return _live(user, nonce, now)


def confirm(user, nonce: str, code: str, *, now: datetime, request=None) -> bytes:
    """Check the texted code (one try used, atomically, whatever the outcome)
    and give the authenticator's new seed, to show once."""
    code = (code or "").strip()
    validation = _live(user, nonce, now)
    if validation is None or validation.confirmed_at is not None:
        raise EnrollmentRefused(_("This code has expired or was already used. Ask for a new code."))
    with transaction.atomic():
        spent = PhoneValidation.objects.filter(
            pk=validation.pk, tries_left__gt=0, confirmed_at__isnull=True, finished_at__isnull=True
        ).update(tries_left=F("tries_left") - 1)
        right = hmac.compare_digest(_keyed(f"{nonce}:{code}"), validation.code_hash)
        if spent and right:
            seed = algorithms.new_seed(20)
            spent = PhoneValidation.objects.filter(pk=validation.pk, confirmed_at__isnull=True).update(
                confirmed_at=now, seed_encrypted=crypto.encrypt(seed)
            )
            if spent:
                trail.record(
                    "device.mobile.phone_validated",
                    request=request,
                    client=user.client,
                    username=user.username,
                    rule="D8",
                    details={"validation": validation.pk},
                )
                return seed
    if validation.tries_left <= 1:
        raise EnrollmentRefused(_("That code is wrong and no tries are left. Ask for a new code."))
    raise EnrollmentRefused(_("That code is wrong. Check the text message and type its 6 digits."))


def provisioning(user, seed: bytes) -> dict:
    """What the app needs, shown once: the URI, its QR code (SVG data URI)
    and the secret in letters, for typing it in by hand."""
    binding = DeviceBinding.KINDS[DeviceType.MOBILE]
    uri = algorithms.provisioning_uri(
        seed, name=user.username, issuer=ISSUER, digits=binding.code_length, period=binding.period
    )
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = base64.b64encode(buffer.getvalue()).decode("ascii")
    secret = base64.b32encode(seed).decode("ascii")
    return {
        "uri": uri,
        "qr": f"data:image/svg+xml;base64,{svg}",
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


def activate(user, nonce: str, totp_code: str, *, now: datetime, request=None) -> SecurityDevice:
    """The first code from the app makes the mobile authenticator the
    client's device (D5: the one active device; an earlier one is revoked)."""
    totp_code = (totp_code or "").strip()
    kind = DeviceBinding.KINDS[DeviceType.MOBILE]
    with transaction.atomic():
        validation = _live(user, nonce, now)
        if validation is None or validation.confirmed_at is None:
            raise EnrollmentRefused(_("This enrollment has expired. Please start again with your phone number."))
        validation = PhoneValidation.objects.select_for_update().get(pk=validation.pk)
        if validation.finished_at is not None:
            raise EnrollmentRefused(_("This enrollment has expired. Please start again with your phone number."))
        seed = crypto.decrypt(validation.seed_encrypted)
        step = None
        if totp_code.isascii() and totp_code.isdigit() and len(totp_code) == kind.code_length:
            step = algorithms.totp_match(
                seed,
                totp_code,
                unix_time=now.timestamp(),
                digits=kind.code_length,
                period=kind.period,
                drift=settings.SLS["TOTP_DRIFT_STEPS"],
                after=None,
            )
        if step is None:
            raise EnrollmentRefused(
                _("That is not the code your authenticator app shows now. Type the 6 digits it shows, without spaces.")
            )
        Client.objects.select_for_update().filter(pk=user.client_id).exists()
        replaced = list(
            SecurityDevice.objects.filter(client=user.client_id, status=DeviceStatus.ACTIVE).values_list(
                "serial", flat=True
            )
        )
        SecurityDevice.objects.filter(client=user.client_id, status=DeviceStatus.ACTIVE).update(
            status=DeviceStatus.REVOKED, deactivated_at=now
        )
        device = SecurityDevice(
            client=user.client,
            type=DeviceType.MOBILE,
            serial=f"{kind.serial_prefix}{secrets.randbelow(10**10):010d}",
            status=DeviceStatus.ACTIVE,
            activated_at=now,
            created_at=now,
            totp_last_step=step,  # the code that activated it does not log in too
        )
        device.set_seed(seed)
        device.save()
        bind_usernames(device)
        # A6, C4: like any permanent device activated, it ends the client's
        # temporary passcode and online card.
        devices_activated.send(sender=SecurityDevice, client_ids=[user.client_id], now=now)
        PhoneValidation.objects.filter(pk=validation.pk).update(finished_at=now, seed_encrypted="")
        trail.record(
            "device.mobile.activated",
            request=request,
            client=user.client,
            username=user.username,
            rule="D8",
            details={"serial": device.serial, "replaced": replaced},
        )
    return device
