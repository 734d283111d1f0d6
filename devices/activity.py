"""The client's own security activity (issue item 8): what a careful client
checks after a scare, on the Secure Login System page.

Read from the audit trail and worded here, in one place, in the client's
words: no rule IDs, no agents' names. A username sees its own events (its
logins, failures, locks) and the events of its client that name no username
(a device reported, ordered, a temporary passcode issued), never another
client's: every event read belongs to this client or names this username
with no client at all (a failed password records none, SECURITY.md 6).
The period and the number of entries are capped (SLS); two queries.

The events are those of the apps above this one, named here by their
action strings (this app imports none of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent

from .factors import PLATFORM, WEB
from .models import DeviceStatus, DeviceType, SecurityDevice

# The actions worded here (recorded by login, agents, passcodes and this app).
LOGIN = "login"
PASSWORD_STEP = "login.password"
CODE_STEP = "login.code"
UNLOCKED = "lockout.unlock"
LOCK_LIFTED = "lockout.lifted"
PASSWORD_CHANGED = "password.reset"
SESSIONS_ENDED = "sessions.end_all"
PASSCODE_ISSUED = "passcode.issued"
PASSCODE_REVOKED = "passcode.revoked"
CARD_PRINTED = "online_card.printed"
CARD_ACTIVATED = "online_card.activated"
DEVICE_ISSUED = "device.issue"
DEVICE_REPORTED = "device.report"
ORDER_PLACED = "device.order.placed"
ORDER_SHIPPED = "device.order.shipped"
DEVICE_ACTIVATED = "device.activated"
ACTIVATION_FAILED = "device.activation.failed"
MOBILE_ACTIVATED = "device.mobile.activated"

WORDED = (
    LOGIN,
    PASSWORD_STEP,
    CODE_STEP,
    UNLOCKED,
    LOCK_LIFTED,
    PASSWORD_CHANGED,
    SESSIONS_ENDED,
    PASSCODE_ISSUED,
    PASSCODE_REVOKED,
    CARD_PRINTED,
    CARD_ACTIVATED,
    DEVICE_ISSUED,
    DEVICE_REPORTED,
    ORDER_PLACED,
    ORDER_SHIPPED,
    DEVICE_ACTIVATED,
    ACTIVATION_FAILED,
    MOBILE_ACTIVATED,
)


@dataclass(frozen=True)
class Activity:
    """One line of the client's activity."""

    at: datetime
    what: str
    channel: str = ""
    address: str = ""
    # A failure or a lock: what to look at twice.
    attention: bool = False


@dataclass(frozen=True)
class RecentActivity:
    """What the Secure Login System page shows: the entries, over how many days, in which zone."""

    entries: list[Activity]
    days: int
    zone: str


def for_page(user, now: datetime) -> RecentActivity:
    return RecentActivity(
        entries=recent_activity(user, now),
        days=settings.SLS["SECURITY_ACTIVITY_PERIOD"].days,
        zone=user.client.time_zone if user.client_id else "UTC",
    )


def recent_activity(user, now: datetime) -> list[Activity]:
    """The username's security activity, newest first: the period and count
    of SLS["SECURITY_ACTIVITY_PERIOD"] and SLS["SECURITY_ACTIVITY_ENTRIES"]."""
    if user.client_id is None:
        return []
    since = now - settings.SLS["SECURITY_ACTIVITY_PERIOD"]
    own = Q(username=user.username) & (Q(client_id=user.client_id) | Q(client_id__isnull=True))
    client_wide = Q(client_id=user.client_id, username="")
    events = list(
        AuditEvent.objects.filter(own | client_wide, action__in=WORDED, at__gte=since, at__lte=now)
        .exclude(action=PASSWORD_STEP, outcome="passed")  # the password was right; the login follows
        .order_by("-at", "-pk")[: settings.SLS["SECURITY_ACTIVITY_ENTRIES"]]
    )
    serials = {event.details.get("device") for event in events if event.action == LOGIN} - {None, ""}
    kinds = (
        dict(SecurityDevice.objects.filter(client_id=user.client_id, serial__in=serials).values_list("serial", "type"))
        if serials
        else {}
    )
    found = [_worded(event, kinds) for event in events]
    return [activity for activity in found if activity is not None]


def _channel(details: dict) -> str:
    return {WEB: _("website"), PLATFORM: _("trading platform")}.get(details.get("channel", ""), "")


