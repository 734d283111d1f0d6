"""What a page needs: the access scope names and the view decorator.

The scope itself is derived on every request by the login app's
middleware and left on `request.sls_scope`;
pages of every app declare here which scopes they serve, so no app below
the login needs to import it.
"""

from __future__ import annotations

from datetime import datetime
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

FULL = "full"
UNENROLLED = "unenrolled"

ALL_SCOPES = (FULL, UNENROLLED)

# A5: withdrawals and changes of banking instructions need a permanent
# device (FULL) or, for an unenrolled client, the password login with B1's
# lower limits and B2's approval. This is an allow-list: the temporary
# passcode's scopes (not defined yet) must never be added to it, so they
# are refused here by construction.
MONEY_SCOPES = (FULL, UNENROLLED)

# SECURITY.md 15: when the session's second factor was last confirmed again
# (devices/reauth.py writes it through mark_fresh_factor).
FRESH_FACTOR_AT = "sls_fresh_factor_at"


def is_enrolled(request: HttpRequest) -> bool:
    """B1-B3: a session verified by a permanent device (scope FULL) is an
    enrolled client's; a password-only session (UNENROLLED) is not."""
    return getattr(request, "sls_scope", None) == FULL


def mark_fresh_factor(request: HttpRequest, now: datetime) -> None:
    request.session[FRESH_FACTOR_AT] = now.isoformat()


def has_fresh_factor(request: HttpRequest, now: datetime) -> bool:
    """SECURITY.md 15: the second factor was confirmed within FRESH_FACTOR_VALID."""
    raw = request.session.get(FRESH_FACTOR_AT)
    try:
        at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return False
    return at is not None and at <= now < at + settings.SLS["FRESH_FACTOR_VALID"]


def fresh_factor_required(view):
    """View decorator (SECURITY.md 15): an enrolled client's request goes
    first to confirm the security device again, unless it was confirmed in
    the last minutes; then comes back here. Unenrolled sessions pass: their
    changes wait for the Security team's approval (B2)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if is_enrolled(request) and not has_fresh_factor(request, timezone.now()):
            return redirect(reverse("confirm-factor") + "?" + urlencode({"next": request.get_full_path()}))
        return view(request, *args, **kwargs)

    return wrapped


def scope_required(*scopes: str, rule: str = "D8", message: str | None = None):
    """View decorator: serve only requests whose scope is one of `scopes`.

    Anyone else is sent to log in; a logged-in client whose scope does not
    allow the page gets a refusal that says the rule in words (A9), never a bare 403.
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
                    rule=rule,
                    message=message
                    or _("This page needs a login with your security device. Enroll in the Secure Login System first."),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def refusal(request: HttpRequest, *, rule: str, message: str, status: int = 403):
    """The page says the rule in words (A9); its ID is for the audit and the agents, not the page."""
    response = render(request, "accounts/refusal.html", {"message": message}, status=status)
    response.sls_rule = rule
    return response
