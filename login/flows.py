"""The two login steps (L1-L4), shared by the web pages and the platform API.

Step 1 checks the username's characters (L1), reserves a place under the
L3 limit, then checks the password (L2). Step 2 checks the device's code
against the challenge stored with the pending login; the challenge is
consumed by the attempt, whatever its outcome, so a new one is asked next.
Both steps write an audit event for their decision (SECURITY.md 20).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.models import User, has_bad_character
from audit import trail
from devices.models import DeviceBinding, new_challenge
from help import refusals
from login.compiled import CompiledQuery, FixedUpdate, deferred_writes, insert
from login.models import LoginAttempt, PendingLogin

from . import lockout

Step = LoginAttempt.Step

# L2 (ours): an unknown username costs one hash too, against this, so the
# answer takes as long as for a wrong password.
_DUMMY_HASH = SimpleLazyObject(lambda: make_password(secrets.token_urlsafe(16)))


def _user_for_login(username: str):
    """The user and, in the same query, the device binding step 2 will ask for."""
    usable = DeviceBinding.objects.usable().filter(user=OuterRef("pk")).order_by("pk")
    return (
        User.objects.filter(username=username, is_active=True)
        .select_related("client")
        .annotate(
            binding_id=Subquery(usable.values("pk")[:1]),
            device_type=Subquery(usable.values("security_device__type")[:1]),
        )
    )


def _pending_login(token_hash: str):
    return PendingLogin.objects.select_related("user__client", "binding__security_device").filter(token_hash=token_hash)


# The two queries every login makes, compiled once (login.compiled).
_USER_FOR_LOGIN = CompiledQuery(_user_for_login, username=str)
_PENDING_LOGIN = CompiledQuery(_pending_login, token_hash=str)
# Step 2 consumes the challenge it answers: only the attempt whose UPDATE
# finds the serial unchanged (and the login unfinished) owns it.
_CONSUME = FixedUpdate(
    PendingLogin,
    set=["challenge", "challenge_serial", "finished_at"],
    where=["pk", "challenge_serial", "finished_at__isnull"],
)

_LAST_LOGIN = FixedUpdate(User, set=["last_login"], where=["pk"])


def record_last_login(sender, user, **kwargs) -> None:
    """django.contrib.auth's update_last_login, as one fixed UPDATE.

    last_login also invalidates the password-reset links made before it."""
    user.last_login = timezone.now()
    _LAST_LOGIN.run(last_login=user.last_login, where_pk=user.pk, defer=True)


@dataclass(frozen=True)
class StepOne:
    user: User
    pending: PendingLogin | None  # None: no device to ask for (unenrolled)
    # The opaque token that finds the pending login at step 2: the web keeps
    # it in the (rotated) session, the platform API hands it to the client.
    token: str | None = None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_length(value: str, what: str) -> None:
    if len(value) > settings.SLS["INPUT_MAX_LENGTH"]:
        raise refusals.malformed(what)


def check_password_step(
    username: str, password: str, *, ip: str | None, channel: str, now: datetime, request=None, then=None
):
    """Step 1. Raises LoginRefusal; returns the user and the pending login.

    `then`, if given, is called with that StepOne inside the transaction
    that records the passed password, so what the caller writes (the web
    session) commits with it; its result is returned instead."""
    if has_bad_character(username):
        raise refusals.bad_character()
    _check_length(password, str(refusals.invalid_credentials().message))
    if len(username) > settings.SLS["USERNAME_MAX_LENGTH"]:
        # No such username can exist; nothing is stored for it.
        raise refusals.invalid_credentials()
    reservation = lockout.reserve(username, step=Step.PASSWORD, ip=ip, channel=channel, now=now, throttle_address=True)
    if reservation.throttled:
        trail.record("login.password", request=request, username=username, outcome="rate_limited")
        raise refusals.rate_limited()
    if reservation.refused:
        trail.record("login.password", request=request, username=username, outcome="locked", rule="L3")
        raise refusals.locked_out(reservation.locked_until)

    user = _USER_FOR_LOGIN.first(username=username)
    if user is not None and user.client_id is not None:
        password_ok = check_password(password, user.password)
    else:
        check_password(password, str(_DUMMY_HASH))
        password_ok = False

    # Everything the answer writes commits at once (one commit, not four).
    with transaction.atomic(), deferred_writes():
        outcome = _after_password(user if password_ok else None, username, reservation, channel, now, request)
        if then is not None and not isinstance(outcome, refusals.LoginRefusal):
            return then(outcome)
    if isinstance(outcome, refusals.LoginRefusal):
        raise outcome
    return outcome


def _after_password(user, username, reservation, channel, now, request) -> StepOne | refusals.LoginRefusal:
    if user is None:
        lockout.resolve_failure(reservation, now)
        trail.record("login.password", request=request, username=username, outcome="failed", rule="L2")
        return refusals.invalid_credentials()

    if user.binding_id is None:
        # Unenrolled (no active device): the password completes the login.
        lockout.resolve_success(reservation, now)
        trail.record("login", request=request, client=user.client, username=username, details={"scope": "unenrolled"})
        return StepOne(user, None)

    lockout.resolve_step_passed(reservation, now)
    token = secrets.token_urlsafe(32)
    pending = PendingLogin(
        user=user,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + settings.SLS["LOGIN_TOKEN_TTL"],
        binding_id=user.binding_id,
        challenge=new_challenge(user.device_type),
    )
    # Found by its token, not its id: nobody reads the INSERT back, so it
    # rides with the session's (one round trip after the hash).
    insert(pending, defer=True)
    trail.record("login.password", request=request, client=user.client, username=username, outcome="passed")
    return StepOne(user, pending, token)


def _format_hint(response: str) -> str:
    """L4: the rule a typed code broke, if any."""
    if any(ch.isspace() for ch in response):
        return str(refusals.HINT_NO_SPACES)
    return ""


def load_pending(token: str | None, now: datetime) -> PendingLogin | None:
    """The live pending login of this token, with its user, client and device."""
    if not isinstance(token, str):
        return None  # none, or a session from before tokens
    pending = _PENDING_LOGIN.first(token_hash=_token_hash(token))
    return pending if pending is not None and pending.is_live(now) else None


def check_code_step(
    pending: PendingLogin | str, response: str, *, ip: str | None, channel: str, now: datetime, request=None
) -> tuple[User, DeviceBinding]:
    """Step 2. Raises LoginRefusal; returns the user and the verifying binding.

    `pending` is a PendingLogin from load_pending(), or its token."""
    if not isinstance(pending, PendingLogin):
        pending = load_pending(pending, now)
    if pending is None or not pending.is_live(now):
        raise refusals.login_token_invalid()
    _check_length(response, str(refusals.login_failed().message))

    # No hash at this step: the whole attempt is one transaction, holding the
    # username's guard row from reservation to resolution (no savepoint when
    # the caller's transaction holds it already: nothing in it raises).
    with transaction.atomic(savepoint=False), deferred_writes():
        outcome = _answer_challenge(pending, response, ip, channel, now, request)
    if isinstance(outcome, refusals.LoginRefusal):
        raise outcome
    return outcome


def _answer_challenge(
    pending, response, ip, channel, now, request
) -> tuple[User, DeviceBinding] | refusals.LoginRefusal:
    user = pending.user
    reservation = lockout.reserve(user.username, step=Step.CODE, ip=ip, channel=channel, now=now, held=True)
    if reservation.refused:
        PendingLogin.objects.filter(pk=pending.pk).update(finished_at=now)
        trail.record(
            "login.code", request=request, client=user.client, username=user.username, outcome="locked", rule="L3"
        )
        return refusals.locked_out(reservation.locked_until)

    challenge = pending.challenge
    binding = pending.binding if pending.binding is not None and pending.binding.is_usable else None
    # The challenge changes after every attempt: consume this one atomically,
    # so two requests cannot both answer it.
    next_challenge = binding.security_device.generate_challenge() if binding else {}
    hint = _format_hint(response)
    answer_ok = binding is not None and not hint and binding.security_device.verify_response(challenge, response)
    consumed = _CONSUME.run(
        challenge=next_challenge,
        challenge_serial=pending.challenge_serial + 1,
        finished_at=now if answer_ok else None,
        where_pk=pending.pk,
        where_challenge_serial=pending.challenge_serial,
    )
    # Only the request whose UPDATE consumed the challenge may succeed.
    ok = bool(consumed) and answer_ok

    if not ok:
        rule = "L4" if hint else "L2"
        lockout.resolve_failure(reservation, now)
        trail.record(
            "login.code", request=request, client=user.client, username=user.username, outcome="failed", rule=rule
        )
        return refusals.login_failed(hint, rule=rule)

    lockout.resolve_success(reservation, now)
    trail.record(
        "login",
        request=request,
        client=user.client,
        username=user.username,
        details={"scope": "full", "device": binding.security_device.serial},
    )
    return user, binding


def current_challenge(token: str | None, now: datetime) -> dict | None:
    pending = load_pending(token, now)
    return pending.challenge if pending else None
