"""The forms of the money pages (B1-B3): every bad input gets a message naming what is wrong."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AMOUNT_DIGITS, AMOUNT_PLACES, Deposit
from .money import usd

# The largest amount the columns hold (16 digits, 2 of them cents).
AMOUNT_MAX = Decimal(10 ** (AMOUNT_DIGITS - AMOUNT_PLACES)) - Decimal("0.01")
_AMOUNT = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


class AmountField(forms.CharField):
    """An amount in USD: digits, at most 2 decimals (a dot or a comma), more than zero."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Amount (USD)"))
        kwargs.setdefault("error_messages", {"required": _("Enter the amount in US dollars.")})
        super().__init__(
            max_length=40,
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 16}),
            **kwargs,
        )
        self.error_messages["max_length"] = _("That is not an amount: type digits, for example 1500.00.")

    def clean(self, value):
        text = super().clean(value)
        text = text.replace(" ", "")
        if not _AMOUNT.fullmatch(text):
            raise forms.ValidationError(
                _("That is not an amount: type digits, with a dot or a comma before the cents, for example 1500.00."),
                code="not_a_number",
            )
        try:
            amount = Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise forms.ValidationError(_("That is not an amount."), code="not_a_number") from None
        if amount <= 0:
            raise forms.ValidationError(_("The amount must be more than zero."), code="not_positive")
        if -amount.as_tuple().exponent > AMOUNT_PLACES:
            raise forms.ValidationError(_("The amount can have at most 2 decimals (cents)."), code="decimals")
        if amount > AMOUNT_MAX:
            raise forms.ValidationError(
                _("That amount is too large: at most %(max)s USD.") % {"max": usd(AMOUNT_MAX)}, code="too_large"
            )
        return amount.quantize(Decimal("0.01"))


class MoneyForm(forms.Form):
    account = forms.TypedChoiceField(
        label=_("Account"),
        coerce=int,
        error_messages={
            "required": _("Choose one of your accounts."),
            "invalid_choice": _("Choose one of your open accounts."),
        },
    )
    amount = AmountField()

    def __init__(self, data=None, *, accounts):
        super().__init__(data)
        self.fields["account"].choices = [(account.pk, account.number) for account in accounts]


class WithdrawalForm(MoneyForm):
    pass


class DepositForm(MoneyForm):
    method = forms.ChoiceField(
        label=_("Transfer type"),
        choices=Deposit.Method.choices,
        error_messages={
            "required": _("Choose ACH or EFT."),
            "invalid_choice": _("Choose ACH or EFT: other transfer types are not requested here."),
        },
    )


_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: the shape and the mod-97 check digits."""
    if not _IBAN.fullmatch(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def routing_is_valid(routing: str) -> bool:
    """ABA routing number: 9 digits with its checksum."""
    if not re.fullmatch(r"[0-9]{9}", routing):
        return False
    d = [int(ch) for ch in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


class BankingForm(forms.Form):
    account_holder = forms.CharField(
        label=_("Account holder"), max_length=140, error_messages={"required": _("Enter the account holder's name.")}
    )
    bank_name = forms.CharField(
        label=_("Bank name"), max_length=140, error_messages={"required": _("Enter the name of the bank.")}
    )
    iban = forms.CharField(label=_("IBAN"), max_length=50, required=False, help_text=_("Outside the US."))
    account_number = forms.CharField(
        label=_("Bank account number"), max_length=30, required=False, help_text=_("US banks: with the routing number.")
    )
    routing_number = forms.CharField(label=_("Routing number (ABA)"), max_length=30, required=False)

    def clean_iban(self) -> str:
        iban = re.sub(r"\s", "", self.cleaned_data["iban"]).upper()
        if iban and not iban_is_valid(iban):
            raise forms.ValidationError(_("That IBAN is not valid: check the letters and digits."))
        return iban

    def clean_account_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["account_number"])
        if number and not re.fullmatch(r"[0-9]{4,17}", number):
            raise forms.ValidationError(_("A bank account number has 4 to 17 digits."))
        return number

    def clean_routing_number(self) -> str:
        routing = re.sub(r"[\s-]", "", self.cleaned_data["routing_number"])
        if routing and not routing_is_valid(routing):
            raise forms.ValidationError(_("A routing number has 9 digits and this one's check digit is wrong."))
        return routing

    def clean(self):
        data = super().clean()
        iban, number, routing = data.get("iban"), data.get("account_number"), data.get("routing_number")
        if self.errors:
            return data
        if iban and (number or routing):
            raise forms.ValidationError(_("Give either an IBAN or a US account and routing number, not both."))
        if not iban and not (number and routing):
            raise forms.ValidationError(_("Give an IBAN, or a US bank account number with its routing number."))
        return data

    def value(self) -> dict:
        return {key: self.cleaned_data[key] for key in self.fields}


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("New e-mail address"),
        max_length=254,
        error_messages={
            "required": _("Enter the new e-mail address."),
            "invalid": _("That is not an e-mail address: it looks like name@example.com."),
        },
    )

    def __init__(self, data=None, *, current: str):
        super().__init__(data)
        self.current = current

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if email.lower() == self.current.lower():
            raise forms.ValidationError(_("That is already your e-mail address."))
        return email

    def value(self) -> dict:
        return {"email": self.cleaned_data["email"]}
