"""The trading-platform login API (API.md; issue 9 item 6): the web's two
login steps on the platform's channel, every row of API.md's error table,
the sessions re-derived from their factor and now, and the JSON answers to
everything else. Every response of these tests is also checked against the
OpenAPI file (docs/openapi.json)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone
from jsonschema import Draft202012Validator

from accounts.models import Account, User
from audit.models import AuditEvent
from devices.flows import issue_code_card
from devices.models import DeviceStatus, SecurityDevice
from login.models import LoginAttempt, LoginGuard, PendingLogin, PlatformSession
from passcodes.models import OnlineCard, TemporaryPasscode
from tests.conftest import (
    NOW,
    PASSWORD,
    WRONG,
    assert_nothing_half_written,
    attempt,
    card_codes_for,
    give_online_card,
    give_passcode,
    lock,
    login_fully,
    online_card_codes,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
LOGIN = "/api/platform/login"
VERIFY = "/api/platform/login/verify"
SESSION = "/api/platform/session"
LOGOUT = "/api/platform/logout"
OPENAPI = "/api/platform/openapi.json"
OPENAPI_FILE = Path(settings.BASE_DIR) / "docs" / "openapi.json"
DOCUMENT = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
EUROPE = [{"region": "Europe", "phone": "+41-41-726-9500"}]
ALL_REGIONS = 7  # every region's numbers (Asia's two lines twice: Asia and Japan)


# --- Helpers ------------------------------------------------------------------------


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def conforms(response, path: str, method: str) -> None:
    """The response is one the OpenAPI file describes for this operation:
    its status is listed, and its body matches that status's schema."""
    operation = DOCUMENT["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not in the OpenAPI file"
    described = operation["responses"][status]
    if "content" not in described:
        assert response.content == b""
        return
    assert response["Content-Type"] == "application/json"
    schema = {
        **DOCUMENT,
        "$ref": _pointer("paths", path, method.lower(), "responses", status, "content", "application/json", "schema"),
    }
    Draft202012Validator(schema).validate(response.json())


def _send(http: HttpClient, method: str, path: str, body=None, **headers):
    data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    if method == "GET":
        return http.get(path, **headers)
    return http.generic(
        method, path, data or b"", content_type=headers.pop("content_type", "application/json"), **headers
    )


@pytest.fixture
def api(db) -> HttpClient:
    """The trading platform: no cookies of its own, a CSRF-enforcing client
    (the API needs no token), every answer checked against the OpenAPI file."""

    class Platform(HttpClient):
        def call(self, method: str, path: str, body=None, **headers):
            response = _send(self, method, path, body, **headers)
            known = path in DOCUMENT["paths"] and method.lower() in DOCUMENT["paths"][path]
            if known:
                conforms(response, path, method)
            assert not response.cookies, f"the API set a cookie: {response.cookies}"
            return response

        def login(self, username: str = "alice", password: str = PASSWORD, **headers):
            return self.call("POST", LOGIN, {"username": username, "password": password}, **headers)

        def verify(self, token: str, code: str, factor: str | None = None, **headers):
            body = {"login_token": token, "code": code}
            if factor is not None:
                body["factor"] = factor
            return self.call("POST", VERIFY, body, **headers)

        def session(self, token: str | None, **headers):
            if token is not None:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return self.call("GET", SESSION, **headers)

        def logout(self, token: str | None, **headers):
            if token is not None:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return self.call("POST", LOGOUT, **headers)

    return Platform(enforce_csrf_checks=True, raise_request_exception=False)


def error(response) -> dict:
    return response.json()["error"]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def card_login(api, user: User) -> dict:
    """Both steps with alice's Security Code Card; the session object."""
    first = api.login(user.username)
    assert first.status_code == 200, first.content
    challenge = first.json()["challenge"]
    second = api.verify(first.json()["login_token"], "".join(card_codes_for(user, challenge["positions"])))
    assert second.status_code == 200, second.content
    return second.json()["session"]


def passcode_login(api, code: str, username: str = "alice"):
    first = api.login(username)
    assert first.status_code == 200, first.content
    return api.verify(first.json()["login_token"], code)


def failures(username: str = "alice") -> int:
    return LoginAttempt.objects.filter(guard__username=username, outcome="failed").count()


def _after_issue(clock, delta: timedelta) -> None:
    clock.move_to(TemporaryPasscode.objects.latest("issued_at").issued_at + delta)


@pytest.fixture
def passcode(alice, clock) -> str:
    """Alice's card is lost; an agent issued a temporary passcode at NOW
    (the report ended the sessions opened until that instant)."""
    code = give_passcode(alice, device_status="lost")
    clock.shift(SECOND)
    return code


def _revoke_devices(user: User) -> None:
    SecurityDevice.objects.filter(client=user.client).update(status=DeviceStatus.REVOKED)


@pytest.fixture
def card(alice, clock) -> OnlineCard:
    """Alice's permanent card is gone; her online card was activated at NOW."""
    _revoke_devices(alice)
    return give_online_card(alice)


def card_codes(api, card: OnlineCard, username: str = "alice"):
    first = api.login(username)
    assert first.status_code == 200, first.content
    positions = first.json()["challenges"]["online_card"]["positions"]
    return first.json()["login_token"], "".join(online_card_codes(card, positions))


# --- The OpenAPI file ---------------------------------------------------------------


def test_API_openapi_file_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_API_openapi_file_is_served_as_kept_in_the_repository(api):
    response = api.call("GET", OPENAPI)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.content == OPENAPI_FILE.read_bytes()


def test_API_openapi_file_describes_every_operation_and_api_md_error_code():
    operations = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert operations == {
        (LOGIN, "post"),
        (VERIFY, "post"),
        (SESSION, "get"),
        (LOGOUT, "post"),
        (OPENAPI, "get"),
    }
    codes = set(DOCUMENT["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    api_md = {
        "malformed",
        "bad_character",
        "invalid_credentials",
        "login_failed",
        "login_token_invalid",
        "locked_out",
        "passcode_platform_window_over",
        "passcode_expired",
        "card_expired",
        "account_closed",
        "session_ended",
        "rate_limited",
    }
    assert api_md <= codes


def test_API_docs_list_every_error_code():
    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text(encoding="utf-8")
    codes = DOCUMENT["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert [code for code in codes if f"`{code}`" not in text] == []


# --- Full logins with each kind -------------------------------------------------------


def test_L2_api_full_login_with_the_code_card(api, alice, clock):
    first = api.login()
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "challenge"
    assert body["challenge"]["type"] == "code_card" and len(body["challenge"]["positions"]) == 2
    assert body["accepts"] == ["device"] and body["challenges"] == {"device": body["challenge"]}
    codes = card_codes_for(alice, body["challenge"]["positions"])
    second = api.verify(body["login_token"], "".join(codes))
    assert second.status_code == 200
    session = second.json()["session"]
    # A permanent device: the session's absolute lifetime (SECURITY.md 3).
    assert session["scope"] == "full" and session["via"] == "device"
    assert session["valid_until"] == iso(NOW + settings.SLS["SESSION_ABSOLUTE"])
    now = api.session(session["token"])
    assert now.status_code == 200
    assert now.json() == {"status": "ok", "session": {k: v for k, v in session.items() if k != "token"}}
    login = AuditEvent.objects.get(action="login", username="alice")
    assert login.details["channel"] == "platform"
    assert LoginAttempt.objects.filter(guard__username="alice", channel="platform", outcome="succeeded").exists()


def test_A2_api_full_login_with_a_temporary_passcode(api, alice, passcode, clock):
    _after_issue(clock, timedelta(hours=40))
    first = api.login()
    body = first.json()
    assert body["accepts"] == ["temporary_passcode"]
    assert body["challenge"] == {"type": "temporary_passcode"}
    response = api.verify(body["login_token"], passcode)
    assert response.status_code == 200, response.content
    session = response.json()["session"]
    # A2, A5: full access but money; until issue + 2 days (before the session's 12 hours).
    assert (session["scope"], session["via"]) == ("full_no_withdrawals", "temporary_passcode")
    assert session["valid_until"] == iso(NOW + 2 * DAY)


def test_A2_api_passcode_valid_until_is_capped_by_the_session_lifetime(api, alice, passcode, clock):
    session = passcode_login(api, passcode).json()["session"]
    assert session["valid_until"] == iso(timezone.now() + settings.SLS["SESSION_ABSOLUTE"])


def test_A4_api_full_login_with_an_online_card(api, alice, card, clock):
    clock.shift(20 * DAY + timedelta(hours=20))  # 4 hours before the card's 21 days end
    token, codes = card_codes(api, card)
    response = api.verify(token, codes)
    assert response.status_code == 200, response.content
    session = response.json()["session"]
    assert (session["scope"], session["via"]) == ("full", "online_card")
    assert session["valid_until"] == iso(NOW + 21 * DAY)


def test_L2_api_unenrolled_client_logs_in_with_the_password(api, bob, clock):
    response = api.login("bob")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    session = body["session"]
    assert (session["scope"], session["via"]) == ("unenrolled", "password")
    assert session["valid_until"] == iso(NOW + settings.SLS["SESSION_ABSOLUTE"])
    assert api.session(session["token"]).json()["session"]["scope"] == "unenrolled"


def test_L2_api_the_code_answers_the_offered_factor_of_its_length(api, alice, passcode, clock):
    """A passcode and an online card offered at once: the code's length says
    which it answers when the request names none (docs/api.md)."""
    card = give_online_card(alice)
    token, codes = card_codes(api, card)
    first = PendingLogin.objects.latest("created_at")
    assert [offer["device"].split("/")[0] for offer in first.offers] == [
        "passcodes.onlinecard",
        "passcodes.temporarypasscode",
    ]
    assert api.verify(token, passcode).json()["session"]["via"] == "temporary_passcode"
    token, codes = card_codes(api, card)
    assert api.verify(token, codes).json()["session"]["via"] == "online_card"


def test_L2_api_factor_names_what_the_code_answers(api, alice, passcode, clock):
    card = give_online_card(alice)
    token, _codes = card_codes(api, card)
    refused = api.verify(token, passcode, factor="online_card")
    assert (refused.status_code, error(refused)["code"]) == (401, "login_failed")
    clock.shift(timedelta(seconds=2))  # past the card's throttle
    token, _codes = card_codes(api, card)
    assert api.verify(token, passcode, factor="temporary_passcode").status_code == 200


def test_L2_api_a_factor_not_offered_is_malformed_and_spends_nothing(api, alice, clock):
    first = api.login().json()
    refused = api.verify(first["login_token"], "AAABBB", factor="temporary_passcode")
    assert (refused.status_code, error(refused)["code"]) == (400, "malformed")
    assert "device" in error(refused)["message"]
    assert failures() == 0
    codes = card_codes_for(alice, first["challenge"]["positions"])
    assert api.verify(first["login_token"], "".join(codes)).status_code == 200


# --- API.md's error table ------------------------------------------------------------


def test_L1_api_bad_character(api, db):
    response = api.login("alice!")
    assert response.status_code == 400
    body = error(response)
    assert (body["code"], body["rule"], body["message"]) == ("bad_character", "L1", "BAD CHARACTER")
    assert body["help_url"] == "/help/#bad-character"
    assert len(body["contact"]) == ALL_REGIONS
    assert_nothing_half_written()


def test_L2_api_invalid_credentials_are_the_same_for_an_unknown_username(api, alice, clock):
    wrong = api.login("alice", WRONG)
    unknown = api.login("nobody", WRONG)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    body = error(wrong)
    assert (body["code"], body["rule"]) == ("invalid_credentials", "L2")
    assert body["message"] == "Invalid user name password combination"
    # Nothing says whether the username exists: every region's numbers.
    assert len(body["contact"]) == ALL_REGIONS


def test_L2_api_wrong_code_is_login_failed_and_spends_the_token(api, alice, clock):
    first = api.login().json()
    refused = api.verify(first["login_token"], "AAABBB")
    assert refused.status_code == 401
    body = error(refused)
    assert (body["code"], body["rule"]) == ("login_failed", "L2")
    assert body["message"] == "Login Failed" and "hint" not in body
    assert body["contact"] == EUROPE  # the password matched: alice's region (Italy)
    assert failures() == 1
    codes = card_codes_for(alice, PendingLogin.objects.get().offers[0]["challenge"]["positions"])
    again = api.verify(first["login_token"], "".join(codes))
    assert (again.status_code, error(again)["code"]) == (401, "login_token_invalid")


def test_L4_api_lower_case_passcode_gets_the_hint(api, alice, passcode, clock):
    refused = passcode_login(api, passcode.lower())
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (401, "login_failed", "L4")
    assert body["hint"] == "Letters in a temporary passcode are upper case."
    assert failures() == 1


def test_L4_api_code_with_a_space_gets_the_hint(api, alice, clock):
    first = api.login().json()
    codes = card_codes_for(alice, first["challenge"]["positions"])
    refused = api.verify(first["login_token"], f"{codes[0]} {codes[1]}")
    body = error(refused)
    assert (body["code"], body["rule"]) == ("login_failed", "L4")
    assert body["hint"] == "Codes from a security card or electronic device are typed without spaces."


def test_L4_api_whitespace_around_the_code_is_trimmed(api, alice, clock):
    first = api.login().json()
    codes = card_codes_for(alice, first["challenge"]["positions"])
    assert api.verify(first["login_token"], " " + "".join(codes) + "\n").status_code == 200


def test_L2_api_throttled_device_says_when_to_retry(api, alice, clock):
    first = api.login().json()
    api.verify(first["login_token"], "AAABBB")
    second = api.login().json()
    codes = card_codes_for(alice, second["challenge"]["positions"])
    throttled = api.verify(second["login_token"], "".join(codes))
    body = error(throttled)
    assert body["code"] == "login_failed" and body["retry_at"] == iso(NOW + SECOND)


def test_API_login_token_invalid_when_unknown(api, alice, clock):
    refused = api.verify("not-a-token", "AAABBB")
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (401, "login_token_invalid", None)
    assert len(body["contact"]) == ALL_REGIONS
    assert failures() == 0


def test_API_login_token_is_single_use(api, alice, clock):
    first = api.login().json()
    code = "".join(card_codes_for(alice, first["challenge"]["positions"]))
    assert api.verify(first["login_token"], code).status_code == 200
    again = api.verify(first["login_token"], code)
    assert (again.status_code, error(again)["code"]) == (401, "login_token_invalid")
    assert PlatformSession.objects.count() == 1


def test_API_login_token_expires_after_five_minutes(api, alice, clock):
    first = api.login().json()
    code = "".join(card_codes_for(alice, first["challenge"]["positions"]))
    clock.shift(timedelta(minutes=5))
    expired = api.verify(first["login_token"], code)
    assert (expired.status_code, error(expired)["code"]) == (401, "login_token_invalid")
    clock.move_to(NOW)
    again = api.login().json()
    clock.shift(timedelta(minutes=5) - SECOND)
    code = "".join(card_codes_for(alice, again["challenge"]["positions"]))
    assert api.verify(again["login_token"], code).status_code == 200


def test_L3_api_locked_out(api, alice, clock, hash_counter):
    lock("alice")
    lock("nobody")
    response = api.login("alice")
    assert response.status_code == 403
    body = error(response)
    assert (body["code"], body["rule"]) == ("locked_out", "L3")
    assert body["unlocks_at"] == iso(NOW + settings.SLS["LOCKOUT_DURATION"])
    assert body["message"] == "This username is locked after 10 failed login attempts."
    assert hash_counter["verify"] == 0, "no password is checked while locked"
    # An unknown username locks exactly like a real one.
    assert api.login("nobody").json() == response.json()


def test_L3_api_tenth_failure_locks_and_web_and_platform_count_together(api, web, alice, clock):
    for _ in range(5):
        attempt(web, "alice", WRONG)
    for _ in range(5):
        assert error(api.login("alice", WRONG))["code"] == "invalid_credentials"
    locked = api.login("alice")
    assert (locked.status_code, error(locked)["code"]) == (403, "locked_out")


def test_L3_api_tenth_wrong_code_answers_locked_at_once(api, alice, clock):
    for _ in range(9):
        first = api.login().json()
        assert error(api.verify(first["login_token"], "AAABBB"))["code"] == "login_failed"
        clock.shift(timedelta(minutes=10))  # past the device's throttle
    first = api.login().json()
    tenth = api.verify(first["login_token"], "AAABBB")
    body = error(tenth)
    assert (tenth.status_code, body["code"], body["rule"]) == (403, "locked_out", "L3")
    assert body["contact"] == EUROPE and "unlocks_at" in body


def test_A3_api_passcode_after_day_two(api, alice, passcode, clock):
    _after_issue(clock, 2 * DAY - SECOND)
    assert passcode_login(api, passcode).status_code == 200
    _after_issue(clock, 2 * DAY)
    refused = passcode_login(api, passcode)
    assert refused.status_code == 403
    body = error(refused)
    assert (body["code"], body["rule"]) == ("passcode_platform_window_over", "A3")
    assert "no longer gives access to the trading platform" in body["message"]
    assert body["help_url"] == "/help/#platform-refuses-passcode"
    assert body["contact"] == EUROPE
    assert failures() == 0, "a window refusal never counts toward L3"
    assert AuditEvent.objects.filter(action="login.code", outcome="refused", rule="A3").exists()


def test_A7_api_passcode_expired(api, alice, passcode, clock):
    _after_issue(clock, 12 * DAY)
    refused = passcode_login(api, passcode)
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (403, "passcode_expired", "A7")
    assert "call your regional Customer Service Center" in body["message"]
    assert body["contact"] == EUROPE
    assert failures() == 0


def test_A7_api_wrong_code_is_login_failed_whatever_the_window(api, alice, passcode, clock):
    _after_issue(clock, 12 * DAY)
    refused = passcode_login(api, "ZZZZZZZZZZZZ")
    assert (error(refused)["code"], error(refused)["rule"]) == ("login_failed", "L2")
    assert failures() == 1


def test_A4_api_card_expired(api, alice, card, clock):
    clock.move_to(card.activated_at + 21 * DAY - SECOND)
    token, codes = card_codes(api, card)
    assert api.verify(token, codes).status_code == 200
    clock.move_to(card.activated_at + 21 * DAY)
    token, codes = card_codes(api, card)
    refused = api.verify(token, codes)
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (403, "card_expired", "A4")
    assert "status of your permanent security device" in body["message"]
    assert failures() == 0


def _reactivate_device(user: User) -> None:
    """R1: the client types the serial of the card reported lost and two of its codes."""
    from devices import activation, codecard

    device = SecurityDevice.objects.get(client=user.client)
    binding = activation.begin(user, device.serial)
    challenge = binding.generate_challenge()
    code = codecard.expected_response(device.seed, challenge["positions"])
    activation.finish(user, binding.persistent_id, challenge, code, now=timezone.now())


def test_A6_api_session_ends_when_device_reactivated(api, alice, passcode, clock):
    token = passcode_login(api, passcode).json()["session"]["token"]
    clock.shift(timedelta(hours=1))
    assert api.session(token).status_code == 200
    _reactivate_device(alice)
    ended = api.session(token)
    body = error(ended)
    assert (ended.status_code, body["code"], body["rule"]) == (401, "session_ended", "A6")
    assert ended["WWW-Authenticate"].startswith("Bearer")
    assert "temporary passcode and online card no longer work" in body["message"]
    # The device logs in on the platform again.
    assert card_login(api, alice)["via"] == "device"


def test_A6_api_card_session_ends_when_the_replacement_activates_itself(api, alice, card, clock):
    """D3 without any job (J2): the replacement's auto-activation time ends
    the card (A6, C5), exactly then (C6)."""
    token, codes = card_codes(api, card)
    session = api.verify(token, codes).json()["session"]["token"]
    _replacement_on_its_way(alice, NOW + timedelta(hours=2))
    # C6: with the replacement on its way the card runs exactly to its auto-activation.
    assert api.session(session).json()["session"]["valid_until"] == iso(NOW + timedelta(hours=2))
    clock.shift(timedelta(hours=2))
    ended = error(api.session(session))
    assert (ended["code"], ended["rule"]) == ("session_ended", "A6")


def _replacement_on_its_way(user: User, auto_activates_at: datetime) -> SecurityDevice:
    from devices import codecard
    from devices.models import DeviceType

    replacement = SecurityDevice(
        client=user.client,
        type=DeviceType.CODE_CARD,
        serial="SC00000042",
        status=DeviceStatus.ISSUED,
        auto_activates_at=auto_activates_at,
    )
    replacement.set_seed(codecard.new_seed())
    replacement.save()
    return replacement


def test_A6_api_passcode_refused_once_the_replacement_activated_itself(api, alice, passcode, clock):
    """D3 without any job (J2): from its auto-activation time the replacement
    ends the passcode; typed after that, the passcode is refused with A6."""
    _replacement_on_its_way(alice, NOW + timedelta(hours=5))
    clock.move_to(NOW + timedelta(hours=5) - SECOND)
    assert passcode_login(api, passcode).status_code == 200
    clock.shift(SECOND)
    refused = passcode_login(api, passcode)
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (403, "credential_replaced", "A6")
    assert failures() == 0


@pytest.fixture
def dora(client_factory, agent) -> User:
    """A client whose only account closed yesterday (A8), with no device."""
    client_factory("Dora", "Closed", "US", username="dora", closed_at=NOW - DAY)
    return User.objects.get(username="dora")


def test_A8_api_account_closed(api, dora, clock):
    refused = api.login("dora")
    assert refused.status_code == 403
    body = error(refused)
    assert (body["code"], body["rule"]) == ("account_closed", "A8")
    assert "statements" in body["message"]
    assert body["contact"] == [{"region": "US and Canada", "phone": "(203) 618-4006"}]
    assert not PlatformSession.objects.exists()
    assert failures("dora") == 0
    event = AuditEvent.objects.get(username="dora", outcome="refused")
    assert (event.action, event.rule, event.details["channel"]) == ("login.password", "A8", "platform")
    assert not AuditEvent.objects.filter(action="login", username="dora").exists()


def test_A8_api_closed_account_wrong_password_is_invalid_credentials(api, dora, clock):
    refused = api.login("dora", WRONG)
    assert (refused.status_code, error(refused)["code"]) == (401, "invalid_credentials")


def test_A8_api_account_closed_with_a_device_is_refused_after_the_code(api, alice, agent, clock):
    Account.objects.filter(client=alice.client).update(closed_at=NOW - DAY)
    first = api.login()
    assert first.status_code == 200, "refused only after the password and the code matched"
    wrong = api.verify(first.json()["login_token"], "AAABBB")
    assert error(wrong)["code"] == "login_failed"
    clock.shift(timedelta(seconds=2))
    first = api.login().json()
    codes = card_codes_for(alice, first["challenge"]["positions"])
    refused = api.verify(first["login_token"], "".join(codes))
    assert (refused.status_code, error(refused)["code"], error(refused)["rule"]) == (403, "account_closed", "A8")
    assert failures() == 1  # the wrong code only


def test_A8_api_one_open_account_is_enough(api, alice, clock):
    Account.objects.filter(client=alice.client).update(closed_at=NOW - DAY)
    Account.objects.create(number="U9999999", client=alice.client, funded_at=NOW - DAY)
    assert card_login(api, alice)["scope"] == "full"


def test_A8_api_session_ends_when_the_account_closes(api, alice, clock):
    token = card_login(api, alice)["token"]
    Account.objects.filter(client=alice.client).update(closed_at=NOW + timedelta(hours=1))
    assert api.session(token).status_code == 200
    clock.shift(timedelta(hours=1))
    ended = error(api.session(token))
    assert (ended["code"], ended["rule"]) == ("session_ended", "A8")


def test_D5_api_device_reported_and_no_passcode_is_refused_after_the_password(api, alice, clock):
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.LOST)
    assert error(api.login("alice", WRONG))["code"] == "invalid_credentials"
    refused = api.login("alice")
    body = error(refused)
    assert (refused.status_code, body["code"], body["rule"]) == (403, "device_needed", "D5")
    assert body["contact"] == EUROPE  # the password matched: alice's region
    assert not PlatformSession.objects.exists()
    assert failures() == 1  # the wrong password only


def test_SEC7_api_rate_limited(api, db, settings):
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 3}
    for index in range(3):
        assert api.login(f"nobody{index}", WRONG).status_code == 401
    limited = api.login("nobody9", WRONG)
    body = error(limited)
    assert (limited.status_code, body["code"], body["rule"]) == (429, "rate_limited", None)
    assert not LoginGuard.objects.filter(username="nobody9").exists()


# --- Sessions --------------------------------------------------------------------------


def test_A3_api_session_rederived_across_day_two_without_a_new_login(api, alice, passcode, clock):
    _after_issue(clock, 2 * DAY - timedelta(hours=1))
    session = passcode_login(api, passcode).json()["session"]
    assert session["valid_until"] == iso(NOW + 2 * DAY)
    _after_issue(clock, 2 * DAY - SECOND)
    still = api.session(session["token"])
    assert still.status_code == 200 and still.json()["session"]["scope"] == "full_no_withdrawals"
    _after_issue(clock, 2 * DAY)
    ended = api.session(session["token"])
    body = error(ended)
    assert (ended.status_code, body["code"], body["rule"]) == (401, "session_ended", "A3")
    assert "no longer gives access to the trading platform" in body["message"]
    assert body["contact"] == EUROPE
    assert PlatformSession.objects.get().ended_at is None, "GET changes nothing"


def test_A4_api_session_ends_when_the_card_expires(api, alice, card, clock):
    clock.move_to(card.activated_at + 21 * DAY - timedelta(hours=1))
    token, codes = card_codes(api, card)
    session = api.verify(token, codes).json()["session"]
    assert session["valid_until"] == iso(card.activated_at + 21 * DAY)
    clock.move_to(card.activated_at + 21 * DAY - SECOND)
    assert api.session(session["token"]).status_code == 200
    clock.move_to(card.activated_at + 21 * DAY)
    body = error(api.session(session["token"]))
    assert (body["code"], body["rule"]) == ("session_ended", "A4")


def test_SEC3_api_session_ends_after_twelve_hours(api, alice, clock):
    token = card_login(api, alice)["token"]
    clock.shift(settings.SLS["SESSION_ABSOLUTE"] - SECOND)
    assert api.session(token).status_code == 200
    clock.shift(SECOND)
    body = error(api.session(token))
    assert (body["code"], body["rule"]) == ("session_ended", "SEC3")


def test_SEC5_api_session_ends_when_an_agent_ends_all_sessions(api, alice, clock):
    token = card_login(api, alice)["token"]
    clock.shift(SECOND)
    User.objects.get(username="alice").end_all_sessions()
    body = error(api.session(token))
    assert (body["code"], body["rule"]) == ("session_ended", "SEC5")


def test_SEC5_api_session_ends_when_the_device_is_revoked(api, alice, clock):
    token = card_login(api, alice)["token"]
    _revoke_devices(alice)
    body = error(api.session(token))
    assert (body["code"], body["rule"]) == ("session_ended", "D5")


def test_D8_api_password_session_ends_once_the_client_has_a_device(api, bob, agent, clock):
    token = api.login("bob").json()["session"]["token"]
    issue_code_card(bob.client, agent=agent, now=timezone.now())
    body = error(api.session(token))
    assert (body["code"], body["rule"]) == ("session_ended", "D5")


def test_SEC2_api_logout_ends_the_session(api, alice, clock):
    token = card_login(api, alice)["token"]
    response = api.logout(token)
    assert response.status_code == 204 and response.content == b""
    ended = api.session(token)
    assert (ended.status_code, error(ended)["code"], error(ended)["rule"]) == (401, "session_ended", None)
    assert api.logout(token).status_code == 204, "logging out twice is not an error"
    assert AuditEvent.objects.filter(action="logout", username="alice").count() == 1


def test_API_session_without_or_with_an_unknown_bearer(api, db):
    for response in (api.session(None), api.session("nope"), api.logout(None), api.logout("nope")):
        assert response.status_code == 401 and error(response)["code"] == "session_ended"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert len(error(response)["contact"]) == ALL_REGIONS
    basic = api.call("GET", SESSION, HTTP_AUTHORIZATION="Basic YWxpY2U6eA==")
    assert basic.status_code == 401


def test_SEC10_api_bearer_token_is_stored_only_as_its_sha256(api, alice, clock):
    token = card_login(api, alice)["token"]
    stored = PlatformSession.objects.get()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(list(PlatformSession.objects.values()), default=str)
    assert stored.factor.startswith("devices.") and stored.user == alice
    assert stored.expires_at == NOW + settings.SLS["SESSION_ABSOLUTE"]


# --- Bad requests, never HTML ------------------------------------------------------------

LONG = "a" * (settings.SLS["INPUT_MAX_LENGTH"] + 1)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"{not json", "not valid JSON"),
        (b" ", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"username": "alice", "password": "\\ud800"}', "not valid JSON"),
        (b"[" * 4000 + b"]" * 4000, "not valid JSON"),
        (b'["alice", "x"]', "JSON object"),
        (b'"alice"', "JSON object"),
        (b"null", "JSON object"),
        (b'{"username": "alice"}', "“password” is missing"),
        (b'{"username": "alice", "password": 12}', "“password” must be a string"),
        (b'{"username": null, "password": "x"}', "“username” must be a string"),
        (b'{"username": "alice", "password": ""}', "“password” is empty"),
        (json.dumps({"username": "alice", "password": LONG}).encode(), "longer than 256 characters"),
        (json.dumps({"username": LONG, "password": "x"}).encode(), "longer than 256 characters"),
        (b'{"username": "alice", "password": "x", "admin": true}', "“admin” is not part of this request"),
    ],
)
def test_API_malformed_body_says_what_is_wrong(api, alice, body, names):
    response = api.call("POST", LOGIN, body)
    assert response.status_code == 400
    payload = error(response)
    assert (payload["code"], payload["rule"]) == ("malformed", None)
    assert names in payload["message"]
    assert not LoginGuard.objects.exists() and not LoginAttempt.objects.exists()


