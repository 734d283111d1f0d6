from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
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
from django_otp import login as otp_login

from accounts import access, standing
from accounts.access import scope_required

from . import activation, activity, mobile, orders, reauth, simulator
from .activation import ACTIVATABLE
from .forms import EnrollForm, FirstCodeForm, PhoneCodeForm, PhoneForm, PinForm, SerialChoiceForm
from .models import DeviceBinding, OrderStatus, SecurityDevice, live_device


def _sls_context(request: HttpRequest, now, **extra) -> dict:
    client = request.user.client
    devices = SecurityDevice.objects.filter(client=client).order_by("-created_at")
    order = orders.open_order(client, now)
    enrolled = SecurityDevice.objects.filter(live_device(now), client=client).exists()
    context = {
        "client": client,
        "devices": devices,
        "order": order,
        "order_status": order.status_label(now) if order else "",
        "awaiting_pin": order is not None and order.status(now) == OrderStatus.AWAITING_PIN,
        "enrolled": enrolled,
        "funded": orders.open_funded_accounts(client, now).exists(),
        "offer": orders.offer_for(client, now) if order is None and not enrolled else None,
        "form": EnrollForm(),
        "can_activate": SecurityDevice.objects.filter(client=client, status__in=ACTIVATABLE).exists(),
        "can_cancel": order is not None and order.status(now) in orders.CLIENT_CANCELLABLE,
        "activity": activity.for_page(request.user, now),
        # What this login allows and until when (A2-A4, C5).
        **standing.describe(request),
    }
    context.update(extra)
    return context


@scope_required(*access.PORTAL_SCOPES, access.RESTRICTED_CARD_ONLY)
def sls_settings_view(request: HttpRequest) -> HttpResponse:
    """D8: the client's devices; for an unenrolled client, the device their
    equity gets (D6), the address to confirm, and the mobile authenticator."""
    return render(request, "accounts/sls_settings.html", _sls_context(request, timezone.now()))


@never_cache
@require_http_methods(["POST"])
@scope_required(*access.PORTAL_SCOPES)
def order_view(request: HttpRequest) -> HttpResponse:
    """D8: confirming the address places the order (D1); a PIN-bound device
    then asks for its PIN (D2); Platinum shows its PIN and passphrase once (D5)."""
    now = timezone.now()
    form = EnrollForm(request.POST)
    if form.is_valid():
        try:
            placed = orders.place(request.user.client, now=now, request=request)
        except orders.OrderRefused as refused:
            form.add_error("confirm_address", str(refused))
        else:
            if placed.pin:
                # Shown once: this response is the only one that carries them.
                context = {"order": placed.order, "pin": placed.pin, "passphrase": placed.passphrase}
                return render(request, "devices/order_platinum.html", context)
            if placed.order.finalised_at is None:
                return redirect("settings-security-sls-order-pin")
            return redirect("settings-security-sls")
    return render(request, "accounts/sls_settings.html", _sls_context(request, now, form=form), status=400)


@never_cache
@sensitive_post_parameters("pin", "pin_again")
@require_http_methods(["GET", "POST"])
@scope_required(*access.PORTAL_SCOPES)
def order_pin_view(request: HttpRequest) -> HttpResponse:
    """D2: the client creates the PIN of their Digital Security Card+ or Gold token."""
    now = timezone.now()
    order = orders.open_order(request.user.client, now)
    if order is None or order.status(now) != OrderStatus.AWAITING_PIN:
        return redirect("settings-security-sls")
    form = PinForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                orders.set_pin(order, form.cleaned_data["pin"], now=now, request=request)
            except orders.OrderRefused as refused:
                form.add_error("pin", str(refused))
            else:
                return redirect("settings-security-sls")
    return render(request, "devices/order_pin.html", {"form": form, "order": order}, status=status)


# D1-D6: the replacement page serves a full login, a temporary passcode's
# first days (A2, FULL_NO_WITHDRAWALS), and an unenrolled client, who may
# already order a device from the enrollment page (D8).
REPLACEMENT_SCOPES = (access.FULL, access.FULL_NO_WITHDRAWALS, access.UNENROLLED)


