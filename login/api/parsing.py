"""Reading the API's JSON requests, or saying exactly what is wrong (400
`malformed`, 413 for a body over SLS API_BODY_MAX_BYTES, 415 for a body
that is not declared JSON in UTF-8). A request refused here is no login
attempt: nothing is counted or stored, and a login token is not spent."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from help import refusals
from help.refusals import LoginRefusal

JSON = "application/json"
_UTF8 = ("utf-8", "utf8")


class Malformed(Exception):
    """The request cannot be read; `refusal` says why, `status` with what."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.refusal: LoginRefusal = refusals.malformed(message)
        self.status = status


def _name(field: str) -> str:
    return field[:64]


def _body(request: HttpRequest) -> bytes:
    declared = (request.content_type or "").strip().lower()
    charset = (request.content_params or {}).get("charset", "utf-8").strip().lower()
    if declared != JSON or charset not in _UTF8:
        raise Malformed(
            _("The request body must be JSON in UTF-8, sent with the header “Content-Type: application/json”."), 415
        )
    limit = settings.SLS["API_BODY_MAX_BYTES"]
    too_large = _("The request body is larger than %(limit)d bytes.") % {"limit": limit}
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared_length = 0
    if declared_length > limit:
        raise Malformed(too_large, 413)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise Malformed(too_large, 413)
    return raw


def _valid_text(value: str) -> bool:
    """A string of Unicode characters (JSON's \\ud800 escapes are not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fields(request: HttpRequest, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
    """The request's JSON object: every required field and any optional
    one, each a non-empty string of at most SLS INPUT_MAX_LENGTH
    characters, and nothing else."""
    raw = _body(request)
    not_json = _("The request body is not valid JSON in UTF-8.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed(not_json) from None
    if not isinstance(data, dict):
        raise Malformed(_("The request body must be a JSON object."))
    for key in data:
        if key not in required and key not in optional:
            raise Malformed(_("The field “%(field)s” is not part of this request.") % {"field": _name(key)})
    limit = settings.SLS["INPUT_MAX_LENGTH"]
    found: dict[str, str] = {}
    for field in (*required, *optional):
        if field not in data:
            if field in required:
                raise Malformed(_("The field “%(field)s” is missing.") % {"field": field})
            continue
        value = data[field]
        if not isinstance(value, str):
            raise Malformed(_("The field “%(field)s” must be a string.") % {"field": field})
        if not value:
            raise Malformed(_("The field “%(field)s” is empty.") % {"field": field})
        if len(value) > limit:
            raise Malformed(
                _("The field “%(field)s” is longer than %(limit)d characters.") % {"field": field, "limit": limit}
            )
        if not _valid_text(value):
            raise Malformed(not_json)
        found[field] = value
    return found


def not_offered(accepts: list[str]) -> Malformed:
    return Malformed(
        _("The field “factor” must be one of the values in “accepts”: %(accepts)s.") % {"accepts": ", ".join(accepts)}
    )


def bearer(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _space, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > settings.SLS["INPUT_MAX_LENGTH"]:
        return None
    return token if _valid_text(token) else None
