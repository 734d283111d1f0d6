"""Access scopes, re-derived on every request (ARCHITECTURE.md principle 2).

The session remembers only which device verified the login; the scope is
computed from that device and now, so a device revoked mid-session ends
the access it gave at the next request.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

from devices.models import active_binding_for

FULL = "full"
UNENROLLED = "unenrolled"

ALL_SCOPES = (FULL, UNENROLLED)


def derive_scope(request: HttpRequest) -> str | None:
    """The scope of this request, or None when it must not be served as logged in."""
    user = request.user
    if not user.is_authenticated or user.client_id is None:
        return None
    device = getattr(user, "otp_device", None)
    if device is not None:
        return FULL if device.security_device.is_active else None
    # Logged in with the password alone: only while the client has no device.
    return UNENROLLED if active_binding_for(user) is None else None


def scope_required(*scopes: str):
    """View decorator: serve only requests whose scope is one of `scopes`.

    Anyone else is sent to log in; a logged-in client whose scope does not
    allow the page gets a refusal that names the rule (A9), never a bare 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            scope = getattr(request, "sls_scope", None)
            if scope is None:
                return redirect_to_login(request.get_full_path())
            if scope not in scopes:
                return refusal(
                    request,
                    rule="D8",
                    message=_("This page needs a login with your security device. Enroll in the Secure Login System first."),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def refusal(request: HttpRequest, *, rule: str, message: str, status: int = 403):
    return render(request, "accounts/refusal.html", {"rule": rule, "message": message}, status=status)
