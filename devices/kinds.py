"""The kinds of permanent device, each a class on the second-factor contract.

Each is a proxy of DeviceBinding (one username's link to a physical device,
D7); the physical device's seed and status are on SecurityDevice.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from help import refusals

from . import algorithms, codecard, pins
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


class CodeCardKind:
    """What every code card shares at step 2, printed (the Security Code
    Card) or online (passcodes.models.OnlineCard): two numbered positions
    asked, the code under each typed without spaces (L4, s380). The kind
    says where its seed is (`card_seed`)."""

    def card_seed(self) -> bytes:
        raise NotImplementedError

    def generate_challenge(self) -> dict:
        return {"type": "code_card", "positions": codecard.new_challenge()}

    @property
    def positions(self) -> list[int]:
        return list(self.challenge.get("positions") or [])

    def check_token(self, token: str) -> bool:
        positions = self.positions
        if not positions:
            return False
        return codecard.verify(self.card_seed(), positions, token)

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


@_kind(DeviceType.CODE_CARD)
class CodeCardBinding(CodeCardKind, DeviceBinding):
    """The Security Code Card: 224 printed codes, two asked at each login (s492)."""

    serial_prefix = "SC"

    class Meta:
        proxy = True
        verbose_name = _("Security Code Card of a username")
        verbose_name_plural = _("Security Code Cards of usernames")

    needs_pin = False

    @classmethod
    def provision(cls, device, *, pin: str | None = None) -> None:
        """Give a new physical device of this kind its secrets (encrypted)."""
        device.set_seed(codecard.new_seed())

    @classmethod
    def display(cls, device, *, now, question: str = "") -> list[str]:
        """What the card shows (the simulator): the codes at the positions
        in `question` ("12,187"), or how to ask for them."""
        try:
            positions = [int(part) for part in question.replace(" ", "").split(",") if part]
            return [f"{position}: {codecard.code_at(device.seed, position)}" for position in positions] or [
                str(_("Give the card positions, for example 12,187."))
            ]
        except ValueError:
            return [str(_("Card positions run from 1 to %(size)d.") % {"size": settings.SLS["CODE_CARD_SIZE"]})]

    def card_seed(self) -> bytes:
        return self.security_device.seed


class _DigitsKind:
    """What every electronic device shares at step 2: one field for the
    digits it displays, typed without spaces (L4, s380)."""

    code_length: int = 6

    def step_fields(self) -> dict[str, forms.Field]:
        return {
            "code": code_input(
                _("Security code"),
                length=self.code_length,
                autofocus=True,
                error=_("Enter the code your security device shows."),
            )
        }

    def format_hint(self, token: str) -> str:
        return str(refusals.HINT_NO_SPACES) if any(ch.isspace() for ch in token) else ""

    def _well_formed(self, token: str) -> bool:
        return token.isascii() and token.isdigit() and len(token) == self.code_length


class OcraKind(_DigitsKind):
    """Challenge-response with OCRA (RFC 6287): step 2 shows a random
    numeric question, the client types it into the device (after their
    PIN, when the suite has a P input) and types back the response."""

    ocra_suite: str = ""
    needs_pin = True
    seed_length = 32

    @classmethod
    def provision(cls, device, *, pin: str | None = None) -> None:
        """The seed, and the PIN's digest as the suite consumes it (both
        encrypted); the PIN itself is never kept. D2: it must follow the rules."""
        pins.validate_pin(pin)
        device.set_seed(algorithms.new_seed(cls.seed_length))
        device.set_pin_digest(algorithms.pin_digest(cls.ocra_suite, pin))

    @classmethod
    def display(cls, device, *, now, question: str = "") -> list[str]:
        """What the device shows (the simulator): its response to `question`."""
        length = algorithms.question_length(cls.ocra_suite)
        if not (question.isascii() and question.isdigit() and len(question) == length):
            return [str(_("Give the %(length)d-digit challenge shown at login.") % {"length": length})]
        response = algorithms.ocra_response(cls.ocra_suite, device.seed, question, device.pin_digest)
        return [f"{question} -> {response}"]

    @property
    def code_length(self) -> int:  # type: ignore[override]
        return algorithms.response_length(self.ocra_suite)

    def generate_challenge(self) -> dict:
        return {"type": "ocra", "question": algorithms.new_question(self.ocra_suite)}

    @property
    def question(self) -> str:
        return str(self.challenge.get("question") or "")

    def check_token(self, token: str) -> bool:
        question = self.question
        if not question or not self._well_formed(token):
            return False
        device = self.security_device
        return algorithms.ocra_verify(self.ocra_suite, device.seed, question, token, device.pin_digest)

    def step_instructions(self) -> str:
        return _(
            "Switch on your %(device)s, enter your PIN, then type the challenge %(question)s into it. "
            "Enter the response it shows, without spaces."
        ) % {"device": self.get_kind_display(), "question": self.question}

    def describe_challenge(self) -> dict:
        return {"type": "ocra", "question": self.question}


class TotpKind(_DigitsKind):
    """Time-based codes (RFC 6238): the device shows a new code every
    `period` seconds; one step of drift either way is accepted, and a code
    is accepted once, whichever username of the client presents it (D7):
    the last accepted step is kept on the physical device."""

    code_length = 6
    period = 30
    needs_pin = False

    @classmethod
    def provision(cls, device, *, pin: str | None = None) -> None:
        # RFC 4226 section 4: a 160-bit shared secret for HMAC-SHA-1.
        device.set_seed(algorithms.new_seed(20))

    @classmethod
    def display(cls, device, *, now, question: str = "") -> list[str]:
        """What the device shows now (the simulator): its code and how long it lasts."""
        generator = algorithms.totp(device.seed, digits=cls.code_length, period=cls.period)
        left = cls.period - int(now.timestamp()) % cls.period
        return [generator.at(now), str(_("%(seconds)d seconds left") % {"seconds": left})]

    def check_token(self, token: str) -> bool:
        if not self._well_formed(token):
            return False
        device = self.security_device
        step = algorithms.totp_match(
            device.seed,
            token,
            unix_time=timezone.now().timestamp(),
            digits=self.code_length,
            period=self.period,
            drift=settings.SLS["TOTP_DRIFT_STEPS"],
            after=device.totp_last_step,
        )
        if step is None:
            return False
        # The device's row is locked (for_verify); the condition keeps a
        # replay out even where it is not (SEC8: accepted once per step).
        recorded = (
            type(device)
            .objects.filter(pk=device.pk)
            .filter(Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step))
            .update(totp_last_step=step)
        )
        if recorded:
            device.totp_last_step = step
        return bool(recorded)

    def step_instructions(self) -> str:
        return _("Enter the %(digits)d-digit code your %(device)s shows now, without spaces.") % {
            "digits": self.code_length,
            "device": self.get_kind_display(),
        }

    def describe_challenge(self) -> dict:
        return {"type": "totp"}


@_kind(DeviceType.DSC_PLUS)
class DigitalSecurityCardBinding(OcraKind, DeviceBinding):
    """The Digital Security Card+ (s493): the client's PIN (D2) unlocks it
    and enters the computation (OCRA's P input)."""

    ocra_suite = "OCRA-1:HOTP-SHA256-8:QN08-PSHA1"

    serial_prefix = "DS"

    class Meta:
        proxy = True
        verbose_name = _("Digital Security Card+ of a username")
        verbose_name_plural = _("Digital Security Cards+ of usernames")


@_kind(DeviceType.PLATINUM)
class PlatinumBinding(OcraKind, DeviceBinding):
    """The Platinum token (s190, s265): a keypad token; its PIN is generated
    and shown once (D5) and enters the computation; the longest response."""

    ocra_suite = "OCRA-1:HOTP-SHA512-8:QN08-PSHA1"
    seed_length = 64

    serial_prefix = "PT"

    class Meta:
        proxy = True
        verbose_name = _("Platinum token of a username")
        verbose_name_plural = _("Platinum tokens of usernames")


@_kind(DeviceType.GOLD)
class GoldBinding(OcraKind, DeviceBinding):
    """The Gold token (s11): a keypad token with a PIN the client sets (D2);
    a shorter question and response for its smaller display."""

    ocra_suite = "OCRA-1:HOTP-SHA256-6:QN06-PSHA1"

    serial_prefix = "GD"

    class Meta:
        proxy = True
        verbose_name = _("Gold token of a username")
        verbose_name_plural = _("Gold tokens of usernames")


@_kind(DeviceType.MOBILE)
class MobileBinding(TotpKind, DeviceBinding):
    """The mobile authenticator (s473, s494): TOTP, 6 digits every 30 seconds."""

    code_length = 6
    period = 30

    serial_prefix = "MA"

    class Meta:
        proxy = True
        verbose_name = _("Mobile authenticator of a username")
        verbose_name_plural = _("Mobile authenticators of usernames")

    def step_instructions(self) -> str:
        return _("Open the authenticator app on your phone and enter the 6-digit code it shows now, without spaces.")


@_kind(DeviceType.ALPINE)
class AlpineBinding(TotpKind, DeviceBinding):
    """The Alpine token (s251, s270): no keypad, so no question and no PIN;
    a 6-digit code every 60 seconds, long enough to read off a small fob."""

    code_length = 6
    period = 60

    serial_prefix = "AL"

    class Meta:
        proxy = True
        verbose_name = _("Alpine token of a username")
        verbose_name_plural = _("Alpine tokens of usernames")
