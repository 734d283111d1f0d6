from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import access
from accounts.access import scope_required

from . import mobile, simulator
from .forms import FirstCodeForm, PhoneCodeForm, PhoneForm
from .models import SecurityDevice


@scope_required(access.FULL, access.UNENROLLED)
def sls_settings_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    devices = SecurityDevice.objects.filter(client=client).order_by("-created_at")
    return render(request, "accounts/sls_settings.html", {"client": client, "devices": devices})


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
