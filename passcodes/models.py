"""The interim kinds on the second-factor contract: the temporary passcode
(A2, A3, A5, A7, L4) and the online security code card (A4, C1-C6).

Both are django-otp Devices of one username (devices.factors.SecondFactor),
offered at step 2 beside the permanent device by this app's source
(passcodes/sources.py), so the login, the scopes and the platform API use
them with no test of their type. Their windows are the pure functions of
passcodes/windows.py, fed with the stored timestamps and now (principle 1);
the `phase` columns only record what the jobs last persisted (J1).
"""

from __future__ import annotations

import hmac
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.access import FULL, FULL_NO_WITHDRAWALS, RESTRICTED_CARD_ONLY
from accounts.models import Account, Client, IdentityVerification, reference
from devices import crypto
from devices.factors import Allowance, SecondFactor
from devices.kinds import CodeCardKind, code_input
from devices.models import DeviceStatus, SecurityDevice
from help import refusals

from . import windows
from .windows import Phase


class EndReason(models.TextChoices):
    REPLACED = "replaced", _("Replaced by a new one")
    CARD_ACTIVATED = "card_activated", _("The online card was activated")
    DEVICE_ACTIVATED = "device_activated", _("The permanent device was activated")
    REVOKED = "revoked", _("Revoked by an agent")


class ReportedStatus(models.TextChoices):
    """What the agent records about the permanent device when issuing (s144)."""

    LOST = DeviceStatus.LOST.value, DeviceStatus.LOST.label
    STOLEN = DeviceStatus.STOLEN.value, DeviceStatus.STOLEN.label
    DAMAGED = DeviceStatus.DAMAGED.value, DeviceStatus.DAMAGED.label
    UNAVAILABLE = DeviceStatus.UNAVAILABLE.value, DeviceStatus.UNAVAILABLE.label


def passcode_digest(code: str) -> str:
    """Only this keyed hash of a passcode is stored (principle 4). A keyed
    HMAC rather than a slow hash: the code is random and long enough that
    guessing is hopeless (SLS PASSCODE_LENGTH), and the key is not in the
    database, so a stolen table gives nothing to try offline either."""
    return salted_hmac("sls.temporary-passcode", code, algorithm="sha256").hexdigest()


