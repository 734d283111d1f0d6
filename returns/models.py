"""Device returns (T1-T5) and device charges (T6, B4).

Both keep only timestamps; their status is derived from them and now
(`status(now)`, principle 1).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Client, IdentityVerification, reference
from devices.models import DeviceType, SecurityDevice


class ReturnStatus(models.TextChoices):
    STARTED = "started", _("Started: on its way to us")
    RECEIVED = "received", _("Received")


class DeviceReturn(models.Model):
    """A device the client is sending back (T1): what the return form says,
    recorded when the client starts the return, so that agents expect it;
    the receipt an agent records when it arrives (T3)."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="device_returns", verbose_name=_("client")
    )
    device = models.ForeignKey(
        SecurityDevice, on_delete=models.PROTECT, related_name="returns", verbose_name=_("device")
    )
    # T1: the brief reason, in the client's words (any language).
    reason = models.CharField(_("reason for the return"), max_length=settings.SLS["RETURN_REASON_MAX_LENGTH"])
    # T1: "Do you need a replacement device?"
    replacement_wanted = models.BooleanField(_("replacement wanted"))
    started_at = models.DateTimeField(_("started at"), db_index=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("started by username"),
    )
    # T3 (ours): the agent who records the receipt, with the verification.
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = reference(settings.AUTH_USER_MODEL, _("received by agent"))
    receipt_verification = reference(IdentityVerification, _("identity verification of the receipt"))
    agent_notes = models.TextField(_("agents' notes"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("device return")
        verbose_name_plural = _("device returns")
        permissions = [("record_receipt", "Can record the receipt of a returned device (T3)")]
        constraints = [
            # A device goes back once: a second return of it is refused.
            models.UniqueConstraint(fields=["device"], name="one_return_per_device"),
            models.CheckConstraint(
                condition=Q(received_at__isnull=True, received_by__isnull=True)
                | Q(received_at__isnull=False, received_by__isnull=False),
                name="return_received_by_an_agent",
            ),
        ]
        indexes = [
            # The agents' list of returns still expected, oldest first.
            models.Index(fields=["started_at"], name="return_expected", condition=Q(received_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.device} ({self.started_at:%Y-%m-%d})"

    def status(self, now: datetime) -> str:
        """Principle 1: started until the receipt is recorded, then received."""
        if self.received_at is not None and self.received_at <= now:
            return ReturnStatus.RECEIVED
        return ReturnStatus.STARTED

    def status_label(self, now: datetime) -> str:
        return ReturnStatus(self.status(now)).label


class ChargeReason(models.TextChoices):
    """T6: why a device is charged."""

    LOST = "lost", _("Lost")
    STOLEN = "stolen", _("Stolen")
    DAMAGED = "damaged", _("Damaged")
    NOT_RETURNED_AT_CLOSURE = "not_returned_at_closure", _("Not returned when the account closed")
    LOST_IN_TRANSIT = "lost_in_transit", _("Lost on its way back to us")


class ChargeStatus(models.TextChoices):
    CHARGED = "charged", _("Charged")
    WAIVED = "waived", _("Waived")


class DeviceCharge(models.Model):
    """T6: the cost of a device, charged to an account, by the device's type
    (SLS["DEVICE_CHARGE_USD"]). An agent creates it, or waives it with a
    reason; a device is charged at most once (the unique constraint), waived
    or not. Enrollment never creates one (B4)."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="device_charges", verbose_name=_("account")
    )
    device = models.ForeignKey(
        SecurityDevice, on_delete=models.PROTECT, related_name="charges", verbose_name=_("device")
    )
    # The type and amount when charged: the table may change later.
    device_type = models.CharField(_("device type"), max_length=16, choices=DeviceType.choices)
    amount_usd = models.DecimalField(_("amount (USD)"), max_digits=8, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=32, choices=ChargeReason.choices)
    created_at = models.DateTimeField(_("charged at"), db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("charged by agent")
    )
    verification = reference(IdentityVerification, _("identity verification"))
    waived_at = models.DateTimeField(_("waived at"), null=True, blank=True)
    waived_by = reference(settings.AUTH_USER_MODEL, _("waived by agent"))
    waive_reason = models.TextField(_("reason for waiving"), blank=True)
    waive_verification = reference(IdentityVerification, _("identity verification of the waiver"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("device charge")
        verbose_name_plural = _("device charges")
        permissions = [
            ("charge_device", "Can charge a lost, stolen, damaged or unreturned device (T6)"),
            ("waive_charge", "Can waive a device charge (T6)"),
        ]
        constraints = [
            # T6: never two charges for one device.
            models.UniqueConstraint(fields=["device"], name="one_charge_per_device"),
            models.CheckConstraint(condition=Q(amount_usd__gt=0), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=Q(waived_at__isnull=True, waived_by__isnull=True, waive_reason="")
                | (Q(waived_at__isnull=False, waived_by__isnull=False) & ~Q(waive_reason="")),
                name="charge_waived_by_an_agent_with_a_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device} {self.amount_usd} USD"

    def status(self, now: datetime) -> str:
        if self.waived_at is not None and self.waived_at <= now:
            return ChargeStatus.WAIVED
        return ChargeStatus.CHARGED

    def status_label(self, now: datetime) -> str:
        return ChargeStatus(self.status(now)).label
