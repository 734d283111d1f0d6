from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import access
from accounts.access import scope_required

from . import reauth
from .models import SecurityDevice


@scope_required(access.FULL, access.UNENROLLED)
def sls_settings_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    devices = SecurityDevice.objects.filter(client=client).order_by("-created_at")
    return render(request, "accounts/sls_settings.html", {"client": client, "devices": devices})


class ReconfirmForm(forms.Form):
    """The fields the session's factor asks for its challenge."""

    def __init__(self, data=None, *, factor):
        super().__init__(data)
        self.factor = factor
        self.fields.update(factor.step_fields())

    def response(self) -> str:
        return self.factor.response_from(self.cleaned_data)


def _next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("dashboard")


@scope_required(access.FULL)
@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def confirm_factor_view(request: HttpRequest) -> HttpResponse:
    """SECURITY.md 15: confirm your security device again, then go back to the change."""
    next_url = _next(request)
    error = ""
    status = 200
    if request.method == "POST":
        factor = reauth.asked(request)
        form = ReconfirmForm(request.POST, factor=factor) if factor is not None else None
        if form is not None and form.is_valid():
            outcome = reauth.answer(request, form.response(), now=timezone.now())
            if outcome.ok:
                return redirect(next_url)
            if outcome.hint:
                error = outcome.hint
            elif outcome.throttled_until:
                error = _("Too many wrong codes in a row: wait until %(when)s and try again.") % {
                    "when": date_format(timezone.localtime(outcome.throttled_until), "H:i:s")
                }
            else:
                error = _("The codes do not match your security device. Here are new ones to try.")
        elif form is None:
            error = _("This page was open too long. Here is a new question to answer.")
        else:
            error = _("Type every code asked.")
        status = 400
    factor = reauth.new_challenge(request)
    if factor is None:  # pragma: no cover - a FULL scope always comes from a second factor
        return redirect("dashboard")
    return render(
        request,
        "accounts/confirm_factor.html",
        {
            "form": ReconfirmForm(factor=factor),
            "instructions": factor.step_instructions(),
            "next": next_url,
            "error": error,
        },
        status=status,
    )
