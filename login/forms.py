from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    """Step 1. Lengths and characters are judged by the login flow (L1, L2),
    so that the messages are the rule's, not a generic form error."""

    username = forms.CharField(
        label=_("Username"),
        strip=False,
        error_messages={"required": _("Enter your username.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        error_messages={"required": _("Enter your password.")},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeCardForm(forms.Form):
    """Step 2 with a Security Code Card: the code printed under each number."""

    def __init__(self, *args, positions: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.positions = positions
        for index, position in enumerate(positions, start=1):
            self.fields[f"code_{index}"] = forms.CharField(
                label=_("Code number %(position)d") % {"position": position},
                strip=False,
                error_messages={
                    "required": _("Enter the code printed under number %(position)d.") % {"position": position}
                },
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "one-time-code",
                        "autocapitalize": "characters",
                        "spellcheck": "false",
                        "inputmode": "text",
                        "autofocus": index == 1,
                    }
                ),
            )

    def response(self) -> str:
        """The typed codes joined, as the card's verifier and the API take them."""
        return "".join(self.cleaned_data[f"code_{index}"] for index in range(1, len(self.positions) + 1))