def _credential(details: dict, kinds: dict[str, str]) -> str:
    factor = details.get("factor")
    if factor == "temporary_passcode":
        return _("a temporary passcode")
    if factor == "online_card":
        return _("your online security card")
    if factor == "device":
        kind = kinds.get(details.get("device", ""))
        return DeviceType(kind).label if kind in DeviceType.values else _("your security device")
    return _("your password only")


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _locked_sentence(details: dict) -> str:
    until = _when(details.get("locked_until"))
    if until is None:
        return ""
    local = timezone.localtime(until)  # the client's zone, activated for the request
    return " " + _("Your username was locked until %(when)s.") % {"when": f"{local:%Y-%m-%d %H:%M}"}


_REFUSED_BECAUSE = {
    "passcode_platform_window_over": lambda: _("your temporary passcode no longer opens the trading platform"),
    "passcode_expired": lambda: _("your temporary passcode had expired"),
    "card_expired": lambda: _("your online security card had expired"),
    "account_closed": lambda: _("your account is closed"),
}


def _worded(event: AuditEvent, kinds: dict[str, str]) -> Activity | None:
    details = event.details or {}
    action, outcome = event.action, event.outcome
    channel = _channel(details)
    address = event.ip or ""

    def line(what: str, *, attention: bool = False) -> Activity:
        return Activity(at=event.at, what=what, channel=channel, address=address, attention=attention)

    if action == LOGIN:
        return line(_("Logged in with %(credential)s") % {"credential": _credential(details, kinds)})
    if action in (PASSWORD_STEP, CODE_STEP):
        if outcome == "locked":
            return line(_("Login refused: your username was locked"), attention=True)
        if outcome == "rate_limited":
            return line(_("Login refused: too many attempts from the same address"), attention=True)
        if outcome == "refused":
            because = _REFUSED_BECAUSE.get(details.get("code", ""))
            reason = because() if because else _("that security code no longer gives access")
            return line(_("Login refused after the right code: %(reason)s") % {"reason": reason}, attention=True)
        if action == PASSWORD_STEP:
            what = _("Failed login: wrong username or password.")
        elif event.rule == "L4":
            what = _("Failed login: the security code was typed in the wrong format.")
        else:
            what = _("Failed login: wrong security code.")
        return line(what + _locked_sentence(details), attention=True)
    if action == UNLOCKED:
        return line(_("Customer Service unlocked your username"))
    if action == LOCK_LIFTED:
        return line(_("The lock on your username ended"))
    if action == PASSWORD_CHANGED:
        return line(_("Your password was changed"))
    if action == SESSIONS_ENDED:
        return line(_("Customer Service logged out all your sessions"))
    if action == PASSCODE_ISSUED:
        usernames = [str(name) for name in details.get("usernames", [])]
        return line(
            ngettext(
                "Customer Service issued a temporary passcode for username %(usernames)s",
                "Customer Service issued a temporary passcode for usernames %(usernames)s",
                len(usernames),
            )
            % {"usernames": ", ".join(usernames)}
        )
    if action == PASSCODE_REVOKED:
        return line(_("Customer Service ended your temporary passcode"))
    if action == CARD_PRINTED:
        return line(_("Online security card printed or saved"))
    if action == CARD_ACTIVATED:
        return line(_("Online security card activated"))
    if action == DEVICE_ISSUED:
        return line(_("A new %(device)s was issued to you") % {"device": _type_label(details)})
    if action == DEVICE_REPORTED:
        status = details.get("status", "")
        said = DeviceStatus(status).label if status in DeviceStatus.values else status
        return line(
            _("Your %(device)s %(serial)s: %(status)s")
            % {"device": _type_label(details), "serial": details.get("serial", ""), "status": said},
            attention=True,
        )
    if action == ORDER_PLACED:
        return line(_("A new %(device)s was ordered for you") % {"device": _type_label(details)})
    if action == ORDER_SHIPPED:
        return line(_("Your new security device was shipped"))
    if action == DEVICE_ACTIVATED:
        return line(_("Security device %(serial)s activated") % {"serial": details.get("serial", "")})
    if action == ACTIVATION_FAILED:
        return line(
            _("Failed attempt to activate security device %(serial)s") % {"serial": details.get("serial", "")},
            attention=True,
        )
    if action == MOBILE_ACTIVATED:
        return line(_("Mobile authenticator activated"))
    return None


def _type_label(details: dict) -> str:
    kind = details.get("type", "")
    return DeviceType(kind).label if kind in DeviceType.values else _("security device")
