from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Append-only record of an authentication decision or agent action.

    Never holds a password, code, seed or session key (SECURITY.md 20).
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True, editable=False)
    action = models.CharField(_("action"), max_length=64)
    outcome = models.CharField(_("outcome"), max_length=32, default="ok")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )
    client = models.ForeignKey(
        "accounts.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("client")
    )
    username = models.CharField(_("username"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    verification = models.ForeignKey(
        "accounts.IdentityVerification",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("identity verification"),
    )
    rule = models.CharField(_("rule"), max_length=8, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    dedupe_key = models.CharField(max_length=128, null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # Exact lookups only (the admin's filters, a client's timeline): plain
        # b-tree indexes, not the extra pattern-matching (LIKE) index Django
        # adds on PostgreSQL for a CharField's db_index or unique, which every
        # event would pay for on insert (the lift job writes them by the
        # hundred thousand).
        indexes = [
            models.Index(fields=["action"], name="audit_action"),
            models.Index(fields=["username"], name="audit_username"),
        ]
        constraints = [
            # J2: jobs write their events with a key, so a second run writes none.
            models.UniqueConstraint(fields=["dedupe_key"], name="audit_dedupe_key_unique"),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.username}"