def test_API_malformed_verify_does_not_spend_the_token(api, alice, clock):
    first = api.login().json()
    for body in ({"login_token": first["login_token"]}, {"login_token": first["login_token"], "code": LONG}):
        assert error(api.call("POST", VERIFY, body))["code"] == "malformed"
    codes = card_codes_for(alice, first["challenge"]["positions"])
    assert api.verify(first["login_token"], "".join(codes)).status_code == 200
    assert failures() == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "application/xml"],
)
def test_API_wrong_content_type_is_415(api, alice, content_type):
    body = json.dumps({"username": "alice", "password": PASSWORD})
    response = api.call("POST", LOGIN, body, content_type=content_type)
    assert response.status_code == 415
    assert error(response)["code"] == "malformed" and "application/json" in error(response)["message"]
    assert not LoginGuard.objects.exists()


def test_API_json_with_utf8_charset_is_accepted(api, alice, clock):
    body = json.dumps({"username": "alice", "password": PASSWORD})
    assert api.call("POST", LOGIN, body, content_type="application/json; charset=UTF-8").status_code == 200


def test_API_body_over_the_size_limit_is_413(api, alice):
    limit = settings.SLS["API_BODY_MAX_BYTES"]
    body = json.dumps({"username": "alice", "password": "x" * limit})
    response = api.call("POST", LOGIN, body)
    assert (response.status_code, error(response)["code"]) == (413, "malformed")
    assert str(limit) in error(response)["message"]
    assert not LoginGuard.objects.exists()


