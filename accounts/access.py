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
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

FULL = "full"
# A2/A5: a temporary passcode's first 2 days: everything but withdrawals
# and banking changes.
FULL_NO_WITHDRAWALS = "full_no_withdrawals"
# A3: days 2 to 12 of a temporary passcode: only the pages to print, save
# and activate the online card (plus help and logout, which need no scope).
RESTRICTED_CARD_ONLY = "restricted_card_only"
# A8: a client whose accounts are all closed (device returned: the password
# alone; device kept: with it): statements and tax forms only.
STATEMENTS_ONLY = "statements_only"
UNENROLLED = "unenrolled"

ALL_SCOPES = (FULL, FULL_NO_WITHDRAWALS, RESTRICTED_CARD_ONLY, STATEMENTS_ONLY, UNENROLLED)
# A1: the pages of a full login; a temporary passcode's first days see them
# too, except the money pages (MONEY_SCOPES).
PORTAL_SCOPES = (FULL, FULL_NO_WITHDRAWALS, UNENROLLED)
# The trading platform (API.md): full access only (A1, A3).
PLATFORM_SCOPES = (FULL, FULL_NO_WITHDRAWALS, UNENROLLED)

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
                # A session narrowed by its own window (A3, A8) is told that
                # window's limit, whatever page it asked for (A9).
                narrowed = SCOPE_REFUSALS.get(scope)
                if narrowed is not None:
                    narrowed_rule, narrowed_message, next_step = narrowed
                    return refusal(request, rule=narrowed_rule, message=narrowed_message, next_step=next_step)
                return refusal(
                    request,
                    rule=rule,
                    message=message
                    or _("This page needs a login with your security device. Enroll in the Secure Login System first."),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# What a narrowed scope is told on any page it may not see: (rule, message,
# (URL name, button label) of the next step).
SCOPE_REFUSALS = {
    RESTRICTED_CARD_ONLY: (
        "A3",
        gettext_lazy(
            "Your temporary passcode now only lets you print and activate your online security card. "
            "Print your card and activate it to use the rest of Account Management again."
        ),
        ("settings-security-sls-online-card", gettext_lazy("Print your online security card")),
    ),
    STATEMENTS_ONLY: (
        "A8",
        gettext_lazy("Your account is closed: you can still view and print its statements and tax forms."),
        ("statements", gettext_lazy("Statements and tax forms")),
    ),
}


# Where a login of a narrowed scope lands, instead of the dashboard.
LANDINGS = {
    RESTRICTED_CARD_ONLY: ("settings-security-sls-online-card", "settings-security-sls"),
    STATEMENTS_ONLY: ("statements",),
}


def landing_url(scope: str | None) -> str | None:
    """The first page a login of this scope can use (A3, A8), if not the dashboard."""
    for name in LANDINGS.get(scope, ()):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def refusal(
    request: HttpRequest, *, rule: str, message: str, status: int = 403, next_step: tuple[str, str] | None = None
):
    """The page says the rule in words (A9), and the next step as a button
    when there is one; the rule's ID is for the audit and the agents, not the page."""
    next_url = None
    if next_step is not None:
        try:
            next_url = (reverse(next_step[0]), next_step[1])
        except NoReverseMatch:
            next_url = None
    response = render(request, "accounts/refusal.html", {"message": message, "next_step": next_url}, status=status)
    response.sls_rule = rule
    return response
