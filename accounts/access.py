"""What a page needs: the access scope names and the view decorator.

The scope itself is derived on every request by the login app's
middleware (ARCHITECTURE.md principle 2) and left on `request.sls_scope`;
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
                    message=_(
                        "This page needs a login with your security device. Enroll in the Secure Login System first."
                    ),
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def refusal(request: HttpRequest, *, rule: str, message: str, status: int = 403):
    return render(request, "accounts/refusal.html", {"rule": rule, "message": message}, status=status)
