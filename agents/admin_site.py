"""The agents' admin: every page behind a TOTP second factor (SECURITY.md 18).

Agents' logins obey the same L3 limit as clients' (the reservation is made
before the password is checked) and every decision is audited.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, has_bad_character
from audit import trail
from audit.models import AuditEvent
from help import refusals
from login import lockout
from login.models import LoginAttempt

# The strings of django_otp's admin login template (otp/admin111/login.html)
# that Django's own catalogs lack: marked here so that makemessages keeps
# them in ours (the template lives in the installed package, which
# makemessages does not read).
DJANGO_OTP_LOGIN_STRINGS = (gettext_noop("OTP Device:"), gettext_noop("OTP Token:"), gettext_noop("Get OTP Challenge"))

# The TOTP device that verified this session's admin login (SECURITY.md 18).
# Only the admin's own login form writes it; a client's login never does.
ADMIN_DEVICE_SESSION_KEY = "sls_admin_otp_device"


def replayed(device: TOTPDevice, token: str) -> bool:
    """SECURITY.md 8: the token is right but for a time step already used."""
    try:
        code = int(token)
    except (TypeError, ValueError):
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    # The same window verify_token searches, without its "after last_t" bound:
    # a match there at a step at or before last_t is a code used before.
    return totp.verify(code, device.tolerance) and totp.t() <= device.last_t


# django-otp's admin login template (otp/admin111/login.html) asks for these;
# listed here so that makemessages keeps them in our catalogs.
OTP_TEMPLATE_STRINGS = (gettext_noop("OTP Token:"), gettext_noop("OTP Device:"), gettext_noop("Get OTP Challenge"))


class AgentLoginForm(OTPAdminAuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["otp_token"].label = _("OTP Token")
        self.fields["otp_device"].label = _("OTP Device")
        self.replayed = False

    def _verify_token(self, user, token, device=None):
        try:
            return super()._verify_token(user, token, device)
        except ValidationError as error:
            if error.code == "invalid_token" and isinstance(device, TOTPDevice) and replayed(device, token):
                self.replayed = True
                raise ValidationError(
                    _("This code was already used. Wait for the next code on your authenticator and enter it."),
                    code="replayed",
                ) from error
            raise

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if has_bad_character(username) or len(username) > settings.SLS["USERNAME_MAX_LENGTH"]:
            raise ValidationError(refusals.bad_character().message, code="bad_character")
        now = timezone.now()
        reservation = lockout.reserve(
            username,
            step=LoginAttempt.Step.PASSWORD,
            ip=trail.client_ip(self.request),
            channel="admin",
            now=now,
            throttle_address=True,
        )
        if reservation.throttled:
            # SECURITY.md 7: the same per-address limit as /login/.
            trail.record("admin.login", request=self.request, username=username, outcome="rate_limited")
            raise ValidationError(refusals.rate_limited().message, code="rate_limited")
        if reservation.refused:
            trail.record("admin.login", request=self.request, username=username, outcome="locked", rule="L3")
            refusal = refusals.locked_out(reservation.locked_until)
            raise ValidationError(refusal.message, code="locked_out")
        self._pick_only_device(username)
        try:
            cleaned = super().clean()
        except ValidationError:
            lockout.resolve_failure(reservation, now)
            outcome = "replayed" if self.replayed else "failed"
            trail.record("admin.login", request=self.request, username=username, outcome=outcome, rule="L2")
            raise
        lockout.resolve_success(reservation, now)
        trail.record("admin.login", request=self.request, actor=self.get_user(), username=username)
        return cleaned

    def _pick_only_device(self, username: str) -> None:
        """An agent with one authenticator types its code on the first page:
        no second round trip (which would count as a failed attempt)."""
        if self.cleaned_data.get("otp_device"):
            return
        user = User.objects.filter(username=username, is_staff=True).first()
        devices = list(devices_for_user(user)) if user else []
        if len(devices) == 1:
            self.cleaned_data["otp_device"] = devices[0].persistent_id


class ReadOnlyMixin:
    """Nobody adds, changes or deletes here: changes go through agent actions."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """A list on the change page; changes go through their own pages."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


def _has_nul(request) -> bool:
    """A NUL anywhere in the query or the form (PostgreSQL refuses it in any text)."""
    if "\x00" in request.path:
        return True
    for data in (request.GET, request.POST):
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return False


class AgentAdminSite(OTPAdminSite):
    site_header = _("SLS customer service")
    site_title = _("SLS customer service")
    index_title = _("Clients, logins and devices")
    login_form = AgentLoginForm
    index_template = "admin/agent_index.html"
    RECENT_EVENTS = 10

    def index(self, request, extra_context=None):
        """The home page, whose "Recent actions" are this agent's latest audit events."""
        recent = AuditEvent.objects.filter(actor=request.user).select_related("client")[: self.RECENT_EVENTS]
        return super().index(request, {**(extra_context or {}), "recent_events": recent})

    def admin_view(self, view, cacheable=False):
        """Every admin page refuses a NUL in its input with a 400, before any query
        (a search term, a filter, the autocomplete's term)."""
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if _has_nul(request) or any("\x00" in str(value) for value in kwargs.values()):
                return HttpResponseBadRequest(gettext("The request contains a NUL character, which no field accepts."))
            return inner(request, *args, **kwargs)

        return guarded

    def has_permission(self, request) -> bool:
        """SECURITY.md 18: staff, verified by their own TOTP device at this
        admin's login. A client's login (a code card at /login/) verifies a
        session too, but never opens the admin, even for a staff username."""
        if not super().has_permission(request):
            return False
        device = getattr(request.user, "otp_device", None)
        return isinstance(device, TOTPDevice) and request.session.get(ADMIN_DEVICE_SESSION_KEY) == device.persistent_id

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        device = getattr(request.user, "otp_device", None)
        if request.method == "POST" and response.status_code == 302 and isinstance(device, TOTPDevice):
            # The admin's login form verified this device just now.
            request.session[ADMIN_DEVICE_SESSION_KEY] = device.persistent_id
        return response


admin_site = AgentAdminSite(name="admin")
