from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from devices.factors import SecondFactor
from help import refusals

from . import scopes

LOGIN_AT = "sls_login_at"


def mark_login(request, now: datetime) -> None:
    request.session[LOGIN_AT] = now.isoformat()


def login_time(request) -> datetime | None:
    raw = request.session.get(LOGIN_AT)
    return datetime.fromisoformat(raw) if raw else None


class SessionLifetimeMiddleware:
    """SECURITY.md 3 and 5: the absolute lifetime, and sessions ended by an agent.

    The idle timeout is the session's own expiry, refreshed on each request
    (SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated and SESSION_KEY in request.session:
            # SECURITY.md 5: the session's user was disabled or deleted. End
            # the session for good, so re-enabling the user does not revive it.
            request.session.flush()
        if user.is_authenticated:
            now = timezone.now()
            started = login_time(request)
            too_old = started is None or now - started >= settings.SLS["SESSION_ABSOLUTE"]
            ended = user.sessions_valid_after is not None and (started is None or started <= user.sessions_valid_after)
            if too_old or ended:
                logout(request)
                messages.info(request, _("Your session has ended. Please log in again."))
                if not request.path.startswith("/admin/"):
                    return redirect_to_login(request.get_full_path())
        return self.get_response(request)


class AccessScopeMiddleware:
    """Sets request.sls_scope; ends a client session whose device stopped verifying it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.sls_scope = scopes.derive_scope(request)
        user = request.user
        # A staff username that is also a client's, verified at the admin's
        # login (TOTP), keeps its admin session; client pages send it to log in.
        agent_session = isinstance(getattr(user, "otp_device", None), TOTPDevice)
        if request.sls_scope is None and user.is_authenticated and user.client_id is not None and not agent_session:
            device = getattr(user, "otp_device", None)
            # A9: the credential says why it ended (A7, A4, A6), in words.
            message = (
                device.ended_refusal(timezone.now()) if isinstance(device, SecondFactor) else refusals.device_changed()
            ).message
            logout(request)
            messages.info(request, message)
            return redirect("/login/")
        return self.get_response(request)
