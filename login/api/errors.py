"""The API's errors in API.md's shape, never an HTML page.

    {"error": {"code", "rule", "message", "help_url", "contact", ["hint"],
               ["unlocks_at"], ["retry_at"]}}

`message` is in the request's language (Accept-Language, through
LocaleMiddleware); `rule` is null where the refusal names no rule;
`contact` holds the client's regional numbers once the request has proven
who it is (the password matched: a live login token, a bearer token, or
A8 at step 1), and every region's otherwise, so that an error never tells
whether a username exists (SECURITY.md 6).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

from help import refusals, regions
from help.refusals import LoginRefusal


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC, to the second (rounded down), with a Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def contact(client=None) -> list[dict]:
    """The numbers to call: the client's region's, or every region's."""
    chosen = regions.all_regions()
    if client is not None:
        with suppress(ValueError):  # a country no region serves yet: every number
            chosen = [client.region]
    entries = []
    for region in chosen:
        for phone in region.phones:
            entry = {"region": str(region.name), "phone": phone.number}
            if phone.note:
                entry["note"] = str(phone.note)
            entries.append(entry)
    return entries


def error(refusal: LoginRefusal, *, client=None, status: int | None = None, headers=None) -> JsonResponse:
    body = {
        "code": refusal.code,
        "rule": refusal.rule or None,
        "message": str(refusal.message),
        "help_url": refusal.help_url,
        "contact": contact(client),
    }
    if refusal.hint:
        body["hint"] = str(refusal.hint)
    for name in ("unlocks_at", "retry_at"):
        moment = refusal.extra.get(name)
        if moment is not None:
            body[name] = iso(moment)
    return JsonResponse({"error": body}, status=status or refusal.status, headers=headers)


# --- The API's own errors, where API.md's table has no row (docs/api.md) ------


def not_found() -> LoginRefusal:
    return LoginRefusal("not_found", "", _("There is no such address in the trading-platform login API."), 404)


def method_not_allowed(method: str) -> LoginRefusal:
    # The Allow header lists the methods it takes.
    return LoginRefusal(
        "method_not_allowed", "", _("This address does not take %(method)s requests.") % {"method": method[:16]}, 405
    )


def internal_error() -> LoginRefusal:
    return LoginRefusal(
        "internal_error",
        "",
        _(
            "Something went wrong on our side. Please try again in a few minutes; if it keeps happening, call "
            "your regional Customer Service Center."
        ),
        500,
    )


def session_ended(rule: str = "", message=None, help_anchor: str = "") -> LoginRefusal:
    """401: no session, an unknown or logged-out token, or a session whose
    lifetime or credential's window ended (rule names which)."""
    refusal = refusals.session_ended(rule, message or _("Your session has ended. Please log in again."))
    refusal.help_anchor = help_anchor
    return refusal


def for_status(status: int, method: str) -> LoginRefusal:
    """An error of this status in API.md's shape, for an answer under /api/
    that was not the API's own (Django's 400 for a bad Host header, a 500)."""
    if status == 404:
        return not_found()
    if status == 405:
        return method_not_allowed(method)
    if status >= 500:
        return internal_error()
    return refusals.malformed(str(_("The request could not be read.")))
