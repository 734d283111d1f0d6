from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from help import regions

# L1: usernames are lower-case letters and digits (s368, s443-445).
USERNAME_PATTERN = re.compile(r"[a-z0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9]+")


def has_bad_character(typed: str) -> bool:
    """L1: anything but ASCII letters and digits is a BAD CHARACTER.

    Capitals are not bad characters: a username typed with them is simply
    wrong and gets the L2 message.
    """
    return not _ALNUM.fullmatch(typed)


username_validator = RegexValidator(
    regex=r"\A[a-z0-9]+\Z",
    message=_("A username contains only lower-case letters and digits (L1)."),
    code="bad_character",
)


class Client(models.Model):
    """A person who holds accounts; may have several usernames (D7)."""

    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("e-mail of record"), db_index=True)
    phone = models.CharField(_("phone of record"), max_length=40)
    address = models.TextField(_("address of record"))
    country = models.CharField(_("country of residence"), max_length=2, choices=regions.COUNTRY_CHOICES)
    # What we send the client (e-mails, the printed card) is in this language:
    # from the country when the client is created, then the last one the
    # client chose while logged in.
    language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("E-mails and printed cards are in this language. Empty: from the country of residence."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        # The agents' client list pages in this order (no sort of every row).
        # The search's prefix indexes are in accounts/migrations/0002_search_indexes.py.
        indexes = [models.Index(fields=["last_name", "first_name", "id"], name="client_name_order")]
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def save(self, *args, **kwargs) -> None:
        if not self.language:
            self.language = regions.language_for_country(self.country)
        super().save(*args, **kwargs)

    @property
    def region(self) -> regions.Region:
        return regions.region_for_country(self.country)

    @property
    def time_zone(self) -> str:
        return regions.time_zone_for_country(self.country)


class User(AbstractUser):
    """A username (login). Belongs to one client; agents have none."""

    username = models.CharField(
        _("username"),
        max_length=settings.SLS["USERNAME_MAX_LENGTH"],
        unique=True,
        validators=[username_validator],
        help_text=_("Lower-case letters and digits only."),
        error_messages={"unique": _("That username is taken.")},
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name=_("client")
    )
    # SECURITY.md 5: sessions opened before this instant are ended.
    sessions_valid_after = models.DateTimeField(_("sessions valid after"), null=True, blank=True, editable=False)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def clean(self) -> None:
        super().clean()
        if not self.is_staff and self.client_id is None:
            raise ValidationError({"client": _("A client's username must belong to a client.")})

    def end_all_sessions(self, now: datetime | None = None) -> None:
        """SECURITY.md 5: every session of this username stops working."""
        self.sessions_valid_after = now or timezone.now()
        type(self).objects.filter(pk=self.pk).update(sessions_valid_after=self.sessions_valid_after)


class Account(models.Model):
    number = models.CharField(_("account number"), max_length=16, unique=True)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("client"))
    equity_usd = models.DecimalField(_("equity (USD)"), max_digits=16, decimal_places=2, default=0)
    funded_at = models.DateTimeField(_("funded at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.number

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None or self.closed_at > now

    def is_funded(self, now: datetime) -> bool:
        return self.funded_at is not None and self.funded_at <= now


class IdentityVerification(models.Model):
    """An agent's record that a caller proved to be the client (L5, s371)."""

    class Method(models.TextChoices):
        SECURITY_QUESTIONS = "security_questions", _("Telephone: security questions")
        CALLBACK = "callback", _("Telephone: call-back to the phone of record")
        DOCUMENT = "document", _("Telephone: identity document checked")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="verifications", verbose_name=_("client"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("agent")
    )
    method = models.CharField(_("method"), max_length=32, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=64, help_text=_("Call or ticket reference."))
    notes = models.TextField(_("notes"), blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("identity verification")
        verbose_name_plural = _("identity verifications")

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.reference} ({self.at:%Y-%m-%d %H:%M} UTC)"
