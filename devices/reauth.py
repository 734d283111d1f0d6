"""SECURITY.md 15: confirm the session's second factor again before a sensitive change.

The factor asked is the one that verified this login (`request.user.otp_device`,
set by django-otp), never one named by the request. Its challenge is kept in
the session for one answer; a success leaves in the session the instant of
the confirmation (accounts.access.FRESH_FACTOR_AT), which the changes' views
accept for SLS["FRESH_FACTOR_VALID"]. Failures count in the device's own
throttling (django-otp's ThrottlingMixin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest

from accounts import access
from audit import trail

from .factors import SecondFactor, load_factor

CHALLENGE = "sls_reconfirm_challenge"


def session_factor(request: HttpRequest) -> SecondFactor | None:
    device = getattr(request.user, "otp_device", None)
    return device if isinstance(device, SecondFactor) else None


def new_challenge(request: HttpRequest) -> SecondFactor | None:
    """Ask the session's factor anew; the challenge waits in the session for one answer."""
    factor = session_factor(request)
    if factor is None:
        return None
    factor.challenge = factor.generate_challenge()
    request.session[CHALLENGE] = {"device": factor.persistent_id, "challenge": factor.challenge}
    return factor


def asked(request: HttpRequest) -> SecondFactor | None:
    """The session's factor with the challenge the page showed, or None (none asked)."""
    factor = session_factor(request)
    state = request.session.get(CHALLENGE)
    if factor is None or not isinstance(state, dict) or state.get("device") != factor.persistent_id:
        return None
    factor.challenge = state.get("challenge") or {}
    return factor


@dataclass(frozen=True)
class Outcome:
    ok: bool
    hint: str = ""
    throttled_until: datetime | None = None


def answer(request: HttpRequest, token: str, *, now: datetime) -> Outcome:
    """Check the answer to the asked challenge; the challenge is used up either way."""
    state = request.session.pop(CHALLENGE, None) or {}
    factor = session_factor(request)
    if factor is None or state.get("device") != factor.persistent_id:
        return Outcome(False)
    with transaction.atomic():
        locked = load_factor(factor.persistent_id, for_verify=True)
        if locked is None:
            return Outcome(False)
        locked.challenge = state.get("challenge") or {}
        token = token.strip()
        hint = locked.format_hint(token)
        throttled_until = locked.throttled_until() if not hint else None
        ok = not hint and throttled_until is None and locked.verify_token(token)
        trail.record(
            "factor.reconfirm",
            request=request,
            client=request.user.client,
            username=request.user.username,
            outcome="passed" if ok else "failed",
            details=locked.audit_details(),
            at=now,
        )
    if ok:
        access.mark_fresh_factor(request, now)
    return Outcome(ok, hint, throttled_until)
