"""The agents' action pages in the admin: parse a form, call one function, render.

Each view is wrapped by the admin site (staff with a verified second
factor, CSRF, never cached) and checks its own permission (403 without
it). The work itself is in agents.actions.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.changes import ChangeConflict
from accounts.closure import ClosureRefused
from accounts.models import Account, ChangeRequest, Client, IdentityVerification, User, open_accounts
from devices.flows import DeviceConflict, take_printout
from devices.models import DeviceOrder, DeviceStatus, DeviceType, SecurityDevice
from devices.orders import OrderRefused, device_type_for, equity_of, offer_for
from devices.printing import code_card_pdf
from login import lockout
from passcodes.applicants import FundingRefused, OpeningRefused
from passcodes.issuing import PasscodeRefused
from returns.charges import ChargeRefused, fee_for
from returns.flows import Outcome, ReturnRefused
from returns.instructions import Replacement, instructions_for
from returns.models import ChargeReason, DeviceCharge, DeviceReturn

from . import actions

ACTION_TEMPLATE = "admin/agent_action.html"
PRINTOUT_TEMPLATE = "admin/code_card_printout.html"

# Permission of each action (defined in agents/migrations/0001_agent_groups.py).
PERM_VERIFY = "accounts.add_identityverification"
PERM_UNLOCK = "accounts.unlock_username"
PERM_RESET = "accounts.send_password_reset"
PERM_END_SESSIONS = "accounts.end_sessions"
PERM_ISSUE_CARD = "devices.issue_code_card"


class VerificationForm(forms.Form):
    """The identity-verification fields (L5, s371) that every action form carries.

    With `required=False` they may stay empty when the agent recorded a
    verification for this client recently; the action function decides.
    """

    method = forms.ChoiceField(
        label=gettext_lazy("How you verified the caller"),
        choices=[("", "---------"), *IdentityVerification.Method.choices],
    )
    reference = forms.CharField(
        label=gettext_lazy("Call or ticket reference"),
        max_length=IdentityVerification._meta.get_field("reference").max_length,
    )
    notes = forms.CharField(label=gettext_lazy("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: Any, required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"].required = required
        self.fields["reference"].required = required

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        method, reference, notes = data.get("method"), data.get("reference"), data.get("notes")
        # Half a verification is no verification: both or neither.
        if (method or reference or notes) and not self.has_error("method") and not self.has_error("reference"):
            if not method:
                self.add_error("method", _("Choose how you verified the caller."))
            if not reference:
                self.add_error("reference", _("Give the call or ticket reference."))
        return data

    def new_verification(self) -> actions.NewVerification | None:
        data = self.cleaned_data
        if not data.get("method"):
            return None
        return actions.NewVerification(data["method"], data["reference"], data.get("notes", ""))


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


# The largest id PostgreSQL's bigint holds; a longer number is no row's.
_MAX_ID = 2**63 - 1


def object_pk(object_id: str) -> int:
    """The id in an action URL, or 404 for anything but a plain number (never a 500)."""
    if not (object_id.isascii() and object_id.isdigit()) or int(object_id) > _MAX_ID:
        raise Http404(_("No such object: the id in the address must be a number."))
    return int(object_id)


def _client_user(object_id: str) -> User:
    """A client's username; staff usernames have no agent actions (404)."""
    return get_object_or_404(User.objects.select_related("client"), pk=object_pk(object_id), client__isnull=False)


def _page(
    request: HttpRequest,
    model_admin: ModelAdmin,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> TemplateResponse:
    opts = model_admin.model._meta
    return TemplateResponse(
        request,
        template,
        {**model_admin.admin_site.each_context(request), "opts": opts, **context},
        status=status,
    )


def _change_url(obj: Client | User) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _verification_context(form, recent) -> dict:
    """What every verified action's page shows of the call's verification."""
    return {
        "form": form,
        "recent_verification": recent,
        "verification_valid_until": recent.at + settings.SLS["IDENTITY_VERIFICATION_VALID"] if recent else None,
    }


def _verified_action(
    request: HttpRequest,
    model_admin: ModelAdmin,
    *,
    subject: Client | User,
    client: Client,
    title: str,
    explanation: str,
    submit_label: str,
    act: Callable[[actions.NewVerification | None], HttpResponse],
) -> HttpResponse:
    """GET shows the form; POST verifies (or reuses a verification), acts, audits."""
    now = timezone.now()
    recent = actions.recent_verification(client, agent=request.user, now=now)
    form = VerificationForm(request.POST or None, required=False)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                return act(form.new_verification())
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except DeviceConflict as exc:
                form.add_error(None, str(exc))
            except OrderRefused as exc:
                form.add_error(None, f"{exc} ({exc.rule})")
            except PasscodeRefused as exc:
                form.add_error(None, exc.message)
        status = 400
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": title,
            "original": subject,
            "subject_client": client,
            "subject_user": subject if isinstance(subject, User) else None,
            "explanation": explanation,
            "submit_label": submit_label,
            **_verification_context(form, recent),
        },
        status=status,
    )


