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


def reference(to, verbose_name) -> models.ForeignKey:
    """An optional link to an agent, a verification or a device that a
    record remembers (who issued it, on which call): never deleted under
    it, and no reverse accessor on the other side."""
    return models.ForeignKey(
        to, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=verbose_name
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
    # A8: an agent closes the account (accounts/closure.py); these four are
    # written together, once, and never edited in the admin.
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closure_reason = models.TextField(_("reason for the closure"), blank=True, default="")
    closed_by = reference(settings.AUTH_USER_MODEL, _("closed by agent"))
    closure_verification = reference("IdentityVerification", _("identity verification of the closure"))

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


def open_accounts(now: datetime, prefix: str = "") -> models.Q:
    """The accounts open at `now` (the SQL twin of Account.is_open); `prefix`
    reaches them through a relation."""
    return models.Q(**{f"{prefix}closed_at__isnull": True}) | models.Q(**{f"{prefix}closed_at__gt": now})


def all_accounts_closed(client_id: int, now: datetime) -> bool:
    """A8: the client holds accounts and every one of them is closed at `now`
    (a client with no account yet is not a closed account's holder). One
    query; the login steps use its twin in fixed SQL (login/statements.py)."""
    counts = Account.objects.filter(client_id=client_id).aggregate(
        held=models.Count("pk"), open=models.Count("pk", filter=open_accounts(now))
    )
    return counts["held"] > 0 and counts["open"] == 0


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


# --- Money movement (B1-B3): requests recorded and shown, nothing is sent anywhere. ---

AMOUNT_DIGITS = 16
AMOUNT_PLACES = 2


def _amount_field(verbose_name):
    return models.DecimalField(verbose_name, max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)


def mask(value: str, shown: int = 4) -> str:
    """All but the last `shown` characters hidden: what pages and e-mails show of a number."""
    value = value or ""
    if len(value) <= shown:
        return "•" * len(value)
    return "•" * 4 + value[-shown:]


class BankingInstructions(models.Model):
    """Where the client's withdrawals go. A change adds a row and marks the
    previous one replaced, so each recorded withdrawal keeps its destination."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="banking_instructions", verbose_name=_("client")
    )
    account_holder = models.CharField(_("account holder"), max_length=140)
    bank_name = models.CharField(_("bank name"), max_length=140)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    account_number = models.CharField(_("bank account number"), max_length=17, blank=True)
    routing_number = models.CharField(_("routing number"), max_length=9, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    replaced_at = models.DateTimeField(_("replaced at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("banking instructions")
        verbose_name_plural = _("banking instructions")
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=models.Q(replaced_at__isnull=True), name="one_current_banking_per_client"
            ),
            models.CheckConstraint(
                condition=~models.Q(iban="") | (~models.Q(account_number="") & ~models.Q(routing_number="")),
                name="banking_has_iban_or_account_and_routing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.masked_number}"

    @property
    def masked_number(self) -> str:
        return mask(self.iban or self.account_number)

    def as_change(self) -> dict:
        return {
            "account_holder": self.account_holder,
            "bank_name": self.bank_name,
            "iban": self.iban,
            "account_number": self.account_number,
            "routing_number": self.routing_number,
        }


class Withdrawal(models.Model):
    """B1: a withdrawal request, recorded within the limits of its account."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("account")
    )
    amount_usd = _amount_field(_("amount (USD)"))
    destination = models.ForeignKey(
        BankingInstructions, on_delete=models.PROTECT, related_name="+", verbose_name=_("destination")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("withdrawal request")
        verbose_name_plural = _("withdrawal requests")
        # B1's sums read an account's requests of the last 5 days.
        indexes = [models.Index(fields=["account", "requested_at"], name="withdrawal_account_time")]
        constraints = [models.CheckConstraint(condition=models.Q(amount_usd__gt=0), name="withdrawal_amount_positive")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount_usd} USD"


class Deposit(models.Model):
    """B3: a deposit request by ACH (US) or EFT."""

    class Method(models.TextChoices):
        ACH = "ach", _("ACH transfer")
        EFT = "eft", _("EFT transfer")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deposits", verbose_name=_("account"))
    amount_usd = _amount_field(_("amount (USD)"))
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("deposit request")
        verbose_name_plural = _("deposit requests")
        constraints = [models.CheckConstraint(condition=models.Q(amount_usd__gt=0), name="deposit_amount_positive")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount_usd} USD ({self.method})"


class ChangeRequest(models.Model):
    """B2: an unenrolled client's change of banking instructions or e-mail
    address, waiting for the Security team's decision."""

    class Kind(models.TextChoices):
        BANKING = "banking", _("Banking instructions")
        EMAIL = "email", _("E-mail address")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="change_requests", verbose_name=_("client")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    new_value = models.JSONField(_("new value"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    decided_by = reference(settings.AUTH_USER_MODEL, _("decided by"))
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        indexes = [models.Index(fields=["status", "requested_at"], name="change_request_queue")]
        constraints = [
            # One pending request of each kind per client: a second replaces nothing silently.
            models.UniqueConstraint(
                fields=["client", "kind"], condition=models.Q(status="pending"), name="one_pending_change_per_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_at__isnull=False)),
                name="change_request_decided_when_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.client})"

    def summary(self) -> str:
        """The new value as pages show it (numbers masked)."""
        value = self.new_value or {}
        if self.kind == self.Kind.EMAIL:
            return value.get("email", "")
        return f"{value.get('account_holder', '')}, {value.get('bank_name', '')} {mask(value.get('iban') or value.get('account_number', ''))}"
