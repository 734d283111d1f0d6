"""The kinds of permanent device, each a class on the second-factor contract.

Each is a proxy of DeviceBinding (one username's link to a physical device,
D7); the physical device's seed and status are on SecurityDevice.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from help import refusals

from . import codecard
from .models import DeviceBinding, DeviceType


def _kind(kind: str):
    def register(cls):
        DeviceBinding.KINDS[kind] = cls
        cls.kind_name = kind
        return cls

    return register


def code_input(label, *, length: int, autofocus: bool, error: str) -> forms.CharField:
    """A field for a code read off a device. Surrounding whitespace from a
    paste is trimmed (L4, ours); a space inside stays, for L4's hint. The
    browser takes twice the code, so a pasted code with spaces is not cut
    short; longer input is the login flow's to refuse, in its own words."""
    return forms.CharField(
        label=label,
        strip=True,
        error_messages={"required": error},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "inputmode": "text",
                "maxlength": 2 * length,
                "size": length + 2,
                "autofocus": autofocus,
            }
        ),
    )


@_kind(DeviceType.CODE_CARD)
class CodeCardBinding(DeviceBinding):
    """The Security Code Card: 224 printed codes, two asked at each login (s492)."""

    class Meta:
        proxy = True
        verbose_name = _("Security Code Card of a username")
        verbose_name_plural = _("Security Code Cards of usernames")

    def generate_challenge(self) -> dict:
        return {"type": "code_card", "positions": codecard.new_challenge()}

    @property
    def positions(self) -> list[int]:
        return list(self.challenge.get("positions") or [])

    def check_token(self, token: str) -> bool:
        positions = self.positions
        if not positions:
            return False
        return codecard.verify(self.security_device.seed, positions, token)

    def step_fields(self) -> dict[str, forms.Field]:
        length = settings.SLS["CODE_CARD_CODE_LENGTH"]
        return {
            f"code_{index}": code_input(
                _("Code number %(position)d") % {"position": position},
                length=length,
                autofocus=index == 1,
                error=_("Enter the code printed under number %(position)d.") % {"position": position},
            )
            for index, position in enumerate(self.positions, start=1)
        }

    def step_instructions(self) -> str:
        first, second = (self.positions + [0, 0])[:2]
        return _(
            "Find numbers %(first)s and %(second)s on your Security Code Card and type the code printed under "
            "each, without spaces."
        ) % {"first": first, "second": second}

    def format_hint(self, token: str) -> str:
        # L4 (s380): codes from a card are typed without spaces.
        return str(refusals.HINT_NO_SPACES) if any(ch.isspace() for ch in token) else ""

    def describe_challenge(self) -> dict:
        return {"type": "code_card", "positions": self.positions}