def _replacement_page(request: HttpRequest, now, *, form=None, pin_form=None, status=200) -> HttpResponse:
    client = request.user.client
    order = orders.open_order(client, now)
    context = {"order": order, "form": form or EnrollForm(), "pin_form": pin_form}
    if order is not None:
        context.update(
            order_status=order.status_label(now),
            awaiting_pin=order.status(now) == OrderStatus.AWAITING_PIN,
            can_cancel=order.status(now) in orders.CLIENT_CANCELLABLE,
        )
        if context["awaiting_pin"] and pin_form is None:
            context["pin_form"] = PinForm()
    else:
        context.update(
            offer=orders.offer_for(client, now),
            refused=orders.refusal_for(client, now),
            replaces=orders.superseded_device(client),
        )
    return render(request, "devices/replacement.html", context, status=status)


@never_cache
@sensitive_post_parameters("pin", "pin_again")
@require_http_methods(["GET", "POST"])
@scope_required(*REPLACEMENT_SCOPES)
def replacement_view(request: HttpRequest) -> HttpResponse:
    """D1: the device the client will get (D6), the address of record to
    confirm, the projected dates; then the PIN (D2), or Platinum's PIN and
    passphrase once (D5). A new device supersedes one reported lost, stolen
    or damaged (D5)."""
    now = timezone.now()
    if request.method == "GET":
        return _replacement_page(request, now)
    if request.POST.get("step") == "pin":
        pin_form = PinForm(request.POST)
        order = orders.open_order(request.user.client, now)
        if order is None or order.status(now) != OrderStatus.AWAITING_PIN:
            return redirect("replacement")
        if pin_form.is_valid():
            try:
                orders.set_pin(order, pin_form.cleaned_data["pin"], now=now, request=request)
            except orders.OrderRefused as refused:
                pin_form.add_error("pin", str(refused))
            else:
                messages.success(request, _("Your PIN is set and your device is ordered."))
                return redirect("replacement")
        return _replacement_page(request, now, pin_form=pin_form, status=400)
    form = EnrollForm(request.POST)
    if form.is_valid():
        try:
            placed = orders.place(request.user.client, now=now, request=request)
        except orders.OrderRefused as refused:
            form.add_error("confirm_address", str(refused))
        else:
            if placed.pin:
                # Shown once: this response is the only one that carries them.
                context = {"order": placed.order, "pin": placed.pin, "passphrase": placed.passphrase}
                return render(request, "devices/order_platinum.html", context)
            return redirect("replacement")
    return _replacement_page(request, now, form=form, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
@scope_required(*REPLACEMENT_SCOPES)
def order_cancel_view(request: HttpRequest) -> HttpResponse:
    """The client cancels their own order before it ships: GET asks to
    confirm, POST cancels (audited); its device will never activate."""
    now = timezone.now()
    order = orders.open_order(request.user.client, now)
    if order is None:
        return redirect("settings-security-sls")
    error, status = "", 200
    if request.method == "POST":
        try:
            orders.cancel(order, now=now, request=request)
        except orders.OrderRefused as refused:
            error, status = str(refused), 400
        else:
            messages.success(request, _("Your device order is cancelled. That device will never be activated."))
            return redirect("settings-security-sls")
    context = {
        "order": order,
        "order_status": order.status_label(now),
        "can_cancel": order.status(now) in orders.CLIENT_CANCELLABLE,
        "error": error,
    }
    return render(request, "devices/order_cancel.html", context, status=status)


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
@scope_required(*access.PORTAL_SCOPES)
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
@scope_required(*access.PORTAL_SCOPES)
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
@scope_required(*access.PORTAL_SCOPES)
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
            # This session goes on with the new device (a session that rode
            # on an online card or a passcode would end with them, A6).
            binding = DeviceBinding.objects.filter(user=request.user, security_device=device).first()
            if binding is not None and getattr(request.user, "otp_device", None) is not None:
                otp_login(request, binding)
            return render(request, "devices/mobile_done.html", {"device": device})
    return render(request, "devices/mobile_app.html", {"form": form, "app": None}, status=400)


# R1: the device being activated and the challenge shown for it.
ACTIVATION = "sls_activation"


class ActivationForm(ReconfirmForm):
    """The device's own step-2 fields, and its passphrase when it has one (D5)."""

    def __init__(self, data=None, *, factor):
        super().__init__(data, factor=factor)
        if activation.needs_passphrase(factor.security_device):
            self.fields["passphrase"] = forms.CharField(
                label=_("Passphrase from your confirmation page"),
                max_length=64,
                error_messages={"required": _("Type the passphrase printed on your confirmation page.")},
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )

    def response(self) -> str:
        return self.factor.response_from({name: self.cleaned_data[name] for name in self.factor.step_fields()})


def _activation_page(request, *, form=None, code_form=None, factor=None, error="", refusal=None, status=200):
    client = request.user.client
    context = {
        "refusal": refusal,
        "devices": activation.candidates(client),
        "form": form or SerialChoiceForm(),
        "code_form": code_form,
        "instructions": factor.step_instructions() if factor is not None else "",
        "device": factor.security_device if factor is not None else None,
        "error": error,
        "region": client.region,
    }
    return render(request, "devices/activate.html", context, status=status)


@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
@scope_required(*access.PORTAL_SCOPES)
def activate_view(request: HttpRequest) -> HttpResponse:
    """R1: pick the serial on the back of the device, then type its code as at login."""
    if request.method == "GET":
        request.session.pop(ACTIVATION, None)
        return _activation_page(request)
    if request.POST.get("step") != "code":
        form = SerialChoiceForm(request.POST)
        if form.is_valid():
            try:
                factor = activation.begin(request.user, form.cleaned_data["serial"])
            except activation.ActivationRefused as refused:
                form.add_error("serial", str(refused))
            else:
                request.session[ACTIVATION] = {"id": factor.persistent_id, "challenge": factor.challenge}
                return _activation_page(request, form=form, code_form=ActivationForm(factor=factor), factor=factor)
        return _activation_page(request, form=form, status=400)
    asked = request.session.get(ACTIVATION) or {}
    factor = activation.load_factor(str(asked.get("id", "")))
    if factor is None or not isinstance(asked.get("challenge"), dict):
        return _activation_page(request, error=_("This page was open too long. Choose your device again."), status=400)
    factor.challenge = asked["challenge"]
    code_form = ActivationForm(request.POST, factor=factor)
    if not code_form.is_valid():
        return _activation_page(
            request, code_form=code_form, factor=factor, error=_("Type every code asked."), status=400
        )
    try:
        binding = activation.finish(
            request.user,
            asked["id"],
            asked["challenge"],
            code_form.response(),
            now=timezone.now(),
            request=request,
            passphrase=code_form.cleaned_data.get("passphrase", ""),
        )
    except activation.ActivationRefused as refused:
        if refused.refusal is not None:
            # L3: locked, as at login: the lock's end and the regional numbers.
            request.session.pop(ACTIVATION, None)
            return _activation_page(request, refusal=refused.refusal, status=refused.refusal.status)
        error = str(refused)
        if refused.throttled_until:
            error += " " + _("Too many wrong codes in a row: wait until %(when)s and try again.") % {
                "when": date_format(timezone.localtime(refused.throttled_until), "H:i:s")
            }
        # A new challenge for the next try (a code-card question changes after each attempt).
        factor = activation.load_factor(asked["id"])
        if factor is None:
            return _activation_page(request, error=error, status=400)
        factor.challenge = factor.generate_challenge()
        request.session[ACTIVATION] = {"id": factor.persistent_id, "challenge": factor.challenge}
        return _activation_page(
            request, code_form=ActivationForm(factor=factor), factor=factor, error=error, status=400
        )
    request.session.pop(ACTIVATION, None)
    # This session goes on with the new device; the ones that rode on the
    # device it replaced end at their next request (principle 2).
    otp_login(request, binding)
    return render(request, "devices/activate_done.html", {"device": binding.security_device})
