"""Device PINs (D2): the rules of a PIN the client sets, each with its own message."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_pin(pin: str) -> str:
    """The PIN if it follows D2's rules (ours: 4 to 8 digits, not all the
    same digit); otherwise a ValidationError saying which rule it breaks."""
    low, high = settings.SLS["DEVICE_PIN_MIN_LENGTH"], settings.SLS["DEVICE_PIN_MAX_LENGTH"]
    if not isinstance(pin, str) or not pin:
        raise ValidationError(_("Enter a PIN."), code="required")
    if any(ch.isspace() for ch in pin):
        raise ValidationError(_("Type the PIN without spaces."), code="spaces")
    if not (pin.isascii() and pin.isdigit()):
        raise ValidationError(_("A PIN has digits only (0 to 9), no letters or other signs."), code="digits")
    if not low <= len(pin) <= high:
        raise ValidationError(
            _("A PIN has %(low)d to %(high)d digits; this one has %(count)d.")
            % {"low": low, "high": high, "count": len(pin)},
            code="length",
        )
    if len(set(pin)) == 1:
        raise ValidationError(_("A PIN cannot be the same digit repeated; choose a mix of digits."), code="repeated")
    return pin