def verify_identity_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """L5 (s371): record that the caller proved to be this client."""
    _require(request, PERM_VERIFY)
    client = get_object_or_404(Client, pk=object_pk(object_id))
    form = VerificationForm(request.POST or None, required=True)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            actions.record_verification(
                client, form.new_verification(), agent=request.user, now=timezone.now(), request=request
            )
            messages.success(request, _("Identity verification recorded for %(client)s.") % {"client": client})
            return HttpResponseRedirect(_change_url(client))
        status = 400
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": _("Record identity verification"),
            "original": client,
            "subject_client": client,
            "explanation": _(
                "Record how the caller proved to be this client (L5). For the next %(minutes)d minutes "
                "you can then unlock, reset or end sessions for this client without recording it again."
            )
            % {"minutes": int(settings.SLS["IDENTITY_VERIFICATION_VALID"].total_seconds() // 60)},
            "submit_label": _("Record verification"),
            "form": form,
        },
        status=status,
    )


def unlock_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """L3 (s371): lift a username's lock after verifying the caller."""
    _require(request, PERM_UNLOCK)
    user = _client_user(object_id)
    until = lockout.locked_until(user.username, timezone.now())

    def act(new: actions.NewVerification | None) -> HttpResponse:
        was_locked = actions.unlock_username(
            user, agent=request.user, now=timezone.now(), request=request, new_verification=new
        )
        if was_locked:
            messages.success(request, _("%(username)s is unlocked.") % {"username": user.username})
        else:
            messages.info(
                request,
                _("%(username)s was not locked; its failed attempts no longer count.") % {"username": user.username},
            )
        return HttpResponseRedirect(_change_url(user))

    if until:
        state = _("This username is locked until %(when)s UTC (L3).") % {"when": f"{until:%Y-%m-%d %H:%M}"}
    else:
        state = _("This username is not locked now; unlocking resets its count of failed attempts (L3).")
    return _verified_action(
        request,
        model_admin,
        subject=user,
        client=user.client,
        title=_("Unlock username"),
        explanation=state,
        submit_label=_("Unlock"),
        act=act,
    )


def send_password_reset_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """L5: e-mail a single-use password-reset link to the client's e-mail of record."""
    _require(request, PERM_RESET)
    user = _client_user(object_id)

    def act(new: actions.NewVerification | None) -> HttpResponse:
        actions.send_password_reset(user, agent=request.user, now=timezone.now(), request=request, new_verification=new)
        messages.success(
            request,
            _("A password-reset link for %(username)s was sent to the client's e-mail of record.")
            % {"username": user.username},
        )
        return HttpResponseRedirect(_change_url(user))

    return _verified_action(
        request,
        model_admin,
        subject=user,
        client=user.client,
        title=_("Send password-reset link"),
        explanation=_(
            "A link to choose a new password goes to the client's e-mail of record, %(email)s. It works once, "
            "for one hour, and never replaces the security device (L5)."
        )
        % {"email": user.client.email},
        submit_label=_("Send the link"),
        act=act,
    )


def end_sessions_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """SECURITY.md 5: every session of the username ends at its next request."""
    _require(request, PERM_END_SESSIONS)
    user = _client_user(object_id)

    def act(new: actions.NewVerification | None) -> HttpResponse:
        actions.end_all_sessions(user, agent=request.user, now=timezone.now(), request=request, new_verification=new)
        messages.success(request, _("All sessions of %(username)s have ended.") % {"username": user.username})
        return HttpResponseRedirect(_change_url(user))

    return _verified_action(
        request,
        model_admin,
        subject=user,
        client=user.client,
        title=_("End all sessions"),
        explanation=_("Every browser and trading-platform session of this username is logged out at its next request."),
        submit_label=_("End all sessions"),
        act=act,
    )


