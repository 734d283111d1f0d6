"""Access scopes, re-derived on every request (ARCHITECTURE.md principle 2).

The session remembers only which device verified the login; the scope is
computed from that device and now, so a device revoked mid-session ends
the access it gave at the next request.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import FULL, UNENROLLED
from devices.models import DeviceBinding, active_binding_for


def derive_scope(request: HttpRequest) -> str | None:
    """The scope of this request, or None when it must not be served as logged in."""
    user = request.user
    if not user.is_authenticated or user.client_id is None:
        return None
    device = getattr(user, "otp_device", None)
    if device is not None:
        if not isinstance(device, DeviceBinding):
            return None  # an agent's TOTP device (the admin's login) gives no client scope
        return FULL if device.security_device.is_active else None
    # Logged in with the password alone: only while the client has no device.
    return UNENROLLED if active_binding_for(user) is None else None
