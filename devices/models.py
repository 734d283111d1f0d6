from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import DeviceManager

from accounts.access import FULL
from accounts.models import Client

from . import crypto
from .factors import SecondFactor, as_kind, register_source


class DeviceType(models.TextChoices):
    CODE_CARD = "code_card", _("Security Code Card")
    DSC_PLUS = "dsc_plus", _("Digital Security Card+")
    MOBILE = "mobile", _("Mobile authenticator")
    PLATINUM = "platinum", _("Platinum token")
    GOLD = "gold", _("Gold token")
    ALPINE = "alpine", _("Alpine token")


class DeviceStatus(models.TextChoices):
    ISSUED = "issued", _("Issued, not yet active")
    ACTIVE = "active", _("Active")
    LOST = "lost", _("Reported lost")
    STOLEN = "stolen", _("Reported stolen")
    DAMAGED = "damaged", _("Reported damaged")
    RETURNED = "returned", _("Returned")
    REVOKED = "revoked", _("Revoked")


class SecurityDevice(models.Model):
    """A physical security device held by a client (s457, D5, D7).

    Its seed is encrypted at rest; usernames reach it through DeviceBinding.
    """

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="devices", verbose_name=_("client"))
    type = models.CharField(_("type"), max_length=16, choices=DeviceType.choices)
    serial = models.CharField(_("serial number"), max_length=32, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.ISSUED)
    seed_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True, editable=False)
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    # Principle 4: the printable card (all its codes) is handed out once.
    printout_taken_at = models.DateTimeField(_("printout taken at"), null=True, blank=True, editable=False)
    # PIN-bound kinds (OCRA with a P input): the PIN's digest as the OCRA
    # suite consumes it, encrypted like the seed (a digest of 4-8 digits
    # alone would be found by trying them all). Empty for other kinds.
    pin_digest_encrypted = models.TextField(blank=True, default="", editable=False)
    # Time-based kinds: the last accepted time step, on the physical device,
    # so one code is accepted once whichever username presents it (D7, SEC8).
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("security device")
        verbose_name_plural = _("security devices")
        constraints = [
            # D5: one device is linked to the client's accounts at a time.
            models.UniqueConstraint(
                fields=["client"], condition=Q(status="active"), name="one_active_device_per_client"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.serial}"

    @property
    def seed(self) -> bytes:
        return crypto.decrypt(self.seed_encrypted)

    def set_seed(self, seed: bytes) -> None:
        self.seed_encrypted = crypto.encrypt(seed)

    @property
    def pin_digest(self) -> bytes:
        return crypto.decrypt(self.pin_digest_encrypted) if self.pin_digest_encrypted else b""

    def set_pin_digest(self, digest: bytes) -> None:
        self.pin_digest_encrypted = crypto.encrypt(digest)

    @property
    def is_active(self) -> bool:
        return self.status == DeviceStatus.ACTIVE


class DeviceBindingQuerySet(models.QuerySet):
    def usable(self) -> DeviceBindingQuerySet:
        return self.filter(confirmed=True, security_device__status=DeviceStatus.ACTIVE)


class DeviceBinding(SecondFactor):
    """One username's link to a physical device (D7), in django-otp's terms.

    Each kind of permanent device is a proxy of this model (devices/kinds.py)
    with its own contract methods; a row comes out of the database as the
    class of its `kind`. `django_otp.login(request, binding)` marks the
    session verified; the OTP middleware reloads the binding on every
    request, and a binding whose device is no longer active verifies no one.
    """

    security_device = models.ForeignKey(
        SecurityDevice, on_delete=models.CASCADE, related_name="bindings", verbose_name=_("security device")
    )
    # The device's type, fixed when the binding is made: the class it loads as.
    kind = models.CharField(_("type"), max_length=16, choices=DeviceType.choices, editable=False)

    # Keeps django-otp's DeviceManager (devices_for_user), which its forms call.
    objects = DeviceManager.from_queryset(DeviceBindingQuerySet)()

    class Meta:
        verbose_name = _("username's device")
        verbose_name_plural = _("usernames' devices")
        constraints = [
            models.UniqueConstraint(fields=["user", "security_device"], name="one_binding_per_user_device"),
        ]

    # Filled by each kind's proxy class (devices/kinds.py): kind -> class.
    KINDS: dict[str, type[DeviceBinding]] = {}

    @classmethod
    def from_db(cls, db, field_names, values):
        return as_kind(super().from_db(db, field_names, values), DeviceBinding.KINDS)

    @classmethod
    def for_presentation(cls, pk: int) -> DeviceBinding:
        return cls(pk=pk, kind=getattr(cls, "kind_name", ""))

    @classmethod
    def for_login(cls):
        # The physical device comes with the binding (its seed and status);
        # loaded for_verify, its row is locked too, so one physical device
        # shared by several usernames (D7) answers one check at a time.
        return cls.objects.select_related("security_device")

    def is_interactive(self) -> bool:
        return True

    @property
    def is_usable(self) -> bool:
        """The Python twin of DeviceBindingQuerySet.usable()."""
        return self.confirmed and self.security_device.is_active

    def verify_is_allowed(self) -> tuple[bool, dict | None]:
        if not self.is_usable:
            return False, {"reason": "device_inactive"}
        return super().verify_is_allowed()

    def access_scope(self, now) -> str | None:
        # A1: a permanent device gives full access while it is active.
        return FULL if self.is_usable else None

    def audit_details(self) -> dict:
        return {"factor": self.offer, "device": self.security_device.serial}


class PhoneValidation(models.Model):
    """A phone number being validated for the mobile authenticator (D8, s475).

    The texted code is kept as a keyed hash only (SECURITY.md 10), expires,
    allows a few tries, and is bound to the session that asked for it (SEC11)
    through the hash of a nonce kept in that session. Once the code is right,
    the authenticator's seed waits here (encrypted) until the first code from
    the app activates the device."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(_("phone number"), max_length=20)
    code_hash = models.CharField(max_length=64)
    session_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    tries_left = models.PositiveSmallIntegerField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    seed_encrypted = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone validation")
        verbose_name_plural = _("phone validations")

    def __str__(self) -> str:
        return f"{self.user_id} …{self.phone[-3:]}"


def active_binding_for(user) -> DeviceBinding | None:
    return DeviceBinding.objects.usable().select_related("security_device").filter(user=user).first()


@register_source
def permanent_devices(user, now) -> list[DeviceBinding]:
    """Step 2 offers the username's active permanent device (D5: one at a time)."""
    binding = active_binding_for(user)
    return [binding] if binding is not None else []


from . import kinds  # noqa: E402, F401  (the proxy class of each kind)
