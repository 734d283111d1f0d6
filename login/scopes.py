"""Access scopes, re-derived on every request (ARCHITECTURE.md principle 2).

The session remembers only which device verified the login; the scope is
computed from that device and now, so a device revoked mid-session ends
the access it gave at the next request.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from accounts.access import UNENROLLED
from devices.factors import SecondFactor, offered_to


def derive_scope(request: HttpRequest) -> str | None:
    """The scope of this request, or None when it must not be served as logged in."""
    user = request.user
    if not user.is_authenticated or user.client_id is None:
        return None
    now = timezone.now()
    device = getattr(user, "otp_device", None)
    if device is not None:
        # The verifying factor says what it allows now; a device that is
        # not a client's second factor (an agent's TOTP) allows no client page.
        return device.access_scope(now) if isinstance(device, SecondFactor) else None
    # Logged in with the password alone: only while no factor is offered.
    return UNENROLLED if not offered_to(user, now) else None