def test_API_body_at_the_largest_valid_request_is_read(api, alice, clock):
    """Two fields of 256 characters, each written as a surrogate pair's escapes."""
    emoji = "\U0001f600" * settings.SLS["INPUT_MAX_LENGTH"]
    body = json.dumps({"login_token": emoji, "code": emoji, "factor": "device"})
    assert len(body) > 6000
    assert error(api.call("POST", VERIFY, body))["code"] == "login_token_invalid"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", LOGIN, "POST"),
        ("PUT", VERIFY, "POST"),
        ("DELETE", SESSION, "GET"),
        ("POST", SESSION, "GET"),
        ("GET", LOGOUT, "POST"),
        ("POST", OPENAPI, "GET"),
        ("OPTIONS", LOGIN, "POST"),
    ],
)
def test_API_wrong_method_is_a_json_405(api, db, method, path, allowed):
    response = api.call(method, path)
    assert response.status_code == 405 and response["Allow"] == allowed
    assert error(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/", "/api/nope", "/api/platform/login/", "/api/platform/session/x", "/api/v2"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_API_unknown_paths_are_a_json_404(api, db, path, method):
    response = api.call(method, path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert error(response)["code"] == "not_found"


def test_API_a_server_error_is_json(api, db, monkeypatch):
    from login import flows

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flows, "password_step", broken)
    response = api.login()
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert error(response)["code"] == "internal_error"


def test_API_a_host_outside_allowed_hosts_is_a_json_400(api, db):
    response = api.call("POST", LOGIN, {"username": "a", "password": "b"}, HTTP_HOST="evil.example")
    assert response.status_code == 400 and error(response)["code"] == "malformed"


def test_SEC16_api_needs_no_csrf_token_and_sets_no_cookie(api, alice, clock):
    """The platform holds a bearer token, never a cookie: CSRF does not apply
    (the fixture's client enforces CSRF checks, and every call asserts that
    no cookie was set)."""
    session = card_login(api, alice)
    assert api.session(session["token"]).status_code == 200
    assert not api.cookies


def test_SEC1_api_ignores_and_never_touches_a_web_session_cookie(api, web, alice, clock):
    login_fully(web, alice)
    api.cookies = web.cookies
    key = web.cookies[settings.SESSION_COOKIE_NAME].value
    response = api.login("bob", WRONG)
    assert response.status_code == 401 and not response.cookies
    ended = api.session(None)
    assert ended.status_code == 401, "the web session is no platform session"
    assert web.get("/").status_code == 200 and web.cookies[settings.SESSION_COOKIE_NAME].value == key


def test_SEC23_api_answers_are_never_cached(api, alice, clock):
    first = api.login()
    assert "no-store" in first["Cache-Control"]
    assert "no-store" in api.login("alice", WRONG)["Cache-Control"]


# --- Language and numbers ------------------------------------------------------------


def test_A9_api_messages_in_the_accept_language(api, alice, passcode, clock):
    italian = {"HTTP_ACCEPT_LANGUAGE": "it-IT,it;q=0.9"}
    body = error(api.login("alice!", **italian))
    assert body["message"] == "CARATTERE NON VALIDO"
    assert {"region": "Stati Uniti e Canada", "phone": "(203) 618-4006"} in body["contact"]
    _after_issue(clock, 2 * DAY)
    first = api.login(**italian).json()
    refused = error(api.verify(first["login_token"], passcode, **italian))
    assert refused["rule"] == "A3" and "piattaforma di trading" in refused["message"]
    assert refused["contact"] == [{"region": "Europa", "phone": "+41-41-726-9500"}]
    assert api.call("POST", LOGIN, b"{", **italian).json()["error"]["message"] == (
        "Il corpo della richiesta non è JSON valido in UTF-8."
    )


def test_A7_api_contact_is_the_clients_region_once_the_password_matched(api, charlie, clock):
    """Japan's clients get the Asian numbers; before the password matched,
    nothing tells whose username it was, so every region's numbers."""
    assert len(error(api.login("charlie", WRONG))["contact"]) == ALL_REGIONS
    first = api.login("charlie").json()
    refused = error(api.verify(first["login_token"], "AAABBB"))
    assert [entry["region"] for entry in refused["contact"]] == ["Japan", "Japan"]
    assert {entry["note"] for entry in refused["contact"]} == {"Cantonese", "Mandarin"}
