"""What a page needs: the access scope names and the view decorator.

The scope itself is derived on every request by the login app's
middleware and left on `request.sls_scope`;
pages of every app declare here which scopes they serve, so no app below
the login needs to import it.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.translation import gettext as _

FULL = "full"
UNENROLLED = "unenrolled"

ALL_SCOPES = (FULL, UNENROLLED)


def scope_required(*scopes: str):
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
                    rule="D8",
                    message=_(
                        "This page needs a login with your security device. Enroll in the Secure Login System first."
                    ),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def refusal(request: HttpRequest, *, rule: str, message: str, status: int = 403):
    """The page says the rule in words (A9); its ID is for the audit and the agents, not the page."""
    response = render(request, "accounts/refusal.html", {"message": message}, status=status)
    response.sls_rule = rule
    return response
