"""The Returns page (T1-T6) and the return form's PDF (T1).

Both serve every scope that reaches the portal's pages and a closed account
(A8's statements scope): a client closing an account returns the device,
and sees a charge if it is not returned.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.access import scope_required
from devices.models import DeviceStatus, SecurityDevice
from help import regions

from . import charges, flows
from .forms import StartReturnForm
from .instructions import RETURNED_TYPES, instructions_for
from .models import DeviceCharge, DeviceReturn
from .pdf import return_form_pdf

# The portal's pages (A1), and a closed account's (A8): see the module's docstring.
RETURNS_SCOPES = (*access.PORTAL_SCOPES, access.STATEMENTS_ONLY)

# The largest id PostgreSQL's bigint holds; a longer number is no row's.
_MAX_ID = 2**63 - 1


def _posted_device_is_not_theirs(request: HttpRequest, devices: list[SecurityDevice]) -> None:
    """SECURITY.md 17: a device id that is a number but not one of the
    client's is answered 404, as if it did not exist."""
    raw = request.POST.get("device", "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) not in {device.pk for device in devices}:
        raise Http404(_("No such device among yours."))


def _context(client, devices: list[SecurityDevice], form: StartReturnForm, now) -> dict:
    returns = {item.device_id: item for item in DeviceReturn.objects.filter(client=client)}
    charged = list(DeviceCharge.objects.filter(account__client=client).select_related("device", "account"))
    charges_by_device = {charge.device_id: charge for charge in charged}
    rows = [
        {
            "device": device,
            "instructions": instructions_for(device.type),
            "return": returns.get(device.pk),
            "return_status": returns[device.pk].status(now) if device.pk in returns else "",
            "charge": charges_by_device.get(device.pk),
        }
        for device in devices
    ]
    all_closed = client.accounts.exists() and not any(account.is_open(now) for account in client.accounts.all())
    not_returned = [
        device
        for device in devices
        if device.type in RETURNED_TYPES
        and device.status != DeviceStatus.RETURNED
        and device.pk not in charges_by_device
    ]
    return {
        "client": client,
        "rows": rows,
        "form": form,
        "can_start": bool(form.fields["device"].widget.choices[1:]),
        "region": client.region,
        "technical_support": regions.TECHNICAL_SUPPORT_PHONE,
        "technical_support_tel": regions.TECHNICAL_SUPPORT_TEL,
        "charges": [{"charge": charge, "status": charge.status(now)} for charge in charged],
        "fee_table": charges.fee_table(),
        # A8, T6: a closed account's device that is not back yet is charged.
        "closed_not_returned": [
            {"device": device, "fee": _fee_or_none(device.type)} for device in not_returned if all_closed
        ],
        "receipt_days": settings.SLS["RETURN_RECEIPT_DAYS"],
    }


def _fee_or_none(device_type: str):
    try:
        return charges.fee_for(device_type)
    except charges.ChargeRefused:
        return None


def _form(request: HttpRequest, client, devices: list[SecurityDevice]) -> StartReturnForm:
    started = set(DeviceReturn.objects.filter(client=client).values_list("device_id", flat=True))
    returnable = [
        device
        for device in devices
        if device.type in RETURNED_TYPES and device.status != DeviceStatus.RETURNED and device.pk not in started
    ]
    return StartReturnForm(request.POST if request.method == "POST" else None, devices=devices, returnable=returnable)


@require_http_methods(["GET", "POST"])
@scope_required(*RETURNS_SCOPES)
def returns_view(request: HttpRequest) -> HttpResponse:
    """T1-T6: the client's devices and what to do with each, the form that
    starts a return, where to send it, and the client's charges."""
    client = request.user.client
    now = timezone.now()
    devices = list(SecurityDevice.objects.filter(client=client).order_by("-created_at", "-id"))
    if request.method == "POST":
        _posted_device_is_not_theirs(request, devices)
    form = _form(request, client, devices)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                started = flows.start_return(
                    request.user,
                    form.cleaned_data["device"],
                    reason=form.cleaned_data["reason"],
                    replacement_wanted=form.replacement_wanted,
                    now=now,
                    request=request,
                )
            except flows.ReturnRefused as refused:
                form.add_error(refused.field if refused.field in form.fields else None, str(refused))
            else:
                messages.success(
                    request,
                    _(
                        "The return of your %(device)s is recorded. Download its form, print it and pack it with "
                        "the device."
                    )
                    % {"device": started.device.get_type_display()},
                )
                return redirect(reverse("returns") + f"#return-{started.pk}")
    return render(request, "returns/returns.html", _context(client, devices, form, now), status=status)


@require_GET
@scope_required(*RETURNS_SCOPES)
def return_form_view(request: HttpRequest, return_id: int) -> HttpResponse:
    """T1: the return form, prefilled, as a PDF in the page's language."""
    if return_id > _MAX_ID:
        raise Http404(_("No such return among yours."))
    device_return = get_object_or_404(
        DeviceReturn.objects.select_related("client", "device"), pk=return_id, client=request.user.client
    )
    response = HttpResponse(return_form_pdf(device_return), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="return-form-{device_return.device.serial}.pdf"'
    add_never_cache_headers(response)
    return response
