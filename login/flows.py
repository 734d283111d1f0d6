"""The two login steps (L1-L4), one flow for the web pages and the platform API.

Each step owns its transactions: the caller parses its input, calls one
function, and renders what comes back. What opens the login (a web session
now, the platform API's token later) is the caller's `Opener`, called
inside the step's final transaction so that what it writes commits with the
answer. A refusal is raised as a LoginRefusal (help/refusals.py), after the
transaction that recorded it has committed.

Step 1 checks the username's characters (L1), reserves a place under the
L3 limit, then checks the password (L2). Step 2 answers one of the factors
offered to the username (devices.factors), against the challenge kept
with the pending login; the challenges are consumed by the attempt,
whatever its outcome, so new ones are asked next. Both steps write an
audit event for their decision (SECURITY.md 20).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import User, has_bad_character
from audit import trail
from devices.factors import SecondFactor, load_factor, offered_to, presented
from devices.models import password_alone_allowed
from help import refusals

from . import lockout, scopes, statements
from .models import LoginAttempt, PendingLogin

Step = LoginAttempt.Step

# L2 (ours): an unknown username costs one hash too, against this one, so
# the answer takes as long as for a wrong password. Made when the app
# starts (LoginConfig.ready), not by the first unknown username a worker sees.
_dummy_hash: str | None = None


def make_dummy_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = make_password(secrets.token_urlsafe(16))
    return _dummy_hash


class Opener(Protocol):
    """What opens a login for the caller (the web's session, the API's token).

    Both methods run inside the step's final transaction."""

    def second_factor_needed(self, pending: PendingLogin, token: str) -> Any:
        """Step 1 passed and step 2 must follow: keep `token`, which finds `pending`."""

    def logged_in(self, user: User, factor: SecondFactor | None) -> Any:
        """The login is complete (factor None: the password alone). The scope
        it opens with is `user.login_scope` (login.scopes.login_scope: A8
        narrows a closed account's login to its statements)."""

    def already_logged_in(self) -> Any:
        """Step 2 was answered twice at once and the twin completed the login:
        this answer is no attempt at all (nothing is counted or written)."""


@dataclass(frozen=True)
class Offer:
    """One factor offered at step 2, with the challenge it was asked."""

    index: int
    factor: SecondFactor


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_length(value: str, what: str) -> None:
    if len(value) > settings.SLS["INPUT_MAX_LENGTH"]:
        raise refusals.malformed(what)


def _user_for_login(username: str) -> User | None:
    return statements.user_for_login(username)


def password_step(
    username: str, password: str, *, opener: Opener, ip: str | None, channel: str, now: datetime, request=None
):
    """Step 1. Returns what the opener returns; raises LoginRefusal."""
    if has_bad_character(username):
        raise refusals.bad_character()
    _check_length(password, str(refusals.invalid_credentials().message))
    if len(username) > settings.SLS["USERNAME_MAX_LENGTH"]:
        # No such username can exist; nothing is stored for it.
        raise refusals.invalid_credentials()
    reservation = lockout.reserve(username, step=Step.PASSWORD, ip=ip, channel=channel, now=now, throttle_address=True)
    # The channel is in every event, so the client's own activity can say where an attempt came from.
    where = {"channel": channel}
    if reservation.throttled:
        trail.record(
            "login.password", request=request, username=username, outcome="rate_limited", rule="SEC7", details=where
        )
        raise refusals.rate_limited()
    if reservation.refused:
        trail.record("login.password", request=request, username=username, outcome="locked", rule="L3", details=where)
        raise refusals.locked_out(reservation.locked_until)

    user = _user_for_login(username)
    if user is not None and user.client_id is not None:
        password_ok = check_password(password, user.password)
    else:
        check_password(password, make_dummy_hash())
        password_ok = False

    # Everything the answer writes commits at once, the opener's session included.
    with transaction.atomic():
        outcome = _after_password(user if password_ok else None, username, reservation, opener, channel, now, request)
    if isinstance(outcome, refusals.LoginRefusal):
        raise outcome
    return outcome


