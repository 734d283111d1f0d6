"""The agents' pages for temporary passcodes (A2, A3, A5, L4, L5).

"Issue a temporary passcode", on a client or one of its usernames: the
identity verification of the call, what became of the permanent device, the
usernames; the answer to the POST shows the code once, never cached, and
nothing keeps it: reloading or going back submits the form again, which is
recognised (the form carries when it was opened) and shows nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Client, User
from devices.models import DeviceStatus, SecurityDevice
from passcodes.issuing import Issued, PasscodeRefused, for_reading
from passcodes.models import ReportedStatus, TemporaryPasscode

from . import actions
from .clock import moment
from .views import (
    VerificationForm,
    _change_url,
    _client_user,
    _page,
    _require,
    _verification_context,
    _verified_action,
    object_pk,
)

PERM_ISSUE_PASSCODE = "passcodes.issue_temporary_passcode"
PERM_REVOKE_PASSCODE = "passcodes.revoke_temporary_passcode"

FORM_TEMPLATE = "admin/issue_passcode.html"
RESULT_TEMPLATE = "admin/passcode_issued.html"
_OPENED_SALT = "agents.issue-passcode.opened"


def opened_token(client: Client, agent: User, now: datetime) -> str:
    """When this agent opened the form for this client, signed."""
    return signing.dumps({"client": client.pk, "agent": agent.pk, "at": now.isoformat()}, salt=_OPENED_SALT)


def opened_at(token: str, client: Client, agent: User) -> datetime | None:
    """The moment in a token made by opened_token for this client and agent, or None."""
    try:
        data = signing.loads(token, salt=_OPENED_SALT)
        if data["client"] != client.pk or data["agent"] != agent.pk:
            return None
        return datetime.fromisoformat(data["at"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


class IssuePasscodeForm(VerificationForm):
    """What happened to the permanent device, the usernames, and the verification of the call."""

    device_status = forms.ChoiceField(
        label=gettext_lazy("What happened to the permanent device"),
        choices=ReportedStatus.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy(
                "Choose what happened to the client's permanent device: lost, stolen, damaged or temporarily "
                "unavailable."
            ),
            "invalid_choice": gettext_lazy(
                "Choose what happened to the client's permanent device: lost, stolen, damaged or temporarily "
                "unavailable."
            ),
        },
    )
    usernames = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Usernames to issue it for"),
        queryset=User.objects.none(),
        to_field_name="username",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": gettext_lazy("Choose at least one username of this client to issue the passcode for."),
            "invalid_choice": gettext_lazy(
                "%(value)s is not a username of this client: choose among the client's own usernames."
            ),
            "invalid_list": gettext_lazy("Choose the usernames from the list."),
        },
    )
    opened = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, client: Client, agent: User, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)
        self.client, self.agent = client, agent
        self.fields["usernames"].queryset = User.objects.filter(client=client).order_by("username")
        self.order_fields(["device_status", "usernames", "method", "reference", "notes", "opened"])

    def clean_opened(self) -> datetime:
        at = opened_at(self.cleaned_data.get("opened", ""), self.client, self.agent)
        if at is None:
            raise forms.ValidationError(_("This form is incomplete or out of date: open it again."))
        return at

    def call_fields(self):
        return [self["device_status"], self["usernames"]]

    def verification_fields(self):
        return [self["method"], self["reference"], self["notes"]]


def issue_for_client_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """A2: issue a temporary passcode for usernames of this client."""
    _require(request, PERM_ISSUE_PASSCODE)
    client = get_object_or_404(Client, pk=object_pk(object_id))
    return _issue_page(request, model_admin, client=client, subject=client, preselected=[])


def issue_for_user_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """A2: the same page, from a username's page, with that username chosen."""
    _require(request, PERM_ISSUE_PASSCODE)
    user = _client_user(object_id)
    return _issue_page(request, model_admin, client=user.client, subject=user, preselected=[user.username])


