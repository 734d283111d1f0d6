"""The agents' admin: every page behind a TOTP second factor (SECURITY.md 18).

Agents' logins obey the same L3 limit as clients' (the reservation is made
before the password is checked) and every decision is audited.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from accounts.models import User, has_bad_character
from audit import trail
from help import refusals
from login import lockout
from login.models import LoginAttempt


class AgentLoginForm(OTPAdminAuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if has_bad_character(username) or len(username) > settings.SLS["USERNAME_MAX_LENGTH"]:
            raise ValidationError(refusals.bad_character().message, code="bad_character")
        now = timezone.now()
        reservation = lockout.reserve(
            username, step=LoginAttempt.Step.PASSWORD, ip=trail.client_ip(self.request), channel="admin", now=now
        )
        if reservation.refused:
            trail.record("admin.login", request=self.request, username=username, outcome="locked", rule="L3")
            refusal = refusals.locked_out(reservation.locked_until)
            raise ValidationError(refusal.message, code="locked_out")
        self._pick_only_device(username)
        try:
            cleaned = super().clean()
        except ValidationError:
            lockout.resolve_failure(reservation, now)
            trail.record("admin.login", request=self.request, username=username, outcome="failed", rule="L2")
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


class AgentAdminSite(OTPAdminSite):
    site_header = _("SLS customer service")
    site_title = _("SLS customer service")
    index_title = _("Clients, logins and devices")
    login_form = AgentLoginForm


admin_site = AgentAdminSite(name="admin")