def issue_code_card_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """D5: issue a Security Code Card, then offer its printout once."""
    _require(request, PERM_ISSUE_CARD)
    client = get_object_or_404(Client, pk=object_pk(object_id))

    def act(new: actions.NewVerification | None) -> HttpResponse:
        device = actions.issue_code_card(
            client, agent=request.user, now=timezone.now(), request=request, new_verification=new
        )
        messages.success(request, _("Security Code Card %(serial)s issued and active.") % {"serial": device.serial})
        return HttpResponseRedirect(reverse("admin:devices_securitydevice_printout", args=[device.pk]))

    return _verified_action(
        request,
        model_admin,
        subject=client,
        client=client,
        title=_("Issue Security Code Card"),
        explanation=_(
            "The new card is active at once for all of the client's usernames (D7). You can download its "
            "printable version once, to mail it to the address of record."
        ),
        submit_label=_("Issue the card"),
        act=act,
    )


def code_card_printout_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """Principle 4: the printable card goes to the issuing agent once.

    GET shows the page; POST (no state change on GET, SECURITY.md 16)
    returns the PDF the first time and a clear refusal after that.
    """
    _require(request, PERM_ISSUE_CARD)
    device = get_object_or_404(SecurityDevice.objects.select_related("client", "issued_by"), pk=object_pk(object_id))
    if device.type != DeviceType.CODE_CARD:
        raise Http404
    if device.issued_by_id != request.user.pk:
        raise PermissionDenied
    status = 200
    if request.method == "POST":
        pdf = code_card_pdf(device)
        if take_printout(device, agent=request.user, now=timezone.now(), request=request):
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="security-code-card-{device.serial}.pdf"'
            add_never_cache_headers(response)
            return response
        device.refresh_from_db(fields=["printout_taken_at"])
        status = 410
    return _page(
        request,
        model_admin,
        PRINTOUT_TEMPLATE,
        {
            "title": _("Printable Security Code Card"),
            "original": device,
            "device": device,
        },
        status=status,
    )


PERM_DECIDE_CHANGE = "accounts.decide_change_request"


class DecisionForm(VerificationForm):
    """B2: the identity verification of the call-back, and the reason of the decision."""

    reason = forms.CharField(
        label=gettext_lazy("Reason (the client reads it)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        required=False,
    )

    def __init__(self, *args: Any, reason_required: bool, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)
        self.fields["reason"].required = reason_required
        self.fields["reason"].error_messages["required"] = _("Say why: the client receives the reason by e-mail.")


def _decide_change_view(
    request: HttpRequest, model_admin: ModelAdmin, object_id: str, *, approve: bool
) -> HttpResponse:
    _require(request, PERM_DECIDE_CHANGE)
    change = get_object_or_404(ChangeRequest.objects.select_related("client", "requested_by"), pk=object_pk(object_id))
    now = timezone.now()
    recent = actions.recent_verification(change.client, agent=request.user, now=now)
    form = DecisionForm(request.POST or None, reason_required=not approve)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.decide_change_request(
                    change,
                    approve=approve,
                    reason=form.cleaned_data.get("reason", ""),
                    agent=request.user,
                    now=now,
                    request=request,
                    new_verification=form.new_verification(),
                )
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except ChangeConflict as exc:
                form.add_error(None, str(exc))
            else:
                done = (
                    _("Change request approved and applied; the client was told by e-mail.")
                    if approve
                    else _("Change request rejected; the client was told by e-mail.")
                )
                messages.success(request, done)
                return HttpResponseRedirect(reverse("admin:accounts_changerequest_changelist"))
        status = 400
    if approve:
        explanation = _(
            "Approve this change of %(kind)s to: %(value)s (B2). It is applied at once; a notice goes to the "
            "client's e-mail address of record (and to the new one for an e-mail change)."
        ) % {"kind": change.get_kind_display(), "value": change.summary()}
    else:
        explanation = _(
            "Reject this change of %(kind)s to: %(value)s (B2). Nothing changes; the client receives your reason by e-mail."
        ) % {"kind": change.get_kind_display(), "value": change.summary()}
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": _("Approve change request") if approve else _("Reject change request"),
            "original": change,
            "subject_client": change.client,
            "subject_user": change.requested_by,
            "explanation": explanation,
            "submit_label": _("Approve") if approve else _("Reject"),
            **_verification_context(form, recent),
        },
        status=status,
    )


def approve_change_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """B2: the Security team approves a client's change and it is applied."""
    return _decide_change_view(request, model_admin, object_id, approve=True)


