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


class FactorForm(forms.Form):
    """Step 2 for one offered factor: the fields its kind asks for, and which
    factor this form answers (a page may offer several, each its own form)."""

    def __init__(self, data=None, *, offer):
        # Two code cards offered at once (a new device and the online card)
        # ask fields of the same names: each form's ids are its own.
        super().__init__(data, auto_id="id_%s" if offer.index == 0 else f"id_f{offer.index}_%s")
        self.offer = offer
        self.fields.update(offer.factor.step_fields())
        self.fields["factor"] = forms.IntegerField(widget=forms.HiddenInput, initial=offer.index, required=False)

    @property
    def instructions(self) -> str:
        return self.offer.factor.step_instructions()

    def response(self) -> str:
        """The typed answer in one string, as the factor and the API take it."""
        return self.offer.factor.response_from(self.cleaned_data)


def chosen_factor(data) -> int:
    """Which offered factor a step-2 POST answers (the first, if it says none)."""
    try:
        return max(0, int(data.get("factor", 0)))
    except (TypeError, ValueError):
        return 0
