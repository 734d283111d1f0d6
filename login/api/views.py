"""The API's views: parse, call one flow function, answer JSON.

POST /api/platform/login          step 1 (flows.password_step)
POST /api/platform/login/verify   step 2 (flows.code_step)
GET  /api/platform/session        the bearer's session, derived now
POST /api/platform/logout         ends it (204)
GET  /api/platform/openapi.json   the OpenAPI 3.1 description (docs/openapi.json)

No cookies and no CSRF (the platform holds a bearer token, never a cookie).
"""

from __future__ import annotations

from functools import cache, wraps
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from audit import trail
from devices.factors import PLATFORM
from help import refusals
from help.refusals import LoginRefusal

from .. import flows
from . import errors, parsing, platform

OPENAPI_FILE = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def _methods(*allowed: str):
    """Only these methods; any other gets a 405 in the API's shape, with Allow."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if request.method not in allowed:
                return errors.error(
                    errors.method_not_allowed(request.method or ""), headers={"Allow": ", ".join(allowed)}
                )
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapped)

    return decorator


# Step 1's refusals given only after the password matched.
AFTER_PASSWORD = {"account_closed", "device_needed"}


def _ok(payload: dict) -> JsonResponse:
    return JsonResponse(payload, status=200)


@sensitive_variables("data", "answer")
@_methods("POST")
def login(request: HttpRequest) -> HttpResponse:
    """Step 1: username and password; a challenge, or a session (unenrolled)."""
    now = timezone.now()
    try:
        data = parsing.fields(request, required=("username", "password"))
    except parsing.Malformed as bad:
        return errors.error(bad.refusal, status=bad.status)
    opener = platform.ApiOpener(request, now)
    try:
        answer = flows.password_step(
            data["username"],
            data["password"],
            opener=opener,
            ip=trail.client_ip(request),
            channel=PLATFORM,
            now=now,
            request=request,
        )
    except LoginRefusal as refusal:
        # The client is known only once the password matched (A8, D5); else
        # every region's numbers, so nothing tells whether the username exists.
        client = opener.client
        if client is None and refusal.code in AFTER_PASSWORD:
            client = platform.client_of(data["username"])
        return errors.error(refusal, client=client)
    return _ok(answer)


@sensitive_variables("data", "answer")
@_methods("POST")
def verify(request: HttpRequest) -> HttpResponse:
    """Step 2: the login token and the code; a session."""
    now = timezone.now()
    try:
        data = parsing.fields(request, required=("login_token", "code"), optional=("factor",))
    except parsing.Malformed as bad:
        return errors.error(bad.refusal, status=bad.status)
    pending = flows.load_pending(data["login_token"], now)
    if pending is None:
        return errors.error(refusals.login_token_invalid())
    index = platform.chosen_offer(pending, data["code"], data.get("factor"))
    if index is None:
        # Named a factor not offered: no attempt, the token is not spent.
        bad = parsing.not_offered(platform.challenges(pending)["accepts"])
        return errors.error(bad.refusal, client=pending.user.client)
    try:
        answer = flows.code_step(
            pending,
            index,
            data["code"],
            opener=platform.ApiOpener(request, now),
            ip=trail.client_ip(request),
            channel=PLATFORM,
            now=now,
            request=request,
        )
    except LoginRefusal as refusal:
        platform.spend(pending, now)
        return errors.error(refusal, client=pending.user.client)
    return _ok(answer)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="trading-platform"'}


def _session_of(request: HttpRequest):
    return platform.find(parsing.bearer(request))


@_methods("GET")
def session(request: HttpRequest) -> HttpResponse:
    """The bearer's session as it stands now (principle 2), or 401."""
    found = _session_of(request)
    if found is None:
        return errors.error(errors.session_ended(), headers=_CHALLENGE)
    state = platform.current(found, timezone.now())
    if isinstance(state, LoginRefusal):
        return errors.error(state, client=found.user.client, headers=_CHALLENGE)
    return _ok({"status": "ok", "session": state})


@_methods("POST")
def logout(request: HttpRequest) -> HttpResponse:
    """Ends the bearer's session: 204, also for one already ended."""
    found = _session_of(request)
    if found is None:
        return errors.error(errors.session_ended(), headers=_CHALLENGE)
    platform.end(found, timezone.now(), request)
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


@cache
def _openapi() -> bytes:
    return OPENAPI_FILE.read_bytes()


@_methods("GET")
def openapi(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 description of this API, as kept in the repository."""
    return HttpResponse(_openapi(), content_type="application/json")


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return errors.error(errors.not_found())
