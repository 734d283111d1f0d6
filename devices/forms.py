from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class _Described(forms.Form):
    """Errors tied to their field for assistive technology (aria-describedby)."""

    def add_error(self, field, error):
        super().add_error(field, error)
        if field in self.fields:
            widget = self.fields[field].widget
            widget.attrs["aria-invalid"] = "true"
            widget.attrs["aria-describedby"] = f"id_{field}_error"


class PhoneForm(_Described):
    phone = forms.CharField(
        label=_("Mobile phone number"),
        max_length=32,
        help_text=_("With its country code, for example +39 347 123 4567."),
        error_messages={"required": _("Enter your mobile phone number.")},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "autofocus": True}),
    )


class PhoneCodeForm(_Described):
    code = forms.CharField(
        label=_("Code from the text message"),
        max_length=16,
        error_messages={"required": _("Enter the 6-digit code we texted you.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class FirstCodeForm(_Described):
    code = forms.CharField(
        label=_("Code shown by the app"),
        max_length=16,
        error_messages={"required": _("Enter the 6-digit code your authenticator app shows.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )
