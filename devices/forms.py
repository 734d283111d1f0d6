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


class EnrollForm(_Described):
    """D8: the client confirms the address of record the device is sent to."""

    confirm_address = forms.BooleanField(
        label=_("Send my device to this address of record"),
        error_messages={"required": _("Confirm the address, or call us first if it is not right.")},
    )


class PinForm(_Described):
    """D2: the PIN the client creates for their device."""

    pin = forms.CharField(
        label=_("New PIN for your device"),
        max_length=32,
        strip=False,
        help_text=_("4 to 8 digits, not all the same."),
        error_messages={"required": _("Enter a PIN.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "inputmode": "numeric", "autofocus": True}),
    )
    pin_again = forms.CharField(
        label=_("The same PIN again"),
        max_length=32,
        strip=False,
        error_messages={"required": _("Type the PIN a second time.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "inputmode": "numeric"}),
    )

    def clean(self):
        data = super().clean()
        if "pin" in data and "pin_again" in data and data["pin"] != data["pin_again"]:
            self.add_error("pin_again", _("The two PINs are not the same: type the same PIN twice."))
        return data


class SerialChoiceForm(_Described):
    """R1: the serial number on the back of the device in hand."""

    serial = forms.CharField(
        label=_("Serial number on the back of your device"),
        max_length=32,
        error_messages={"required": _("Choose the serial number printed on the back of your device.")},
    )