def _after_password(user, username, reservation, opener, channel, now, request):
    if user is None:
        locked_until = lockout.resolve_failure(reservation, now)
        trail.record(
            "login.password",
            request=request,
            username=username,
            outcome="failed",
            rule="L2",
            details=_failure_details(channel, locked_until),
        )
        # Even the failure that locks says only this: the password step's
        # answer must be the same whatever the username or password (L2).
        return refusals.invalid_credentials()

    factors = offered_to(user, now)
    if not factors and not password_alone_allowed(user.client_id, now):
        # The device was reported or returned, and no passcode stands in for
        # it: refused after the right password, and not counted (D5).
        lockout.resolve_step_passed(reservation, now)
        refusal = refusals.device_needed()
        trail.record(
            "login.password",
            request=request,
            client_id=user.client_id,
            username=username,
            outcome="refused",
            rule=refusal.rule,
        )
        return refusal
    if not factors:
        # No factor to ask (unenrolled, or a closed account whose device
        # was returned, A8): the password completes the login.
        lockout.resolve_success(reservation, now)
        user.login_scope = scopes.login_scope(user, None, now)
        trail.record(
            "login",
            request=request,
            client_id=user.client_id,
            username=username,
            details={"scope": user.login_scope, "channel": channel},
        )
        return opener.logged_in(user, None)

    lockout.resolve_step_passed(reservation, now)
    token = secrets.token_urlsafe(32)
    pending = statements.insert(
        PendingLogin(
            user=user,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + settings.SLS["LOGIN_TOKEN_TTL"],
            offers=[{"device": factor.persistent_id, "challenge": factor.generate_challenge()} for factor in factors],
        )
    )
    trail.record("login.password", request=request, client_id=user.client_id, username=username, outcome="passed")
    return opener.second_factor_needed(pending, token)


def load_pending(token: str | None, now: datetime) -> PendingLogin | None:
    """The live pending login of this token, with its user."""
    if not isinstance(token, str) or not token:
        return None
    pending = statements.pending_with_user(token_hash(token))
    return pending if pending is not None and pending.is_live(now) else None


def offers(pending: PendingLogin) -> list[Offer]:
    """The factors step 2 offers, each holding the challenge it was asked,
    as the page shows them (no query); answering loads the one answered."""
    shown = []
    for index, offer in enumerate(pending.offers):
        factor = presented(offer["device"], offer["challenge"])
        if factor is not None:
            shown.append(Offer(index, factor))
    return shown


def code_step(
    pending: PendingLogin | str | None,
    factor_index: int,
    code: str,
    *,
    opener: Opener,
    ip: str | None,
    channel: str,
    now: datetime,
    request=None,
):
    """Step 2: answer the offered factor number `factor_index` with `code`.

    `pending` is the pending login (from load_pending) or its token.
    Returns what the opener returns; raises LoginRefusal."""
    if not isinstance(pending, PendingLogin):
        pending = load_pending(pending, now)
    if pending is None or not pending.is_live(now):
        raise refusals.login_token_invalid()
    if not 0 <= factor_index < len(pending.offers):
        raise refusals.malformed(str(refusals.login_failed().message))
    _check_length(code, str(refusals.login_failed().message))
    code = code.strip()  # L4 (ours): whitespace around a paste is not the client's

    # No hash at this step: the whole attempt is one transaction, holding the
    # username's guard row from reservation to resolution.
    with transaction.atomic():
        outcome = _answer(pending, factor_index, code, opener, ip, channel, now, request)
    if isinstance(outcome, refusals.LoginRefusal):
        raise outcome
    return outcome