def reject_change_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """B2: the Security team rejects a client's change, with a reason."""
    return _decide_change_view(request, model_admin, object_id, approve=False)


PERM_REPORT_DEVICE = "devices.report_device"


class ReportDeviceForm(VerificationForm):
    """D5: what happened to the device, and the identity verification of the call."""

    reason = forms.ChoiceField(
        label=gettext_lazy("What happened to the device"),
        choices=[
            ("", "---------"),
            (DeviceStatus.LOST, gettext_lazy("Lost")),
            (DeviceStatus.STOLEN, gettext_lazy("Stolen")),
            (DeviceStatus.DAMAGED, gettext_lazy("Damaged")),
        ],
        error_messages={
            "required": gettext_lazy("Choose what happened to the device: lost, stolen or damaged."),
            "invalid_choice": gettext_lazy("Choose what happened to the device: lost, stolen or damaged."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)
        # The reason first, then the verification.
        self.order_fields(["reason", "method", "reference", "notes"])


def report_device_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """D5, SECURITY.md 5: report a device lost, stolen or damaged for a verified caller."""
    _require(request, PERM_REPORT_DEVICE)
    device = get_object_or_404(SecurityDevice.objects.select_related("client"), pk=object_pk(object_id))
    now = timezone.now()
    recent = actions.recent_verification(device.client, agent=request.user, now=now)
    form = ReportDeviceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                usernames = actions.report_device(
                    device,
                    form.cleaned_data["reason"],
                    agent=request.user,
                    now=now,
                    request=request,
                    new_verification=form.new_verification(),
                )
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except DeviceConflict as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _(
                        "%(device)s is now %(status)s. Sessions ended for: %(usernames)s. "
                        "The client was told by e-mail how to get a temporary passcode."
                    )
                    % {
                        "device": device,
                        "status": device.get_status_display().lower(),
                        "usernames": ", ".join(usernames) or "-",
                    },
                )
                return HttpResponseRedirect(_change_url(device))
        status = 400
    if device.is_active:
        explanation = _(
            "The device stops working at once for every username of the client (D7), their sessions end, and the "
            "client is e-mailed how to get a temporary passcode and that the device may be charged (T6)."
        )
    else:
        explanation = _(
            "This device is not active (%(status)s): only an active device can be reported lost, stolen or "
            "damaged (D5)."
        ) % {"status": device.get_status_display()}
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": _("Report device lost, stolen or damaged"),
            "original": device,
            "subject_client": device.client,
            "explanation": explanation,
            "submit_label": _("Report the device"),
            **_verification_context(form, recent),
        },
        status=status,
    )


def order_device_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """D1-D6: order a (replacement) device for a verified caller."""
    _require(request, PERM_ISSUE_CARD)
    client = get_object_or_404(Client, pk=object_pk(object_id))
    offer = offer_for(client, timezone.now())

    def act(new: actions.NewVerification | None) -> HttpResponse:
        order = actions.order_device(
            client, agent=request.user, now=timezone.now(), request=request, new_verification=new
        )
        messages.success(
            request,
            _("%(device)s ordered; projected delivery %(date)s.")
            % {"device": order.get_device_type_display(), "date": order.projected_delivery_at.date().isoformat()},
        )
        return HttpResponseRedirect(reverse("admin:devices_deviceorder_change", args=[order.pk]))

    return _verified_action(
        request,
        model_admin,
        subject=client,
        client=client,
        title=_("Order a replacement device"),
        explanation=_(
            "By the client's equity (USD %(equity)s) the device is a %(device)s (D6), sent to the address of "
            "record: %(address)s. It ships not active: the client keeps logging in as now until activating it "
            "(R1) or until it activates itself 2 days after delivery (D3). A device reported lost, stolen or "
            "damaged is superseded by it (D5). A PIN-bound device waits for the client to create the PIN online (D2)."
        )
        % {"equity": offer.equity, "device": offer.device_label, "address": offer.address},
        submit_label=_("Order the device"),
        act=act,
    )


class ShipForm(VerificationForm):
    """D1: the serial number on the back of the device packed for this order."""

    serial = forms.CharField(label=gettext_lazy("Serial number of the device shipped"), max_length=32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)


