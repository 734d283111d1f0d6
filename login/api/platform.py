"""The platform's side of a login: its opener (login.flows.Opener), its
sessions, and what a session allows now.

A platform session is a bearer token whose SHA-256 is stored
(login.models.PlatformSession) with the username, the verifying factor and
the session's absolute end. What it allows is derived on every request from
that factor and now (principle 2): the factor's `allowance(now)` says the
scope and until when, capped by the session's absolute lifetime
(SLS SESSION_ABSOLUTE); once the factor's window no longer allows the
platform (A3, A4, A6) the session has ended, with the factor's own words.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest

from accounts.access import STATEMENTS_ONLY, UNENROLLED
from accounts.models import User, all_accounts_closed
from audit import trail
from devices.factors import PLATFORM, Allowance, SecondFactor, load_factor, offered_to
from devices.models import password_alone_allowed
from help import refusals
from help.refusals import LoginRefusal

from .. import flows, scopes, statements
from ..models import PendingLogin, PlatformSession
from . import errors

# The session's `via` for a login with the password alone (an unenrolled client).
PASSWORD = "password"


def closed_account_refusal(scope: str | None) -> LoginRefusal | None:
    """A8: the trading platform refuses what a closed account's login opens
    (login.scopes narrows a client whose accounts are all closed to
    STATEMENTS_ONLY). The one place the platform asks it: at login (the
    login's scope) and at every session check."""
    return refusals.account_closed() if scope == STATEMENTS_ONLY else None


def client_of(username: str):
    """The client of a username whose password just matched (its numbers)."""
    user = User.objects.select_related("client").filter(username=username).first()
    return user.client if user is not None else None


class ApiOpener:
    """The platform API's opener of a login (login.flows.Opener): the login
    token at step 1, a platform session at step 2. Runs inside the step's
    final transaction, so the session commits with the answer that opened it."""

    def __init__(self, request: HttpRequest, now: datetime):
        self.request = request
        self.now = now
        # Set once the password matched: whose regional numbers an error shows.
        self.client = None

    def second_factor_needed(self, pending: PendingLogin, token: str) -> dict:
        return {"status": "challenge", "login_token": token, **challenges(pending)}

    def refusal(self, user: User, factor: SecondFactor | None) -> LoginRefusal | None:
        refused = closed_account_refusal(user.login_scope)
        if refused is not None:
            self.client = user.client
        return refused

    def logged_in(self, user: User, factor: SecondFactor | None) -> dict:
        token = secrets.token_urlsafe(32)
        session = statements.insert(
            PlatformSession(
                token_hash=flows.token_hash(token),
                user=user,
                factor=factor.persistent_id if factor is not None else "",
                created_at=self.now,
                expires_at=self.now + settings.SLS["SESSION_ABSOLUTE"],
            )
        )
        # As the web's login: last_login also ends older password-reset links.
        flows.record_last_login(type(user), user)
        allowance = factor.allowance(self.now) if factor is not None else Allowance(UNENROLLED)
        return {"status": "ok", "session": {"token": token, **_described(session, factor, allowance)}}

    def already_logged_in(self) -> LoginRefusal:
        # The twin of this answer completed the login and has the session:
        # this login token is spent.
        return refusals.login_token_invalid()


def challenges(pending: PendingLogin) -> dict:
    """Step 2's question: the first offered factor's challenge (the
    permanent device when there is one), what step 2 accepts, and each
    accepted factor's own challenge (docs/api.md), from the pending login
    alone (no query)."""
    shown = flows.offers(pending)
    each: dict[str, dict] = {}
    for offer in shown:
        each.setdefault(offer.factor.offer, offer.factor.describe_challenge())
    return {
        "challenge": shown[0].factor.describe_challenge() if shown else {"type": "totp"},
        "accepts": list(each),
        "challenges": each,
    }


def chosen_offer(pending: PendingLogin, code: str, named: str | None) -> int | None:
    """The index of the offered factor a step-2 code answers: the one the
    request names (`factor`), else the first whose answers have the code's
    length (spaces aside), else the first. None: the request named a factor
    that is not offered."""
    shown = flows.offers(pending)
    if named is not None:
        return next((offer.index for offer in shown if offer.factor.offer == named), None)
    length = len("".join(code.split()))
    fitting = [offer.index for offer in shown if offer.factor.answer_length() == length]
    if fitting:
        return fitting[0]
    return shown[0].index if shown else 0


def spend(pending: PendingLogin, now: datetime) -> None:
    """A login token is single use (API.md): an answer that did not log in
    ends its pending login, and the client starts again from step 1."""
    PendingLogin.objects.filter(pk=pending.pk, finished_at__isnull=True).update(finished_at=now)


def _described(session: PlatformSession, factor: SecondFactor | None, allowance: Allowance) -> dict:
    """API.md's session object (but its token): the scope, until when at
    most (the factor's window capped by the session's absolute lifetime),
    and the factor it rides on."""
    until = session.expires_at if allowance.until is None else min(allowance.until, session.expires_at)
    return {
        "scope": allowance.scope,
        "valid_until": errors.iso(until),
        "via": factor.offer if factor is not None else PASSWORD,
    }


def find(token: str | None) -> PlatformSession | None:
    """The platform session of a bearer token, with its user and client."""
    if not token:
        return None
    return (
        PlatformSession.objects.select_related("user", "user__client")
        .filter(token_hash=flows.token_hash(token))
        .first()
    )


def _ended(refusal: LoginRefusal) -> LoginRefusal:
    """A factor's refusal, as the end of the session it verified (401)."""
    return dataclasses.replace(refusal, code="session_ended", status=401, ends_login=True)


def current(session: PlatformSession, now: datetime) -> dict | LoginRefusal:
    """What the session allows now (API.md's session object, without its
    token), or why it has ended (401 `session_ended`, naming the rule)."""
    user = session.user
    if session.ended_at is not None and session.ended_at <= now:
        return errors.session_ended()
    if now >= session.expires_at:
        return errors.session_ended("SEC3")
    if not user.is_active or (
        user.sessions_valid_after is not None and session.created_at <= user.sessions_valid_after
    ):
        return errors.session_ended("SEC5")
    factor = None
    if session.factor:
        factor = load_factor(session.factor)
        if factor is None:
            return _ended(refusals.device_changed())
        window = factor.window_refusal(now, PLATFORM)
        if window is not None:
            return _ended(window)  # A3, A4, A6 (and D5 for a permanent device)
        allowance = factor.allowance(now)
        if allowance is None:
            return _ended(factor.ended_refusal(now))
    else:
        # The password alone opened it: only while it still may (as the web's
        # sessions: login/scopes.py).
        if offered_to(user, now) or not password_alone_allowed(user.client_id, now):
            return _ended(refusals.device_changed())
        allowance = Allowance(UNENROLLED)
    closed = closed_account_refusal(scopes.narrowed(allowance.scope, all_accounts_closed(user.client_id, now)))
    if closed is not None:
        return _ended(closed)
    return _described(session, factor, allowance)


def end(session: PlatformSession, now: datetime, request: HttpRequest) -> None:
    """Logout: the token stops working at once (SECURITY.md 2)."""
    ended = PlatformSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=now)
    if ended:
        trail.record(
            "logout",
            request=request,
            client_id=session.user.client_id,
            username=session.user.username,
            details={"channel": PLATFORM},
        )