def _superseded_at(client_id: int, since: datetime, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(When a permanent device became active after `since`, if it did by
    now; the auto-activation time of a device still on its way, if any.)

    One query over the client's devices, read from their timestamps (J2): a
    device activated on the R1 page, persisted by the job, or past its
    auto-activation time (D3) without the job supersedes the interim
    credential from that instant (A6, C5)."""
    superseded: datetime | None = None
    pending: datetime | None = None
    rows = SecurityDevice.objects.filter(
        client_id=client_id, status__in=(DeviceStatus.ACTIVE, DeviceStatus.ISSUED)
    ).values_list("status", "activated_at", "auto_activates_at")
    for status, activated_at, auto_at in rows:
        if status == DeviceStatus.ACTIVE and activated_at is not None and since < activated_at <= now:
            at = activated_at
        elif status == DeviceStatus.ISSUED and auto_at is not None and since < auto_at:
            if auto_at > now:
                pending = auto_at if pending is None else min(pending, auto_at)
                continue
            at = auto_at
        else:
            continue
        superseded = at if superseded is None else min(superseded, at)
    return superseded, pending


class TemporaryPasscode(SecondFactor):
    """A static code an agent issues over the phone after verifying the
    caller's identity (s144, s393), typed at step 2 instead of the device's
    code: 2 days of full access but money (A2, A5), then 10 days of the
    online-card pages only (A3), then nothing (A7)."""

    offer = "temporary_passcode"

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="temporary_passcodes", verbose_name=_("client")
    )
    code_digest = models.CharField(max_length=64, editable=False)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = reference(settings.AUTH_USER_MODEL, _("issued by"))
    verification = reference(IdentityVerification, _("identity verification"))
    # What the agent recorded about the permanent device (s144).
    device = reference(SecurityDevice, _("permanent device"))
    device_status = models.CharField(_("permanent device reported"), max_length=16, choices=ReportedStatus.choices)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_reason = models.CharField(_("ended because"), max_length=24, choices=EndReason.choices, blank=True)
    # J1: the phase the job last persisted (and noticed); the login never reads it.
    phase = models.CharField(_("phase recorded"), max_length=16, choices=Phase.choices, default=Phase.FULL)

    class Meta:
        verbose_name = _("temporary passcode")
        verbose_name_plural = _("temporary passcodes")
        ordering = ["-issued_at", "-id"]
        constraints = [
            # A new passcode replaces the previous one: one not ended per username.
            models.UniqueConstraint(fields=["user"], condition=Q(ended_at__isnull=True), name="one_passcode_per_user"),
        ]
        indexes = [
            # J1's sweep reads only the passcodes whose recorded phase may move.
            models.Index(
                fields=["issued_at"],
                name="passcode_phase_due",
                condition=Q(phase__in=["full", "restricted"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.user.username if self.user_id else ''} {self.issued_at:%Y-%m-%d %H:%M}"

    # --- the windows (principle 1) ----------------------------------------------

    def current_phase(self, now: datetime) -> Phase:
        phase = windows.passcode_phase(self.issued_at, now, ended_at=self.ended_at)
        if phase in (Phase.FULL, Phase.RESTRICTED):
            superseded, _pending = self._superseded(now)
            if superseded is not None:
                return Phase.ENDED
        return phase

    def _superseded(self, now: datetime):
        cached = getattr(self, "_superseded_cache", None)
        if cached is None or cached[0] != now:
            cached = (now, _superseded_at(self.client_id, self.issued_at, now))
            self._superseded_cache = cached
        return cached[1]

    @property
    def full_until(self) -> datetime:
        return windows.passcode_full_until(self.issued_at)

    @property
    def restricted_until(self) -> datetime:
        return windows.passcode_restricted_until(self.issued_at)

    def access_scope(self, now: datetime) -> str | None:
        phase = self.current_phase(now)
        if phase == Phase.FULL:
            return FULL_NO_WITHDRAWALS  # A2, A5
        if phase == Phase.RESTRICTED:
            return RESTRICTED_CARD_ONLY  # A3
        return None

    def allowance(self, now: datetime) -> Allowance | None:
        phase = self.current_phase(now)
        if phase == Phase.FULL:
            return Allowance(FULL_NO_WITHDRAWALS, self.full_until, RESTRICTED_CARD_ONLY, self.restricted_until)
        if phase == Phase.RESTRICTED:
            return Allowance(RESTRICTED_CARD_ONLY, self.restricted_until)
        return None

    def ended_refusal(self, now: datetime):
        if windows.passcode_phase(self.issued_at, now, ended_at=self.ended_at) == Phase.EXPIRED:
            return refusals.passcode_expired()  # A7
        if self.ended_reason == EndReason.CARD_ACTIVATED:
            return refusals.passcode_ended_by_card()  # C3
        return refusals.credential_replaced()  # A6, or a newer passcode

    def platform_refusal(self, now: datetime):
        return refusals.passcode_platform_window_over()  # A3

    # --- the contract -------------------------------------------------------------

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(passcode_digest(token), self.code_digest)

    def step_fields(self):
        return {
            "passcode": code_input(
                _("Temporary passcode"),
                length=settings.SLS["PASSCODE_LENGTH"],
                autofocus=False,
                error=_("Enter the temporary passcode Customer Service gave you."),
            )
        }

    def step_instructions(self) -> str:
        return _(
            "If Customer Service gave you a temporary passcode, type it here instead: upper-case letters and "
            "digits, without spaces."
        )

    def format_hint(self, token: str) -> str:
        # L4 (s378-380): letters upper case; no spaces inside (ours, as for codes).
        if any(ch.isspace() for ch in token):
            return str(refusals.HINT_NO_SPACES)
        if any(ch.islower() for ch in token):
            return str(refusals.HINT_UPPER_CASE)
        return ""

    def describe_challenge(self) -> dict:
        return {"type": "temporary_passcode"}

    def audit_details(self) -> dict:
        return {"factor": self.offer, "passcode": self.pk}


class OnlineCard(CodeCardKind, SecondFactor):
    """The Online Security Code Card (s401): a code card made by the portal,
    printed or saved as an image, activated with two of its codes (C2), and
    then a full second factor (A4) until it expires or a permanent device
    takes over (C5, C6, A6)."""

    offer = "online_card"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="online_cards", verbose_name=_("client"))
    seed_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(_("created at"))
    # The passcode whose session made it (C1), or none for a new applicant (C5).
    passcode = models.ForeignKey(
        TemporaryPasscode,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="online_cards",
        verbose_name=_("temporary passcode"),
    )
    # C5: made for a new applicant while the account is being set up.
    applicant = models.BooleanField(_("new applicant"), default=False)
    printed_at = models.DateTimeField(_("printed or saved at"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_reason = models.CharField(_("ended because"), max_length=24, choices=EndReason.choices, blank=True)
    # J1: what the job last persisted and noticed; the login never reads it.
    phase = models.CharField(_("phase recorded"), max_length=16, choices=Phase.choices, default=Phase.PENDING)

    class Meta:
        verbose_name = _("online security code card")
        verbose_name_plural = _("online security code cards")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="one_online_card_per_user"
            ),
        ]
        indexes = [
            models.Index(fields=["activated_at"], name="online_card_phase_due", condition=Q(phase__in=["full"])),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.user.username if self.user_id else ''}"

    @property
    def seed(self) -> bytes:
        return crypto.decrypt(self.seed_encrypted)

    def set_seed(self, seed: bytes) -> None:
        self.seed_encrypted = crypto.encrypt(seed)

    def card_seed(self) -> bytes:
        return self.seed

    # --- the windows (principle 1) ----------------------------------------------

    def _funded_at(self) -> datetime | None:
        """C5: when the applicant's first account was funded."""
        return (
            Account.objects.filter(client_id=self.client_id, funded_at__isnull=False)
            .order_by("funded_at")
            .values_list("funded_at", flat=True)
            .first()
        )

    def window(self, now: datetime) -> tuple[Phase, datetime | None]:
        """(The card's phase now, when it stops giving access.)"""
        cached = getattr(self, "_window_cache", None)
        if cached is not None and cached[0] == now:
            return cached[1]
        if self.activated_at is None or self.activated_at > now:
            answer = (windows.card_phase(self.activated_at, now, expires_at=None, ended_at=self.ended_at), None)
        else:
            superseded, pending = _superseded_at(self.client_id, self.activated_at, now)
            expires_at = windows.card_expires_at(
                self.activated_at,
                funded_at=self._funded_at() if self.applicant else None,
                applicant=self.applicant,
                replacement_auto_activates_at=pending,
            )
            phase = windows.card_phase(self.activated_at, now, expires_at=expires_at, ended_at=self.ended_at)
            if superseded is not None and phase in (Phase.FULL, Phase.EXPIRED):
                # A device active by now took over (A6, C5), unless the card had
                # expired before it did. A replacement that activated itself ends
                # the card at that instant, however late (C6): that is its expiry.
                own_end = windows.card_expires_at(
                    self.activated_at,
                    funded_at=self._funded_at() if self.applicant else None,
                    applicant=self.applicant,
                    replacement_auto_activates_at=superseded,
                )
                if own_end is None or superseded <= own_end:
                    phase = Phase.ENDED
            answer = (phase, expires_at)
        self._window_cache = (now, answer)
        return answer

    def expires_at(self, now: datetime) -> datetime | None:
        return self.window(now)[1]

    def access_scope(self, now: datetime) -> str | None:
        return FULL if self.window(now)[0] == Phase.FULL else None  # A4: withdrawals included

    def allowance(self, now: datetime) -> Allowance | None:
        phase, expires_at = self.window(now)
        if phase != Phase.FULL:
            return None
        # C (ours): the pages warn a few days before the card expires.
        warn_from = windows.warning_due_at(expires_at) if expires_at is not None else None
        return Allowance(FULL, expires_at, warn_from=warn_from)

    def ended_refusal(self, now: datetime):
        if self.window(now)[0] == Phase.EXPIRED:
            return refusals.card_expired()
        return refusals.credential_replaced()

    def step_instructions(self) -> str:
        first, second = (self.positions + [0, 0])[:2]
        return _(
            "Find numbers %(first)s and %(second)s on your online security card and type the code printed under "
            "each, without spaces."
        ) % {"first": first, "second": second}

    def audit_details(self) -> dict:
        return {"factor": self.offer, "online_card": self.pk}
