from __future__ import annotations

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import DeviceManager

from accounts.access import FULL
from accounts.models import Client, all_accounts_closed, reference
from audit import rows

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
    # The client is temporarily without it (left at home, s144): an agent
    # issued a temporary passcode; the client reactivates it (R1) on return.
    UNAVAILABLE = "unavailable", _("Temporarily unavailable")
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
    issued_by = reference(settings.AUTH_USER_MODEL, _("issued by"))
    # Principle 4: the printable card (all its codes) is handed out once.
    printout_taken_at = models.DateTimeField(_("printout taken at"), null=True, blank=True, editable=False)
    # PIN-bound kinds (OCRA with a P input): the PIN's digest as the OCRA
    # suite consumes it, encrypted like the seed (a digest of 4-8 digits
    # alone would be found by trying them all). Empty for other kinds.
    pin_digest_encrypted = models.TextField(blank=True, default="", editable=False)
    # Time-based kinds: the last accepted time step, on the physical device,
    # so one code is accepted once whichever username presents it (D7, SEC8).
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)
    # D3: an ordered device (ISSUED) counts as active from this instant on,
    # unless activated earlier (R1): 2 days after its projected delivery.
    # The login reads it (J2); the job only persists the status.
    auto_activates_at = models.DateTimeField(_("activates itself at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("security device")
        verbose_name_plural = _("security devices")
        constraints = [
            # D5: one device is linked to the client's accounts at a time.
            models.UniqueConstraint(
                fields=["client"], condition=Q(status="active"), name="one_active_device_per_client"
            ),
        ]
        indexes = [
            # D3's job reads only the ordered devices still waiting.
            models.Index(
                fields=["auto_activates_at"],
                name="device_auto_activation_due",
                condition=Q(status="issued", auto_activates_at__isnull=False),
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
        return self.is_active_at(timezone.now())

    def is_active_at(self, now) -> bool:
        """Active, or ordered and past its auto-activation time (D3, J2)."""
        if self.status == DeviceStatus.ACTIVE:
            return True
        return (
            self.status == DeviceStatus.ISSUED and self.auto_activates_at is not None and self.auto_activates_at <= now
        )


def live_device(now, prefix: str = "") -> Q:
    """D3, J2: the devices that count as active at `now` (the SQL twin of
    SecurityDevice.is_active_at); `prefix` reaches them through a relation."""
    return Q(**{f"{prefix}status": DeviceStatus.ACTIVE}) | Q(
        **{f"{prefix}status": DeviceStatus.ISSUED, f"{prefix}auto_activates_at__lte": now}
    )


class DeviceBindingQuerySet(models.QuerySet):
    def usable(self, now=None) -> DeviceBindingQuerySet:
        now = now or timezone.now()
        return self.filter(live_device(now, "security_device__"), confirmed=True)


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
    def load_for_login(cls, pk: int, *, for_verify: bool) -> DeviceBinding | None:
        # One row of fixed SQL: the login's hot path (audit/rows.py).
        return _binding_with_device("b.id = %s", [pk], for_update=for_verify)

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
        return self.confirmed and self.security_device.is_active_at(timezone.now())

    # R1: set while the activation page checks a device not active yet.
    activating = False

    def verify_is_allowed(self) -> tuple[bool, dict | None]:
        if not self.activating and not self.is_usable:
            return False, {"reason": "device_inactive"}
        return super().verify_is_allowed()

    def verify_for_activation(self, token: str) -> bool:
        """R1: the same throttled check as at login, on an ordered device
        (ISSUED) or the active one, whose binding may be unconfirmed yet."""
        self.activating = True
        try:
            return self.verify_token(token)
        finally:
            self.activating = False

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


class OrderStatus(models.TextChoices):
    AWAITING_PIN = "awaiting_pin", _("Waiting for your PIN")
    REQUESTED = "requested", _("Requested")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    ACTIVATED = "activated", _("Activated")
    CANCELLED = "cancelled", _("Cancelled")


class ShippingMethod(models.TextChoices):
    DOMESTIC = "domestic_priority", _("Priority mail, tracked")
    INTERNATIONAL = "international_courier", _("International courier, tracked")


class DeviceOrder(models.Model):
    """A permanent device ordered for a client, first or replacement (D1-D6).

    Its status is derived from its timestamps and now (`status(now)`,
    principle 1); nothing but the timestamps is stored. The address is the
    address of record frozen when the order is placed (D1)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="device_orders", verbose_name=_("client"))
    device_type = models.CharField(_("device type"), max_length=16, choices=DeviceType.choices)
    # D6: the equity the type was chosen by, when the order was placed.
    equity_usd = models.DecimalField(_("equity when ordered (USD)"), max_digits=16, decimal_places=2)
    # The physical device shipped; made when the order is final (after the
    # client's PIN for a PIN-bound kind, D2). ISSUED until activated.
    device = models.OneToOneField(
        SecurityDevice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order",
        verbose_name=_("device"),
    )
    # D5: the device reported lost, stolen or damaged that this one supersedes.
    replaces = models.ForeignKey(
        SecurityDevice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by_orders",
        verbose_name=_("replaces"),
    )
    shipping_address = models.TextField(_("shipping address"))
    shipping_country = models.CharField(_("shipping country"), max_length=2)
    shipping_method = models.CharField(_("shipping method"), max_length=32, choices=ShippingMethod.choices)
    requested_at = models.DateTimeField(_("requested at"), db_index=True)
    finalised_at = models.DateTimeField(_("finalised at"), null=True, blank=True)
    projected_ship_at = models.DateTimeField(_("projected shipping date"))
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    projected_delivery_at = models.DateTimeField(_("projected delivery date"), db_index=True)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    ordered_by = reference(settings.AUTH_USER_MODEL, _("ordered by agent"))
    verification = reference("accounts.IdentityVerification", _("identity verification"))
    # D5: the Platinum passphrase, hashed only (shown once at order time).
    passphrase_hash = models.CharField(max_length=256, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("device order")
        verbose_name_plural = _("device orders")

    def __str__(self) -> str:
        return f"{self.get_device_type_display()} #{self.pk}"

    @property
    def auto_activates_at(self):
        return self.projected_delivery_at + settings.SLS["AUTO_ACTIVATION_AFTER_DELIVERY"]

    def status(self, now) -> str:
        """Principle 1: the order's state from its timestamps and now."""
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return OrderStatus.CANCELLED
        if self.finalised_at is None:
            return OrderStatus.AWAITING_PIN
        if (self.activated_at is not None and self.activated_at <= now) or self.auto_activates_at <= now:
            return OrderStatus.ACTIVATED
        if self.shipped_at is not None and self.projected_delivery_at <= now:
            return OrderStatus.DELIVERED
        if self.shipped_at is not None and self.shipped_at <= now:
            return OrderStatus.SHIPPED
        return OrderStatus.REQUESTED

    def status_label(self, now) -> str:
        return OrderStatus(self.status(now)).label

    def is_open(self, now) -> bool:
        return self.status(now) not in (OrderStatus.ACTIVATED, OrderStatus.CANCELLED)


class Notice(models.Model):
    """The outbox (principle 5): one e-mail per (event, object), written by
    whoever decides it is due and sent by the job, each exactly once."""

    event = models.CharField(_("event"), max_length=48)
    object_key = models.CharField(_("object"), max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("client"))
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [models.UniqueConstraint(fields=["event", "object_key"], name="one_notice_per_event_object")]
        indexes = [
            models.Index(fields=["created_at"], name="notice_unsent", condition=Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.object_key}"


def _binding_with_device(where: str, params: list, *, for_update: bool = False) -> DeviceBinding | None:
    """A binding and its physical device from one row of fixed SQL
    (audit/rows.py: the login's hot path), as the class of its kind."""
    binding_select, binding_columns = rows.columns(DeviceBinding, "b")
    device_select, _device_columns = rows.columns(SecurityDevice, "d")
    sql = (
        f"SELECT {binding_select}, {device_select} FROM {rows.quote(DeviceBinding._meta.db_table)} b"
        f" JOIN {rows.quote(SecurityDevice._meta.db_table)} d ON d.id = b.security_device_id WHERE {where}"
        + (" FOR UPDATE" if for_update and connection.features.has_select_for_update else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(binding_columns)
    binding = rows.instance(DeviceBinding, "b", row[:split])
    binding.security_device = rows.instance(SecurityDevice, "d", row[split:])
    return binding


def active_binding_for(user, now=None) -> DeviceBinding | None:
    """The username's device required at login, in one query. A device that
    activated itself (D3) before the job persisted it wins over the one it
    replaces: the newest live device comes first. (The SQL twin of
    DeviceBindingQuerySet.usable(), ordered.)"""
    now = now or timezone.now()
    return _binding_with_device(
        "b.user_id = %s AND b.confirmed AND (d.status = %s OR (d.status = %s AND d.auto_activates_at <= %s))"
        " ORDER BY d.created_at DESC, d.id DESC LIMIT 1",
        [user.pk, DeviceStatus.ACTIVE, DeviceStatus.ISSUED, connection.ops.adapt_datetimefield_value(now)],
    )


# The statuses of a device the client holds or held in hand (D5).
HELD_STATUSES = (
    DeviceStatus.ACTIVE,
    DeviceStatus.LOST,
    DeviceStatus.STOLEN,
    DeviceStatus.DAMAGED,
    DeviceStatus.UNAVAILABLE,
)


def password_alone_allowed(client_id: int, now) -> bool:
    """When no factor is offered at step 2, may the password alone log in?

    Yes for a client who never had a working device (D8: unenrolled, or a
    first device still on its way, D3), and for a closed account whose
    device came back (A8). No for anyone whose device was reported lost,
    stolen, damaged or unavailable, or returned while an account is open:
    they call Customer Service for a temporary passcode (s144, T4). Off the
    hot path: only a login with no factor offered asks."""
    devices = SecurityDevice.objects.filter(client_id=client_id)
    ever = devices.filter(Q(activated_at__isnull=False) | Q(status__in=HELD_STATUSES + (DeviceStatus.RETURNED,)))
    if not ever.exists():
        return True
    return all_accounts_closed(client_id, now) and not devices.filter(status__in=HELD_STATUSES).exists()


@register_source
def permanent_devices(user, now) -> list[DeviceBinding]:
    """Step 2 offers the username's active permanent device (D5: one at a
    time), an ordered one counting from its auto-activation time (D3)."""
    binding = active_binding_for(user, now)
    return [binding] if binding is not None else []


from . import kinds  # noqa: E402, F401  (the proxy class of each kind)
