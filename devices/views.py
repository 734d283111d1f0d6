from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
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

from . import mobile, reauth, simulator
from .forms import FirstCodeForm, PhoneCodeForm, PhoneForm
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


def simulator_view(request: HttpRequest, serial: str) -> HttpResponse:
    """DEBUG only (devices/dev_urls.py): what the device with this serial shows now."""
    if not settings.DEBUG:
        raise Http404
    question = str(request.GET.get("question", ""))[:64]
    shown = simulator.displays(serial[:64], now=timezone.now(), question=question)
    if shown is None:
        raise Http404
    device, lines = shown
    return render(request, "devices/simulator.html", {"device": device, "lines": lines, "question": question})


# The mobile authenticator's enrollment (D8, s475). The session keeps the
# nonce that binds the phone validation to it (SEC11); it is never shown.
ENROLLMENT = "sls_mobile_enrollment"


@never_cache
@require_http_methods(["GET", "POST"])
@scope_required(access.FULL, access.UNENROLLED)
def mobile_phone_view(request: HttpRequest) -> HttpResponse:
    form = PhoneForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                nonce = mobile.start(request.user, form.cleaned_data["phone"], now=timezone.now(), request=request)
            except mobile.EnrollmentRefused as refused:
                form.add_error("phone", str(refused))
            else:
                request.session[ENROLLMENT] = nonce
                return redirect("settings-security-sls-mobile-code")
    return render(request, "devices/mobile_phone.html", {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@scope_required(access.FULL, access.UNENROLLED)
def mobile_code_view(request: HttpRequest) -> HttpResponse:
    nonce = request.session.get(ENROLLMENT, "")
    validation = mobile.pending(request.user, nonce, timezone.now())
    if validation is None:
        return redirect("settings-security-sls-mobile")
    form = PhoneCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            seed = mobile.confirm(request.user, nonce, form.cleaned_data["code"], now=timezone.now(), request=request)
        except mobile.EnrollmentRefused as refused:
            form.add_error("code", str(refused))
        else:
            # Shown once: this response is the only one that carries the secret.
            context = {"form": FirstCodeForm(), "app": mobile.provisioning(request.user, seed)}
            return render(request, "devices/mobile_app.html", context)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "phone_end": validation.phone[-3:]}
    return render(request, "devices/mobile_code.html", context, status=status)


@never_cache
@require_http_methods(["POST"])
@scope_required(access.FULL, access.UNENROLLED)
def mobile_activate_view(request: HttpRequest) -> HttpResponse:
    nonce = request.session.get(ENROLLMENT, "")
    form = FirstCodeForm(request.POST)
    if form.is_valid():
        try:
            device = mobile.activate(
                request.user, nonce, form.cleaned_data["code"], now=timezone.now(), request=request
            )
        except mobile.EnrollmentRefused as refused:
            form.add_error("code", str(refused))
        else:
            request.session.pop(ENROLLMENT, None)
            return render(request, "devices/mobile_done.html", {"device": device})
    return render(request, "devices/mobile_app.html", {"form": form, "app": None}, status=400)
