"""Temporary passcodes issued by agents (A2, L4, principle 4, SECURITY.md 15).

The agent has verified the caller's identity by telephone (L5) and records
what became of the permanent device; the passcode is drawn here, shown to
the agent once to read out, and only its keyed hash is kept. A new one
replaces the previous one of each username. The client's e-mail of record
is told at once, through the outbox.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Client, IdentityVerification, User
from audit import trail
from devices import flows as device_flows
from devices.jobs import send_soon
from devices.models import DeviceStatus, Notice, SecurityDevice

from .models import EndReason, ReportedStatus, TemporaryPasscode, passcode_digest

ISSUED = "passcode.issued"


class PasscodeRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def new_code() -> str:
    """L4: upper-case letters and digits without look-alikes, from a CSPRNG.
    12 of 32 symbols are 60 bits: L3's 10 guesses a day are hopeless."""
    alphabet = settings.SLS["PASSCODE_ALPHABET"]
    return "".join(secrets.choice(alphabet) for _ in range(settings.SLS["PASSCODE_LENGTH"]))


def for_reading(code: str) -> str:
    """The code as the agent reads it out, in groups of four (the client types it without spaces)."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True)
class Issued:
    code: str
    passcodes: list[TemporaryPasscode]


def issue(
    client: Client,
    users: list[User],
    *,
    device_status: str,
    agent: User,
    verification: IdentityVerification,
    now: datetime,
    request=None,
) -> Issued:
    """Issue one passcode for the chosen usernames of `client`. The caller's
    verification must be this client's. Raises PasscodeRefused (nothing
    written) for a username that is not the client's or a bad status."""
    return _issue(
        new_code(),
        client,
        users,
        device_status=device_status,
        agent=agent,
        verification=verification,
        now=now,
        request=request,
    )


def issue_demo(
    client: Client,
    users: list[User],
    *,
    code: str,
    device_status: str,
    agent: User,
    verification: IdentityVerification,
    now: datetime,
) -> Issued:
    """The demo data only (DEBUG): issue with a code chosen by the demo, so that
    its guide can print it on every run. Every other path draws its own (issue)."""
    if not settings.DEBUG:
        raise PasscodeRefused("A chosen passcode is for the demo data only (DEBUG=1).")
    alphabet = settings.SLS["PASSCODE_ALPHABET"]
    if len(code) != settings.SLS["PASSCODE_LENGTH"] or any(ch not in alphabet for ch in code):
        raise PasscodeRefused("A demo passcode follows the rule of every passcode (L4): its length, its alphabet.")
    return _issue(code, client, users, device_status=device_status, agent=agent, verification=verification, now=now)


def _issue(
    code: str,
    client: Client,
    users: list[User],
    *,
    device_status: str,
    agent: User,
    verification: IdentityVerification,
    now: datetime,
    request=None,
) -> Issued:
    if device_status not in ReportedStatus.values:
        raise PasscodeRefused(_("Choose what happened to the client's security device."))
    if not users:
        raise PasscodeRefused(_("Choose at least one username of this client."))
    if any(user.client_id != client.pk for user in users) or verification.client_id != client.pk:
        raise PasscodeRefused(_("A passcode can only be issued for usernames of the verified client."))
    digest = passcode_digest(code)
    with transaction.atomic():
        # One issue at a time per client: two agents at once take turns.
        Client.objects.select_for_update().filter(pk=client.pk).exists()
        user_ids = [user.pk for user in users]
        TemporaryPasscode.objects.filter(user_id__in=user_ids, ended_at__isnull=True).update(
            ended_at=now, ended_reason=EndReason.REPLACED
        )
        device = (
            SecurityDevice.objects.filter(client=client)
            .exclude(status__in=(DeviceStatus.REVOKED, DeviceStatus.RETURNED, DeviceStatus.ISSUED))
            .order_by("-activated_at", "-id")
            .first()
        )
        if device is not None and device.status == DeviceStatus.ACTIVE:
            # The device stops verifying and the sessions that rode on it end (D5).
            device_flows.report_device(
                device, device_status, agent=agent, now=now, verification=verification, request=request
            )
        passcodes = [
            TemporaryPasscode.objects.create(
                user=user,
                name="Temporary passcode",  # an internal label, not shown to anyone
                confirmed=True,
                client=client,
                code_digest=digest,
                issued_at=now,
                issued_by=agent,
                verification=verification,
                device=device,
                device_status=device_status,
            )
            for user in sorted(users, key=lambda u: u.username)
        ]
        trail.record(
            ISSUED,
            request=request,
            actor=agent,
            client=client,
            verification=verification,
            rule="A2",
            details={
                "usernames": [p.user.username for p in passcodes],
                "device": device.serial if device else "",
                "device_status": device_status,
                "full_until": passcodes[0].full_until.isoformat(),
                "restricted_until": passcodes[0].restricted_until.isoformat(),
            },
            at=now,
        )
        # SECURITY.md 15: the e-mail of record hears of it at once.
        Notice.objects.create(event=ISSUED, object_key=f"passcode:{passcodes[0].pk}", client=client, created_at=now)
        send_soon()
    return Issued(code=code, passcodes=passcodes)


def end_for_clients(client_ids: list[int], *, reason: str, now: datetime) -> int:
    """A6, C5: every interim credential of these clients ends now (set-based)."""
    from .models import OnlineCard

    ended = TemporaryPasscode.objects.filter(client_id__in=client_ids, ended_at__isnull=True).update(
        ended_at=now, ended_reason=reason
    )
    ended += OnlineCard.objects.filter(client_id__in=client_ids, ended_at__isnull=True).update(
        ended_at=now, ended_reason=reason
    )
    return ended
