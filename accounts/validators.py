import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class MaximumLengthValidator:
    """SECURITY.md 12: long passphrases are welcome, up to a bound that keeps hashing cheap to refuse."""

    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It must contain at most %(max_length)d character.",
                    "This password is too long. It must contain at most %(max_length)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self) -> str:
        return _("Your password can be up to %(max_length)d characters long.") % {"max_length": self.max_length}


class ContainsUsernameValidator:
    """SECURITY.md 12: a password built from the username is refused.

    Django's similarity check compares whole strings and lets the username
    doubled ("alicealice") through; NIST 800-63B asks to refuse passwords
    derived from the username. A password is built from it when, without
    every copy of the username, what is left would be too short to be a
    password on its own; a long passphrase that happens to name the user
    stays allowed. No composition rules otherwise.
    """

    def __init__(self, min_length: int = 12):
        self.min_length = min_length

    def validate(self, password: str, user=None) -> None:
        username = (getattr(user, "username", "") or "").lower()
        if not username or username not in password.lower():
            return
        rest = re.sub(re.escape(username), "", password.lower())
        if len(re.sub(r"[\W_]", "", rest)) < self.min_length:
            raise ValidationError(
                _("Your password must not be built from your username."), code="password_has_username"
            )

    def get_help_text(self) -> str:
        return _("Your password must not be built from your username.")
