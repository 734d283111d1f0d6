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
HINT_UPPER_CASE = _("Letters in a temporary passcode are upper case.")


# Window refusals (A3, A4, A7, A8): given only after the password and the
# code matched, and never counted toward L3 (API.md). The login is over.


def passcode_platform_window_over() -> LoginRefusal:
    return LoginRefusal(
        "passcode_platform_window_over",
        "A3",
        _(
            "Your temporary passcode no longer gives access to the trading platform. Log in to Account Management "
            "with it to print and activate your online security card, then use the card to log in."
        ),
        403,
        HELP_ANCHORS[9],
        ends_login=True,
    )


def passcode_expired() -> LoginRefusal:
    return LoginRefusal(
        "passcode_expired",
        "A7",
        _(
            "Your temporary passcode has expired. Please call your regional Customer Service Center: after "
            "verifying your identity we can help you log in again."
        ),
        403,
        HELP_ANCHORS[6],
        ends_login=True,
    )


def card_expired() -> LoginRefusal:
    return LoginRefusal(
        "card_expired",
        "A4",
        _(
            "Your online security card has expired. Please call your regional Customer Service Center, and be "
            "ready to tell us the status of your permanent security device."
        ),
        403,
        HELP_ANCHORS[7],
        ends_login=True,
    )


def account_closed() -> LoginRefusal:
    return LoginRefusal(
        "account_closed",
        "A8",
        _(
            "Your account is closed, so it has no access to the trading platform. You can still log in to "
            "Account Management to view and print your statements and tax forms."
        ),
        403,
        ends_login=True,
    )


def device_needed() -> LoginRefusal:
    """The password matched, but the client's device is no longer usable
    (reported lost, stolen, damaged or unavailable, or returned) and no
    temporary passcode stands in for it: only a call can help (s144, T4)."""
    return LoginRefusal(
        "device_needed",
        "D5",
        _(
            "Your security device is no longer active, so you cannot log in with your password alone. Call your "
            "regional Customer Service Center: after verifying your identity we will give you a temporary passcode."
        ),
        403,
        HELP_ANCHORS[5],
        ends_login=True,
    )


def device_changed() -> LoginRefusal:
    """A permanent device stopped verifying (reported, revoked, replaced: D5)."""
    return LoginRefusal(
        "session_ended",
        "D5",
        _("Your security device changed, so your session has ended. Please log in again."),
        401,
        HELP_ANCHORS[5],
        ends_login=True,
    )


def session_ended(rule: str, message) -> LoginRefusal:
    """The platform's session ended with its credential's window (A3, A4, A6)."""
    return LoginRefusal("session_ended", rule, message, 401, ends_login=True)


def credential_replaced() -> LoginRefusal:
    return LoginRefusal(
        "credential_replaced",
        "A6",
        _(
            "Your permanent security device was activated, so your temporary passcode and online card no longer "
            "work. Log in with your security device."
        ),
        403,
        HELP_ANCHORS[10],
        ends_login=True,
    )


def passcode_ended_by_card() -> LoginRefusal:
    """C3: the online card was activated, which ended the temporary passcode."""
    return LoginRefusal(
        "credential_replaced",
        "C3",
        _(
            "Your online security card is now active, so your temporary passcode no longer works. Log in with "
            "the codes of your online card."
        ),
        403,
        HELP_ANCHORS[4],
        ends_login=True,
    )
