"""Refusals that name their rule (A9), shared by the web pages and the API.

The codes are API.md's; an agent reading a client's audit timeline sees the
same words whether the client was on the web or on the trading platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext_lazy as _

# H1: one anchor on /help/ per troubleshooting situation.
HELP_ANCHORS = {
    1: "invalid-credentials",
    2: "login-failed",
    3: "forgotten-credentials",
    4: "without-device",
    5: "device-lost-or-damaged",
    6: "passcode-expired",
    7: "online-card-expired",
    8: "awaiting-delivery",
    9: "platform-refuses-passcode",
    10: "activate-device",
    11: "bad-character",
}


@dataclass
class LoginRefusal(Exception):
    code: str
    rule: str
    message: str
    status: int
    help_anchor: str = ""
    hint: str = ""
    extra: dict = field(default_factory=dict)
    # The pending login is over: the client starts again from step 1.
    ends_login: bool = False

    @property
    def help_url(self) -> str:
        return f"/help/#{self.help_anchor}" if self.help_anchor else "/help/"


def bad_character() -> LoginRefusal:
    # L1 (s443): the seed's exact words.
    return LoginRefusal("bad_character", "L1", _("BAD CHARACTER"), 400, HELP_ANCHORS[11])


def invalid_credentials() -> LoginRefusal:
    # L2 (s311): the seed's exact words, whether or not the username exists.
    return LoginRefusal("invalid_credentials", "L2", _("Invalid user name password combination"), 401, HELP_ANCHORS[1])


def login_failed(hint: str = "", rule: str = "L2", retry_at: datetime | None = None) -> LoginRefusal:
    # L2 (s312), with an L4 hint when the code broke a format rule, and
    # the moment the device may be tried again when it is throttled.
    extra = {"retry_at": retry_at} if retry_at else {}
    return LoginRefusal("login_failed", rule, _("Login Failed"), 401, HELP_ANCHORS[2], hint=hint, extra=extra)


def locked_out(unlocks_at: datetime) -> LoginRefusal:
    return LoginRefusal(
        "locked_out",
        "L3",
        _("This username is locked after 10 failed login attempts."),
        403,
        HELP_ANCHORS[1],
        extra={"unlocks_at": unlocks_at},
        ends_login=True,
    )


def login_token_invalid() -> LoginRefusal:
    return LoginRefusal(
        "login_token_invalid",
        "",
        _("Your login has timed out or was already used. Please start again with your username and password."),
        401,
        ends_login=True,
    )


def rate_limited() -> LoginRefusal:
    return LoginRefusal(
        "rate_limited",
        "",
        _("Too many failed login attempts have come from your network address. Please wait an hour and try again."),
        429,
        HELP_ANCHORS[1],
    )


def malformed(what: str) -> LoginRefusal:
    return LoginRefusal("malformed", "", what, 400)


# L4 hints, named after the rule each input broke. Clients read the rule in
# words; its ID goes to the audit and the API's `rule` field only (A9).
HINT_NO_SPACES = _("Codes from a security card or electronic device are typed without spaces.")
