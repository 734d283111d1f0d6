"""Access scopes, re-derived on every request (ARCHITECTURE.md principle 2).

The session remembers only which device verified the login; the scope is
computed from that device and now, so a device revoked mid-session ends
the access it gave at the next request. A client whose accounts are all
closed (A8) gets STATEMENTS_ONLY whatever the factor allowed, from the
request after the closure on.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone

from accounts.access import STATEMENTS_ONLY, UNENROLLED
from accounts.models import all_accounts_closed
from devices.factors import SecondFactor, offered_to
from devices.models import password_alone_allowed

from . import statements


def narrowed(scope: str | None, closed: bool) -> str | None:
    """A8: a login that would be served (scope not None) of a client whose
    accounts are all closed reaches only the statements and tax forms."""
    return STATEMENTS_ONLY if scope is not None and closed else scope


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
        scope = device.access_scope(now) if isinstance(device, SecondFactor) else None
    else:
        # Logged in with the password alone: only while no factor is offered.
        scope = UNENROLLED if not offered_to(user, now) and password_alone_allowed(user.client_id, now) else None
    return narrowed(scope, scope is not None and all_accounts_closed(user.client_id, now))


def login_scope(user, factor: SecondFactor | None, now: datetime) -> str | None:
    """The scope a login completed now opens with (the audit, the landing
    page): what derive_scope will give its first request. On the login
    steps: fixed SQL (login/statements.py)."""
    scope = factor.access_scope(now) if factor is not None else UNENROLLED
    return narrowed(scope, scope is not None and statements.all_accounts_closed(user.client_id, now))