def mark_shipped_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """D1: mark the order shipped, checking the device's serial number."""
    _require(request, PERM_ISSUE_CARD)
    order = get_object_or_404(DeviceOrder.objects.select_related("client", "device"), pk=object_pk(object_id))
    now = timezone.now()
    recent = actions.recent_verification(order.client, agent=request.user, now=now)
    form = ShipForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.mark_order_shipped(
                    order,
                    serial=form.cleaned_data["serial"],
                    agent=request.user,
                    now=now,
                    request=request,
                    new_verification=form.new_verification(),
                )
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except OrderRefused as exc:
                form.add_error("serial" if exc.field == "serial" else None, f"{exc} ({exc.rule})")
            else:
                messages.success(request, _("Order marked shipped."))
                return HttpResponseRedirect(reverse("admin:devices_deviceorder_change", args=[order.pk]))
        status = 400
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": _("Mark shipped"),
            "original": order,
            "subject_client": order.client,
            "subject_user": None,
            "explanation": _(
                "Type the serial number printed on the back of the device you are shipping to %(address)s. "
                "The delivery date is projected from today (D4)."
            )
            % {"address": order.shipping_address},
            "submit_label": _("Mark shipped"),
            **_verification_context(form, recent),
        },
        status=status,
    )


# --- Returns and charges (T3, T5, T6) ------------------------------------------

PERM_RECORD_RECEIPT = "returns.record_receipt"
PERM_CHARGE_DEVICE = "returns.charge_device"
PERM_WAIVE_CHARGE = "returns.waive_charge"


def _form_action(
    request: HttpRequest,
    model_admin: ModelAdmin,
    *,
    form: VerificationForm,
    subject: Any,
    client: Client,
    title: str,
    explanation: str,
    submit_label: str,
    act: Callable[[VerificationForm], HttpResponse],
    refused: tuple[type[Exception], ...] = (ReturnRefused, ChargeRefused),
) -> HttpResponse:
    """Like _verified_action, for a form with fields of its own: GET shows
    it; POST validates it and acts; a refusal (one of `refused`) is shown on
    the form, on its field when it names one, with its rule when it has one,
    and nothing written."""
    now = timezone.now()
    recent = actions.recent_verification(client, agent=request.user, now=now)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                return act(form)
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except refused as exc:
                field = getattr(exc, "field", None)
                rule = getattr(exc, "rule", "")
                form.add_error(field if field in form.fields else None, f"{exc} ({rule})" if rule else str(exc))
        status = 400
    return _page(
        request,
        model_admin,
        ACTION_TEMPLATE,
        {
            "title": title,
            "original": subject,
            "subject_client": client,
            "subject_user": None,
            "explanation": explanation,
            "submit_label": submit_label,
            **_verification_context(form, recent),
        },
        status=status,
    )