def _issue_page(
    request: HttpRequest, model_admin: ModelAdmin, *, client: Client, subject: Client | User, preselected: list[str]
) -> HttpResponse:
    now = timezone.now()
    agent = request.user
    recent = actions.recent_verification(client, agent=agent, now=now)
    initial = {"usernames": preselected, "opened": opened_token(client, agent, now)}
    form = IssuePasscodeForm(request.POST or None, initial=initial, client=client, agent=agent)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                issued = actions.issue_temporary_passcode(
                    client,
                    list(form.cleaned_data["usernames"]),
                    device_status=form.cleaned_data["device_status"],
                    agent=agent,
                    now=now,
                    request=request,
                    new_verification=form.new_verification(),
                    form_opened_at=form.cleaned_data["opened"],
                )
            except actions.VerificationRequired as exc:
                form.add_error("method", str(exc))
            except PasscodeRefused as exc:
                form.add_error(None, exc.message)
            except actions.PasscodeAlreadyShown as exc:
                return _already_shown(request, model_admin, client, subject, exc.passcode)
            else:
                return _shown_once(request, model_admin, client, subject, issued)
        status = 400
    return _page(
        request,
        model_admin,
        FORM_TEMPLATE,
        {
            "title": _("Issue a temporary passcode"),
            "original": subject,
            "subject_client": client,
            "subject_user": subject if isinstance(subject, User) else None,
            "submit_label": _("Issue the passcode"),
            "device": _permanent_device(client),
            "live_passcodes": list(
                TemporaryPasscode.objects.filter(client=client, ended_at__isnull=True)
                .select_related("user")
                .order_by("user__username")
            ),
            **_verification_context(form, recent),
        },
        status=status,
    )


def _permanent_device(client: Client) -> SecurityDevice | None:
    """The device the passcode stands in for: the active one, else the latest reported."""
    return (
        SecurityDevice.objects.filter(client=client)
        .exclude(status__in=(DeviceStatus.ISSUED, DeviceStatus.REVOKED, DeviceStatus.RETURNED))
        .order_by("-created_at", "-pk")
        .first()
    )


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page holding a secret is never kept by a browser or a proxy (SECURITY.md 23)."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _shown_once(
    request: HttpRequest, model_admin: ModelAdmin, client: Client, subject: Client | User, issued: Issued
) -> HttpResponse:
    first = issued.passcodes[0]
    response = _page(
        request,
        model_admin,
        RESULT_TEMPLATE,
        {
            "title": _("Temporary passcode issued"),
            "original": subject,
            "subject_client": client,
            "code_for_reading": for_reading(issued.code),
            "code_length": len(issued.code),
            "usernames": [passcode.user.username for passcode in issued.passcodes],
            "issued": moment(first.issued_at, client),
            "full_until": moment(first.full_until, client),
            "restricted_until": moment(first.restricted_until, client),
            "client_change_url": _change_url(client),
        },
    )
    return _no_store(response)


def _already_shown(
    request: HttpRequest, model_admin: ModelAdmin, client: Client, subject: Client | User, passcode: TemporaryPasscode
) -> HttpResponse:
    response = _page(
        request,
        model_admin,
        RESULT_TEMPLATE,
        {
            "title": _("Temporary passcode issued"),
            "original": subject,
            "subject_client": client,
            "already": moment(passcode.issued_at, client),
            "form_url": request.path,
            "client_change_url": _change_url(client),
        },
        status=410,
    )
    return _no_store(response)


def revoke_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """SECURITY.md 5: end a temporary passcode before its time, for a verified caller."""
    _require(request, PERM_REVOKE_PASSCODE)
    passcode = get_object_or_404(TemporaryPasscode.objects.select_related("client", "user"), pk=object_pk(object_id))
    change_url = reverse("admin:passcodes_temporarypasscode_change", args=[passcode.pk])

    def act(new: actions.NewVerification | None) -> HttpResponse:
        actions.revoke_passcode(passcode, agent=request.user, now=timezone.now(), request=request, new_verification=new)
        messages.success(
            request,
            _("The temporary passcode of %(username)s is revoked: it opens nothing any more.")
            % {"username": passcode.user.username},
        )
        return HttpResponseRedirect(change_url)

    return _verified_action(
        request,
        model_admin,
        subject=passcode,
        client=passcode.client,
        title=_("Revoke a temporary passcode"),
        explanation=_(
            "The temporary passcode of %(username)s stops working at once, and any session opened with it ends at "
            "its next page. The client needs a new passcode (or the online card) to log in again."
        )
        % {"username": passcode.user.username},
        submit_label=_("Revoke the passcode"),
        act=act,
    )
