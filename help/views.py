from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static

from . import context_processors, refusals, regions

logger = logging.getLogger(__name__)


# --- error pages ----------------------------------------------------------
#
# Our own 400/403/404/500 pages, in the site's layout with the contact
# numbers. None of them reads request.POST or request.body: the request may
# be the very thing that is broken (a form declaring a charset we refuse),
# and Django's own handlers, which run the CSRF check again to put a token
# in the page, raise a second time on it. The 500 page renders without the
# request and without context processors, so it works with the database down.


def _static_context() -> dict:
    """What the layout and the contacts need, none of it from the database."""
    return {**context_processors.static(), "sls_scope": None, "error_page": True}


def _static_page(template: str, status: int) -> HttpResponse:
    return HttpResponse(loader.get_template(template).render(_static_context()), status=status)


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """The full layout when the request allows it, the static one otherwise."""
    try:
        return render(request, template, {"error_page": True}, status=status)
    except Exception:  # the page must still come out; the cause is logged
        logger.exception("error page %s rendered without the request", status)
        return _static_page(template, status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "errors/400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "errors/403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "errors/404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _static_page("errors/500.html", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A missing or stale CSRF token: say what to do, keep nothing half-done."""
    return _error_page(request, "accounts/csrf_failure.html", 403)


def help_view(request: HttpRequest) -> HttpResponse:
    """H1: the eleven troubleshooting situations, one anchor each."""
    low, high = settings.SLS["DEVICE_FEE_RANGE_USD"]
    return render(
        request,
        "help/index.html",
        {"anchors": refusals.HELP_ANCHORS, "regions": regions.all_regions(), "fee_low": low, "fee_high": high},
    )


def contact_view(request: HttpRequest) -> HttpResponse:
    """H2: every customer-service number of the seed, by region."""
    return render(
        request,
        "help/contact.html",
        {
            "regions": regions.all_regions(),
            "technical_support": regions.TECHNICAL_SUPPORT_PHONE,
            "technical_support_options": regions.TECHNICAL_SUPPORT_OPTIONS,
            "security_email": regions.SECURITY_EMAIL,
        },
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the static one."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
