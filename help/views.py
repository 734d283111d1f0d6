from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import refusals, regions


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A missing or stale CSRF token: say what to do, keep nothing half-done."""
    return render(request, "accounts/csrf_failure.html", status=403)


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