def _answer(pending, factor_index, code, opener, ip, channel, now, request):
    user = pending.user
    reservation = lockout.reserve(user.username, step=Step.CODE, ip=ip, channel=channel, now=now, held=True)
    if reservation.refused:
        PendingLogin.objects.filter(pk=pending.pk).update(finished_at=now)
        trail.record(
            "login.code",
            request=request,
            client_id=user.client_id,
            username=user.username,
            outcome="locked",
            rule="L3",
            details={"channel": channel},
        )
        return refusals.locked_out(reservation.locked_until)

    offer = pending.offers[factor_index]
    factor = load_factor(offer["device"], for_verify=True)
    hint = factor.format_hint(code) if factor is not None else ""
    throttled_until = factor.throttled_until() if factor is not None and not hint else None
    ok = False
    if factor is not None and not hint and throttled_until is None:
        factor.challenge = offer["challenge"]
        ok = factor.verify_token(code)

    # The challenges change after every attempt: consume these atomically,
    # so two requests cannot both answer them.
    fresh = [dict(entry, challenge=_next_challenge(entry, factor)) for entry in pending.offers]
    consumed = statements.consume(pending, offers=fresh, finished_at=now if ok else None)

    if not consumed and PendingLogin.objects.filter(pk=pending.pk, finished_at__isnull=False).exists():
        # A double-clicked answer: the other request finished this login
        # (and reset the count). This one writes nothing and counts nothing.
        return opener.already_logged_in()

    if not (ok and consumed):
        rule = "L4" if hint else "L2"
        locked_until = lockout.resolve_failure(reservation, now)
        details = _failure_details(channel, locked_until)
        if throttled_until:
            details["throttled_until"] = throttled_until.isoformat()
        trail.record(
            "login.code",
            request=request,
            client_id=user.client_id,
            username=user.username,
            outcome="failed",
            rule=rule,
            details=details,
        )
        if locked_until:
            # L3: the tenth failure says at once that the username is locked.
            PendingLogin.objects.filter(pk=pending.pk).update(finished_at=now)
            return refusals.locked_out(locked_until)
        return refusals.login_failed(hint, rule=rule, retry_at=throttled_until)

    # A9: the code matched, but the factor's window may open nothing on this
    # channel now (A3, A4, A7). Not a failure (API.md): nothing is counted,
    # and the count is not reset either; the login is over.
    window = factor.window_refusal(now, channel)
    if window is not None:
        lockout.resolve_step_passed(reservation, now)
        trail.record(
            "login.code",
            request=request,
            client_id=user.client_id,
            username=user.username,
            outcome="refused",
            rule=window.rule,
            details={"channel": channel, "code": window.code, **factor.audit_details()},
        )
        return window

    lockout.resolve_success(reservation, now)
    user.login_scope = scopes.login_scope(user, factor, now)
    trail.record(
        "login",
        request=request,
        client_id=user.client_id,
        username=user.username,
        details={"scope": user.login_scope, "channel": channel, **factor.audit_details()},
    )
    return opener.logged_in(user, factor)


def _failure_details(channel: str, locked_until: datetime | None) -> dict:
    """A failed attempt's event: where it came from, and the lock it started (L3)."""
    details = {"channel": channel}
    if locked_until is not None:
        details["locked_until"] = locked_until.isoformat()
    return details


def _next_challenge(entry: dict, answered: SecondFactor | None) -> dict:
    """A new challenge for an offered factor. What a kind asks depends only
    on its class (the contract), so the factors not answered are not loaded."""
    if answered is not None and answered.persistent_id == entry["device"]:
        return answered.generate_challenge()
    factor = presented(entry["device"], {})
    return factor.generate_challenge() if factor is not None else {}


def record_last_login(sender, user, **kwargs) -> None:
    """django.contrib.auth's update_last_login, as one UPDATE of one column.

    last_login also invalidates the password-reset links made before it."""
    user.last_login = timezone.now()
    statements.update(type(user), user.pk, last_login=user.last_login)