class ReceiptForm(VerificationForm):
    """T3: the receipt of a returned device, with the identity verification (L5)."""

    receipt_notes = forms.CharField(
        label=gettext_lazy("Notes on the device received"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)
        self.order_fields(["receipt_notes", "method", "reference", "notes"])


def _receipt_message(request: HttpRequest, receipt) -> None:
    if receipt.outcome == Outcome.INVITED:
        messages.success(
            request,
            _(
                "Receipt recorded; the device is returned. The client's equity qualifies for a Platinum token: "
                "the e-mail invitation to request it in Account Management is on its way (D5)."
            ),
        )
    elif receipt.outcome == Outcome.ORDERED:
        messages.success(
            request,
            _(
                "Receipt recorded; the device is returned. A %(device)s was ordered for the client by equity (D6); "
                "the client is told by e-mail."
            )
            % {"device": receipt.order.get_device_type_display()},
        )
    elif receipt.outcome == Outcome.CLIENT_REQUESTS:
        messages.success(
            request,
            _(
                "Receipt recorded; the device is returned. The client requests the new device online and creates "
                "its PIN there (T5, D2)."
            ),
        )
    elif receipt.outcome == Outcome.REFUSED:
        messages.warning(
            request,
            _("Receipt recorded; the device is returned. No replacement could be ordered: %(why)s (%(rule)s)")
            % {"why": receipt.refusal, "rule": receipt.rule},
        )
    else:
        messages.success(request, _("Receipt recorded; the device is returned. No replacement was asked for."))


def _replacement_forecast(device_return: DeviceReturn) -> str:
    """What the receipt will do about the replacement, by type and today's equity (T5, D5, D6)."""
    if not device_return.replacement_wanted:
        return _("The client wants no replacement.")
    how = instructions_for(device_return.device.type).replacement
    if how == Replacement.CLIENT_REQUESTS:
        return _("The client wants a replacement: they request it online and create its PIN there (T5, D2).")
    if how not in (Replacement.INVITATION, Replacement.AUTOMATIC):
        return _("The client wants a replacement, but this type of device has no replacement by return.")
    equity = equity_of(device_return.client, timezone.now())
    device_type = device_type_for(equity)
    values = {"equity": equity, "device": DeviceType(device_type).label}
    if device_type == DeviceType.PLATINUM:
        return (
            _(
                "The client wants a replacement. By the equity now (USD %(equity)s) it is a %(device)s: the client "
                "is e-mailed an invitation to request it in Account Management (D5)."
            )
            % values
        )
    return (
        _("The client wants a replacement. By the equity now (USD %(equity)s) a %(device)s is ordered at once (D6).")
        % values
    )


def receipt_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """T3, T5: record that a returned device has arrived."""
    _require(request, PERM_RECORD_RECEIPT)
    device_return = get_object_or_404(DeviceReturn.objects.select_related("client", "device"), pk=object_pk(object_id))
    device = device_return.device

    def act(form: VerificationForm) -> HttpResponse:
        receipt = actions.record_return_receipt(
            device_return,
            agent=request.user,
            now=timezone.now(),
            notes=form.cleaned_data.get("receipt_notes", ""),
            request=request,
            new_verification=form.new_verification(),
        )
        _receipt_message(request, receipt)
        return HttpResponseRedirect(reverse("admin:returns_devicereturn_change", args=[device_return.pk]))

    replacement = _replacement_forecast(device_return)
    explanation = _(
        "The %(device)s %(serial)s becomes returned and the client's Returns page shows it received (T3). %(replacement)s"
    ) % {"device": device.get_type_display(), "serial": device.serial, "replacement": replacement}
    return _form_action(
        request,
        model_admin,
        form=ReceiptForm(request.POST or None),
        subject=device_return,
        client=device_return.client,
        title=_("Record receipt"),
        explanation=explanation,
        submit_label=_("Record receipt"),
        act=act,
    )


class _OnCallForm(VerificationForm):
    on_call = forms.BooleanField(
        label=gettext_lazy("I am acting for the client on the phone"),
        required=False,
        help_text=gettext_lazy("Then the caller's identity must be verified (L5)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)


class ChargeForm(_OnCallForm):
    """T6: why the device is charged, and to which of the client's accounts."""

    reason = forms.ChoiceField(
        label=gettext_lazy("Why the device is charged"),
        choices=[("", "---------"), *ChargeReason.choices],
        error_messages={
            "required": gettext_lazy("Choose why the device is charged."),
            "invalid_choice": gettext_lazy("Choose why the device is charged."),
        },
    )
    account = forms.TypedChoiceField(
        label=gettext_lazy("Account charged"),
        coerce=int,
        error_messages={"invalid_choice": gettext_lazy("Choose one of this client's accounts.")},
    )

    def __init__(self, *args: Any, accounts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accounts = {account.pk: account for account in accounts}
        self.fields["account"].choices = [(account.pk, account.number) for account in accounts]
        self.order_fields(["reason", "account", "on_call", "method", "reference", "notes"])


def charge_device_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """T6: charge a lost, stolen, damaged or unreturned device, once."""
    _require(request, PERM_CHARGE_DEVICE)
    device = get_object_or_404(SecurityDevice.objects.select_related("client"), pk=object_pk(object_id))
    accounts = list(device.client.accounts.order_by("number"))
    form = ChargeForm(request.POST or None, accounts=accounts)

    def act(form: VerificationForm) -> HttpResponse:
        charge = actions.charge_device(
            device,
            form.cleaned_data["reason"],
            agent=request.user,
            now=timezone.now(),
            on_call=form.cleaned_data["on_call"],
            account=form.accounts[form.cleaned_data["account"]],
            request=request,
            new_verification=form.new_verification(),
        )
        messages.success(
            request,
            _("%(amount)s USD charged to account %(account)s for %(device)s.")
            % {"amount": charge.amount_usd, "account": charge.account.number, "device": device},
        )
        return HttpResponseRedirect(reverse("admin:returns_devicecharge_change", args=[charge.pk]))

    try:
        amount = _("%(amount)s USD") % {"amount": fee_for(device.type)}
    except ChargeRefused as exc:
        amount = str(exc)
    return _form_action(
        request,
        model_admin,
        form=form,
        subject=device,
        client=device.client,
        title=_("Charge for this device"),
        explanation=_(
            "A %(device)s is charged %(amount)s (T6), once: the client sees the charge on the Returns page. "
            "Enrollment itself is free (B4)."
        )
        % {"device": device.get_type_display(), "amount": amount},
        submit_label=_("Charge the device"),
        act=act,
    )


class WaiveForm(_OnCallForm):
    """T6: why the charge is waived."""

    reason = forms.CharField(
        label=gettext_lazy("Why the charge is waived"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=settings.SLS["CHARGE_WAIVE_REASON_MAX_LENGTH"],
        error_messages={"required": gettext_lazy("Say why the charge is waived.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["reason", "on_call", "method", "reference", "notes"])


def waive_charge_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """T6: waive a device charge, with a reason."""
    _require(request, PERM_WAIVE_CHARGE)
    charge = get_object_or_404(
        DeviceCharge.objects.select_related("account__client", "device"), pk=object_pk(object_id)
    )

    def act(form: VerificationForm) -> HttpResponse:
        actions.waive_device_charge(
            charge,
            reason=form.cleaned_data["reason"],
            agent=request.user,
            now=timezone.now(),
            on_call=form.cleaned_data["on_call"],
            request=request,
            new_verification=form.new_verification(),
        )
        messages.success(request, _("The charge is waived; the client's Returns page shows it waived."))
        return HttpResponseRedirect(reverse("admin:returns_devicecharge_change", args=[charge.pk]))

    return _form_action(
        request,
        model_admin,
        form=WaiveForm(request.POST or None),
        subject=charge,
        client=charge.account.client,
        title=_("Waive charge"),
        explanation=_("Waive the charge of %(amount)s USD for %(device)s on account %(account)s (T6).")
        % {"amount": charge.amount_usd, "device": charge.device, "account": charge.account.number},
        submit_label=_("Waive the charge"),
        act=act,
    )


PERM_CLOSE_ACCOUNT = "accounts.close_account"


class CloseAccountForm(VerificationForm):
    """A8: why the account closes, and the identity verification of the call."""

    reason = forms.CharField(
        label=gettext_lazy("Reason for the closure"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=settings.SLS["CLOSURE_REASON_MAX_LENGTH"],
        error_messages={"required": gettext_lazy("Give the reason for the closure.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)
        self.order_fields(["reason", "method", "reference", "notes"])


def _closure_explanation(account: Account, now) -> str:
    if account.closed_at is not None:
        return _("This account was closed on %(when)s UTC: %(reason)s") % {
            "when": f"{account.closed_at:%Y-%m-%d %H:%M}",
            "reason": account.closure_reason or "-",
        }
    others = Account.objects.filter(open_accounts(now), client_id=account.client_id).exclude(pk=account.pk)
    if others.exists():
        return _(
            "Account %(number)s (equity USD %(equity)s) closes now. The client keeps the other open accounts "
            "(%(others)s) and logs in as before."
        ) % {
            "number": account.number,
            "equity": account.equity_usd,
            "others": ", ".join(others.values_list("number", flat=True)),
        }
    held = [str(device) for device in account.client.devices.all() if device.is_active_at(now)]
    return _(
        "Account %(number)s (equity USD %(equity)s) is the client's last open account. Once it is closed the "
        "client logs in only to view and print statements and tax forms (A8). Devices still active: %(devices)s. "
        "A device not returned when the account closes is charged (T6)."
    ) % {"number": account.number, "equity": account.equity_usd, "devices": ", ".join(held) or "-"}


def close_account_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """A8: close an account for a verified caller, with the reason."""
    _require(request, PERM_CLOSE_ACCOUNT)
    account = get_object_or_404(Account.objects.select_related("client"), pk=object_pk(object_id))
    now = timezone.now()

    def act(form: CloseAccountForm) -> HttpResponse:
        closed = actions.close_account(
            account,
            reason=form.cleaned_data["reason"],
            agent=request.user,
            now=now,
            request=request,
            new_verification=form.new_verification(),
        )
        messages.success(request, _("Account %(number)s is closed.") % {"number": closed.number})
        return HttpResponseRedirect(_change_url(closed))

    return _form_action(
        request,
        model_admin,
        form=CloseAccountForm(request.POST or None),
        subject=account,
        client=account.client,
        title=_("Close account"),
        explanation=_closure_explanation(account, now),
        submit_label=_("Close the account"),
        act=act,
        refused=(ClosureRefused,),
    )


# C5: opening a new applicant's account and recording its first funding.
PERM_OPEN_ACCOUNT = "accounts.open_account"


class OpenAccountForm(VerificationForm):
    """C5: the applicant's username, and the verification of who they are."""

    username = forms.CharField(
        label=gettext_lazy("Username for the client"),
        max_length=settings.SLS["USERNAME_MAX_LENGTH"],
        help_text=gettext_lazy("Lower-case letters and digits only."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)


def open_account_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """C5: a verified applicant on file gets a username, an unfunded account
    and an online card; the e-mail tells how to choose the password, log in,
    and print and activate the card."""
    _require(request, PERM_OPEN_ACCOUNT)
    client = get_object_or_404(Client, pk=object_pk(object_id))

    def act(form: OpenAccountForm) -> HttpResponse:
        opened = actions.open_account(
            client,
            username=form.cleaned_data["username"],
            agent=request.user,
            now=timezone.now(),
            request=request,
            new_verification=form.new_verification(),
        )
        messages.success(
            request,
            _("Account %(account)s opened with username %(username)s; the client is e-mailed how to log in.")
            % {"account": opened.account.number, "username": opened.user.username},
        )
        return HttpResponseRedirect(_change_url(client))

    return _form_action(
        request,
        model_admin,
        form=OpenAccountForm(request.POST or None),
        subject=client,
        client=client,
        title=_("Open the account"),
        explanation=_(
            "The client gets a username, an account to fund and an online security card (C5). An e-mail to "
            "%(email)s gives a link to choose the password and the steps to print and activate the card. "
            "Funding the account starts the card's last 21 days and orders the permanent device."
        )
        % {"email": client.email},
        submit_label=_("Open the account"),
        act=act,
        refused=(OpeningRefused,),
    )


class FundingForm(forms.Form):
    account = forms.ModelChoiceField(label=gettext_lazy("Account"), queryset=Account.objects.none())
    equity = forms.DecimalField(
        label=gettext_lazy("Amount received (USD)"), max_digits=16, decimal_places=2, min_value=Decimal("0.01")
    )

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(client=client, funded_at__isnull=True)


def fund_account_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """C5, D8: record an account's first funding (audited); a new applicant's
    device is ordered by the equity (D6)."""
    _require(request, PERM_OPEN_ACCOUNT)
    client = get_object_or_404(Client, pk=object_pk(object_id))
    form = FundingForm(request.POST or None, client=client)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                funded = actions.fund_account(
                    form.cleaned_data["account"],
                    form.cleaned_data["equity"],
                    agent=request.user,
                    now=timezone.now(),
                    request=request,
                )
            except FundingRefused as exc:
                form.add_error(None, exc.message)
            else:
                message = _("Account %(account)s is funded.") % {"account": funded.account.number}
                if funded.order is not None:
                    message += " " + _("%(device)s ordered for the client.") % {
                        "device": funded.order.get_device_type_display()
                    }
                messages.success(request, message)
                return HttpResponseRedirect(_change_url(client))
        status = 400
    return _page(
        request,
        model_admin,
        FUNDING_TEMPLATE,
        {
            "title": _("Record funding"),
            "original": client,
            "subject_client": client,
            "form": form,
            "explanation": _(
                "The account's first funding: a new applicant's online card then works 21 more days (C5) and the "
                "permanent device for the equity is ordered (D6, D8)."
            ),
            "submit_label": _("Record funding"),
        },
        status=status,
    )


FUNDING_TEMPLATE = "admin/agent_funding.html"


def cancel_order_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """Cancel a device order for a verified caller; its device never activates."""
    _require(request, PERM_ISSUE_CARD)
    order = get_object_or_404(DeviceOrder.objects.select_related("client", "device"), pk=object_pk(object_id))

    def act(new: actions.NewVerification | None) -> HttpResponse:
        actions.cancel_order(order, agent=request.user, now=timezone.now(), request=request, new_verification=new)
        messages.success(request, _("Order cancelled; its device can never be activated."))
        return HttpResponseRedirect(reverse("admin:devices_deviceorder_change", args=[order.pk]))

    return _verified_action(
        request,
        model_admin,
        subject=order,
        client=order.client,
        title=_("Cancel order"),
        explanation=_(
            "The order is cancelled and its device (%(device)s) is revoked at once: it can never be activated, "
            "neither by the client nor by itself after delivery (D3). An order whose device is already active "
            "cannot be cancelled: report the device instead."
        )
        % {"device": order.device.serial if order.device else _("not made yet: no PIN")},
        submit_label=_("Cancel the order"),
        act=act,
    )
