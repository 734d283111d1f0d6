"""The client's form that starts a return (T1): which device, why, and whether a replacement is wanted."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from devices.models import SecurityDevice

from .flows import ReturnRefused, check_reason, refusal_for

YES, NO = "yes", "no"


class StartReturnForm(forms.Form):
    device = forms.CharField(
        label=_("Device you are sending back"),
        error_messages={"required": _("Choose the device you are sending back.")},
    )
    reason = forms.CharField(
        label=_("Brief reason for the return"),
        help_text=_("For example: account closed, accounts consolidated, battery dead, broken. In any language."),
        strip=True,
        error_messages={
            "required": _("Give a brief reason for the return, for example: account closed, battery dead, broken.")
        },
    )
    replacement = forms.ChoiceField(
        label=_("Do you need a replacement device?"),
        choices=[(YES, _("Yes")), (NO, _("No"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Say whether you need a replacement device."),
            "invalid_choice": _("Say whether you need a replacement device: yes or no."),
        },
    )

    def __init__(self, data=None, *, devices: list[SecurityDevice], returnable: list[SecurityDevice]):
        super().__init__(data)
        # Every device of the client may be posted (and told why it cannot
        # go back); the list offers only those that can.
        self.devices = {device.pk: device for device in devices}
        self.fields["device"].widget = forms.Select(
            choices=[("", "---------")]
            + [(device.pk, f"{device.get_type_display()} · {device.serial}") for device in returnable]
        )
        limit = settings.SLS["RETURN_REASON_MAX_LENGTH"]
        self.fields["reason"].widget = forms.Textarea(
            attrs={"rows": 3, "maxlength": limit, "aria-describedby": "id_reason_helptext"}
        )

    def add_error(self, field, error):
        super().add_error(field, error)
        if field in self.fields:
            widget = self.fields[field].widget
            widget.attrs["aria-invalid"] = "true"
            described = [f"id_{field}_error"] + (["id_reason_helptext"] if field == "reason" else [])
            widget.attrs["aria-describedby"] = " ".join(described)

    def clean_device(self) -> SecurityDevice:
        raw = self.cleaned_data["device"].strip()
        device = self.devices.get(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
        if device is None:
            raise forms.ValidationError(_("Choose one of your devices from the list."), code="invalid_choice")
        refused = refusal_for(device)
        if refused is not None:
            raise forms.ValidationError(str(refused), code=refused.rule)
        return device

    def clean_reason(self) -> str:
        try:
            return check_reason(self.cleaned_data["reason"])
        except ReturnRefused as refused:
            raise forms.ValidationError(str(refused), code="too_long") from None

    @property
    def replacement_wanted(self) -> bool:
        return self.cleaned_data["replacement"] == YES
