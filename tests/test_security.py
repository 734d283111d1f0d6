"""SECURITY.md 6, 7, 12, 16, 17, 19, 20, 22-24, and malformed input at login."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hashers
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from audit import trail
from audit.models import AuditEvent
from devices.models import SecurityDevice
from login.models import LoginAttempt, LoginGuard, PendingLogin
from tests.conftest import PASSWORD, card_codes_for, csrf_post, login_fully, pending_positions
from tests.hashers import FastArgon2PasswordHasher

BASE_DIR = Path(__file__).resolve().parent.parent
WRONG = "not the right password"
INVALID = b"Invalid user name password combination"
CSRF_PAGE = b"This form has expired"


def masked(response, username: str) -> bytes:
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)
    return content.replace(username.encode(), b"<username>")


def templates(response) -> list[str]:
    return [template.name for template in response.templates]


def log_in_step_one(http, username: str = "alice", password: str = PASSWORD, **extra):
    return csrf_post(http, "/login/", {"username": username, "password": password}, **extra)


@pytest.fixture
def hashes(monkeypatch) -> Counter:
    """Counts password hashes computed by the configured Argon2id hasher."""
    counts: Counter = Counter()
    verify = FastArgon2PasswordHasher.verify

    def counting_verify(self, password, encoded):
        counts["verify"] += 1
        return verify(self, password, encoded)

    monkeypatch.setattr(FastArgon2PasswordHasher, "verify", counting_verify)
    return counts


# --- 6: no user enumeration ------------------------------------------------------------


@pytest.mark.parametrize("unknown", ["nobody", "Alice", "agent7"])
def test_L2_unknown_username_and_wrong_password_look_the_same(web, alice, agent, hashes, unknown):
    """ASVS 5.0 V6.3.8; WSTG-ATHN-04: same text, status, template and one hash each.

    "Alice" is alice typed with a capital (L1: simply wrong); agent7 is a
    staff username, which cannot log in to the client portal."""
    wrong = log_in_step_one(web, "alice", WRONG)
    assert hashes["verify"] == 1
    hashes.clear()
    other = log_in_step_one(web, unknown, WRONG)
    assert hashes["verify"] == 1
    assert wrong.status_code == other.status_code == 401
    assert INVALID in wrong.content
    assert templates(wrong) == templates(other)
    assert masked(wrong, "alice") == masked(other, unknown)


def test_L2_unknown_username_is_recorded_like_a_known_one(web, alice):
    """ASVS 5.0 V6.3.8: both leave the same traces (a failed attempt, an audit event)."""
    log_in_step_one(web, "alice", WRONG)
    log_in_step_one(web, "nobody", WRONG)
    for username in ("alice", "nobody"):
        assert LoginAttempt.objects.get(guard__username=username).outcome == LoginAttempt.Outcome.FAILED
        assert AuditEvent.objects.get(username=username).outcome == "failed"


# --- 7: per-address rate limit ---------------------------------------------------------------


ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


@pytest.fixture
def address_limit(settings):
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 5}
    return 5


def test_L3_address_limit_allows_attempts_up_to_the_limit(web, alice, clock, address_limit):
    """ASVS 2.2.1: the attempt after limit - 1 failures is still checked."""
    for index in range(address_limit - 1):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    response = log_in_step_one(web, "victim", WRONG, **ATTACKER)
    assert response.status_code == 401


def test_L3_address_over_the_limit_is_refused_before_anything_is_stored(web, alice, clock, hashes, address_limit):
    """ASVS 2.2.1: one address cannot go on guessing across usernames."""
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    hashes.clear()
    response = log_in_step_one(web, "victim", WRONG, **ATTACKER)
    assert response.status_code == 429
    assert b"Too many failed login attempts have come from your network address" in response.content
    assert hashes["verify"] == 0
    assert not LoginGuard.objects.filter(username="victim").exists()


def test_L3_one_address_cannot_lock_a_username(web, alice, clock, address_limit):
    """ASVS 2.2.1 with a limit under L3's 10: the victim keeps logging in from home."""
    for _ in range(10):
        log_in_step_one(web, "alice", WRONG, **ATTACKER)
    assert LoginAttempt.objects.filter(guard__username="alice").count() == address_limit
    owner = Client(enforce_csrf_checks=True, **OWNER)
    assert login_fully(owner, alice).url == "/"


def test_L3_one_address_locks_at_most_limit_over_ten_usernames(web, db, clock, settings):
    """ASVS 2.2.1: with a limit of 25, an address locks two usernames, not five."""
    settings.SLS = {**settings.SLS, "ADDRESS_FAILURES_LIMIT": 25}
    for index in range(5):
        for _ in range(10):
            log_in_step_one(web, f"victim{index}", WRONG, **ATTACKER)
    now = timezone.now()
    locked = [guard.username for guard in LoginGuard.objects.all() if guard.is_locked(now)]
    assert locked == ["victim0", "victim1"]


def test_L3_address_limit_still_holds_just_before_the_window_ends(web, db, clock, address_limit):
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    clock.shift(django_settings.SLS["ADDRESS_FAILURES_WINDOW"] - timedelta(seconds=1))
    assert log_in_step_one(web, "victim", WRONG, **ATTACKER).status_code == 429


def test_L3_address_limit_lifts_when_the_window_ends(web, db, clock, address_limit):
    for index in range(address_limit):
        log_in_step_one(web, f"user{index}", WRONG, **ATTACKER)
    clock.shift(django_settings.SLS["ADDRESS_FAILURES_WINDOW"])
    assert log_in_step_one(web, "victim", WRONG, **ATTACKER).status_code == 401


def test_L3_address_limit_is_far_above_one_client(settings):
    """ASVS 2.2.1: the default limit cannot be reached by one client alone, and
    one address can lock at most a handful of usernames per window."""
    limit = settings.SLS["ADDRESS_FAILURES_LIMIT"]
    assert settings.SLS["LOCKOUT_FAILURES"] < limit <= 10 * settings.SLS["LOCKOUT_FAILURES"]


# --- 12: passwords --------------------------------------------------------------------------


def test_SEC12_argon2id_is_the_first_hasher(alice):
    """ASVS 2.4.1, 5.0 V6.2; NIST 800-63B 5.1.1.2: Argon2id for every new hash."""
    from sls_portal import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert isinstance(get_hashers()[0], Argon2PasswordHasher)
    assert alice.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("qv7Lm2xT9rw", False),  # 11 characters
        ("qv7Lm2xT9rwZ", True),  # 12
        ("a" * 4 + "qv7Lm2xT9rwZ" * 10 + "b" * 4, True),  # 128
        ("a" * 5 + "qv7Lm2xT9rwZ" * 10 + "b" * 4, False),  # 129
        ("password1234", False),  # common
        ("correcthorsebatterystaple", True),  # lower-case letters only: no composition rule
        ("tramonto sul lago di como", True),  # spaces allowed
    ],
    ids=["11-chars", "12-chars", "128-chars", "129-chars", "common", "no-composition-rule", "passphrase"],
)
def test_SEC12_password_validators(alice, password, accepted):
    """ASVS 2.1.1-2.1.3, 2.1.7, 2.1.9; 5.0 V6.2.1-V6.2.5; NIST 800-63B 5.1.1.2."""
    if accepted:
        validate_password(password, user=alice)
    else:
        with pytest.raises(ValidationError):
            validate_password(password, user=alice)


# --- 16: CSRF ---------------------------------------------------------------------------------


def assert_csrf_refused(response) -> None:
    assert response.status_code == 403
    assert CSRF_PAGE in response.content
    assert b"CSRF verification failed" not in response.content  # not Django's default page


def test_SEC16_login_post_without_token_is_refused(web, alice):
    """ASVS 4.2.2; WSTG-SESS-05."""
    web.get("/login/")
    response = web.post("/login/", {"username": "alice", "password": PASSWORD})
    assert_csrf_refused(response)
    assert not LoginGuard.objects.exists()


def test_SEC16_code_post_without_token_is_refused(web, alice, clock):
    """ASVS 4.2.2; WSTG-SESS-05: the challenge is not consumed."""
    log_in_step_one(web)
    positions = pending_positions(web)
    codes = card_codes_for(alice, positions)
    response = web.post("/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert_csrf_refused(response)
    assert pending_positions(web) == positions
    assert PendingLogin.objects.get(user=alice).challenge_serial == 0


def test_SEC16_logout_post_without_token_is_refused(web, alice, clock):
    """ASVS 4.2.2; WSTG-SESS-05: a forged logout does nothing."""
    login_fully(web, alice)
    assert_csrf_refused(web.post("/logout/"))
    assert web.get("/").status_code == 200


def test_SEC16_language_switch_without_token_is_refused(web, db):
    """ASVS 4.2.2; WSTG-SESS-05."""
    web.get("/login/")
    response = web.post("/i18n/setlang/", {"language": "it", "next": "/login/"})
    assert_csrf_refused(response)
    assert django_settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_SEC16_language_switch_with_token_works(web, db):
    web.get("/login/")
    token = web.cookies[django_settings.CSRF_COOKIE_NAME].value
    response = web.post("/i18n/setlang/", {"language": "it", "next": "/login/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "it"


def test_SEC16_get_logout_does_not_log_out(web, alice, clock):
    """ASVS 5.0 V3.5.3: no state change on GET."""
    login_fully(web, alice)
    key = web.cookies[django_settings.SESSION_COOKIE_NAME].value
    response = web.get("/logout/")
    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert web.get("/").status_code == 200
    assert web.cookies[django_settings.SESSION_COOKIE_NAME].value == key


# --- 17: one client never sees another's data ---------------------------------------------------


def test_SEC17_dashboard_shows_only_own_accounts(web, alice, charlie, clock):
    """ASVS 4.2.1, 5.0 V8.2.2."""
    login_fully(web, alice)
    page = web.get("/").content.decode()
    assert alice.client.accounts.get().number in page
    assert charlie.client.accounts.get().number not in page
    assert "Charlie" not in page


def test_SEC17_security_page_shows_only_own_devices(web, alice, charlie, clock):
    """ASVS 4.2.1, 5.0 V8.2.2."""
    login_fully(web, alice)
    page = web.get("/settings/security/sls/").content.decode()
    assert SecurityDevice.objects.get(client=alice.client).serial in page
    assert SecurityDevice.objects.get(client=charlie.client).serial not in page


# --- 19: open redirects ---------------------------------------------------------------------------


def log_in_with_next(web, user, next_url: str):
    response = csrf_post(
        web, f"/login/?next={quote(next_url, safe='')}", {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    if response.url != "/login/code/":
        return response
    codes = card_codes_for(user, pending_positions(web))
    return csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/", "https:evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_SEC19_next_to_another_site_goes_home(web, alice, clock, evil):
    """ASVS 5.1.5: ?next= redirects only within the site."""
    response = log_in_with_next(web, alice, evil)
    assert response.url == "/"


def test_SEC19_next_on_the_site_is_followed(web, alice, clock):
    """ASVS 5.1.5."""
    response = log_in_with_next(web, alice, "/settings/security/sls/")
    assert response.url == "/settings/security/sls/"


def test_SEC19_next_is_followed_for_a_password_only_login(web, bob, clock):
    assert log_in_with_next(web, bob, "/settings/security/sls/").url == "/settings/security/sls/"
    web.logout()
    assert log_in_with_next(web, bob, "https://evil.example/").url == "/"


def test_SEC19_next_is_escaped_in_the_login_page(web, db):
    response = web.get('/login/?next="><script>alert(1)</script>')
    assert b"<script>alert(1)</script>" not in response.content


# --- 20: audit events and logs -----------------------------------------------------------------------


def test_SEC20_login_audit_holds_no_password_or_code(web, alice, clock, caplog):
    """ASVS 7.1.1, 5.0 V16.2.5: no password, code or session key in events or logs."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    log_in_step_one(web, "alice", WRONG)
    log_in_step_one(web, "alice", PASSWORD)
    csrf_post(web, "/login/code/", {"code_1": "ZZZ", "code_2": "YYY"})
    clock.shift(timedelta(seconds=2))  # past the device's throttle
    codes = card_codes_for(alice, pending_positions(web))
    csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    session_key = web.cookies[django_settings.SESSION_COOKIE_NAME].value

    events = list(AuditEvent.objects.filter(username="alice").values())
    assert {event["outcome"] for event in events} >= {"failed", "passed", "ok"}
    stored = json.dumps(events, default=str)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "the audit events are logged"
    for text in (stored, logged):
        for secret in (PASSWORD, WRONG, "".join(codes), "ZZZYYY", session_key):
            assert secret not in text
        for code in codes:
            assert f'"{code}"' not in text
        assert "password" not in json.dumps([event["details"] for event in events])


def test_SEC20_log_line_escapes_a_newline_in_the_username(db, caplog):
    """ASVS 7.3.1, 5.0 V16.4.1: a username cannot forge a second log line."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    forged = 'eve\n{"action": "login", "outcome": "ok", "username": "alice"}'
    trail.record("login.password", username=forged, outcome="failed")
    [record] = [record for record in caplog.records if record.name == "sls.audit"]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert json.loads(line)["username"] == forged


def test_L1_newline_username_is_refused_before_anything_is_stored(web, db, caplog):
    """L1, ASVS 5.0 V16.4.1: BAD CHARACTER before any record or log line."""
    caplog.set_level(logging.INFO, logger="sls.audit")
    response = log_in_step_one(web, 'eve\n{"action": "login"}', WRONG)
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content
    assert not LoginGuard.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not [record for record in caplog.records if record.name == "sls.audit"]


# --- 22: production settings pass the deployment checks ---------------------------------------------


def production_env(tmp_path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "sls_portal.settings",
        "SECRET_KEY": secrets.token_urlsafe(45),  # 60 characters
        "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(45),
        "ALLOWED_HOSTS": "sls.example.com",
        "SLS_VAR_DIR": str(tmp_path),
    }


def test_SEC22_check_deploy_passes_with_production_settings(tmp_path):
    """ASVS 14.1 (deployment); Django's own deployment checklist."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_SEC22_production_settings_have_transport_security(tmp_path):
    """ASVS 3.4.1, 9.1.1, 14.4.5: secure cookies, HSTS, HTTPS redirect, DEBUG off."""
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'X_FRAME_OPTIONS', 'ALLOWED_HOSTS')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["ALLOWED_HOSTS"] == ["sls.example.com"]


def test_SEC22_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


# --- 23, 24: caching and framing ---------------------------------------------------------------------------


def assert_no_store(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.request["PATH_INFO"], response.headers)


def test_SEC23_login_pages_are_not_stored(web, alice, clock):
    """WSTG-ATHN-06."""
    assert_no_store(web.get("/login/"))
    assert_no_store(log_in_step_one(web, "alice", WRONG))
    log_in_step_one(web)
    assert_no_store(web.get("/login/code/"))
    assert_no_store(csrf_post(web, "/login/code/", {"code_1": "ZZZ", "code_2": "YYY"}))


@pytest.mark.parametrize("path", ["/", "/settings/security/sls/", "/logout/", "/help/"])
def test_SEC23_pages_behind_login_are_not_stored(web, alice, clock, path):
    """WSTG-ATHN-06: every page seen logged in, even a public one showing the menu."""
    login_fully(web, alice)
    response = web.get(path)
    assert response.status_code == 200
    assert_no_store(response)


@pytest.mark.parametrize("path", ["/login/", "/", "/help/"])
def test_SEC24_csp_without_inline_and_no_framing(web, alice, clock, path):
    """ASVS 14.4.3, 14.4.7, 5.0 V3.4.3, V3.4.6."""
    if path == "/":
        login_fully(web, alice)
    response = web.get(path)
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"


def test_SEC24_login_page_needs_no_inline_script_or_style(web, db):
    content = web.get("/login/").content
    assert not re.search(rb"<script(?![^>]*\bsrc=)", content)
    assert b" style=" not in content and b"<style" not in content
    assert not re.search(rb"\son[a-z]+=", content)  # no inline event handlers


# --- malformed input at login -----------------------------------------------------------------------


def assert_nothing_half_written() -> None:
    assert not PendingLogin.objects.exists()
    assert not LoginGuard.objects.exists()
    assert not LoginAttempt.objects.exists()


@pytest.mark.parametrize("username", ["alicé", "алиса", "アリス", "alice\u200b", "alice\x00"])
def test_L1_non_ascii_or_control_username_is_bad_character(web, alice, username):
    response = log_in_step_one(web, username, PASSWORD)
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content or b"Null characters are not allowed" in response.content
    assert_nothing_half_written()


def test_L1_ten_kilobyte_username_gets_the_L2_message(web, alice, hashes):
    response = log_in_step_one(web, "a" * 10_240, PASSWORD)
    assert response.status_code in (400, 401)
    assert INVALID in response.content
    assert hashes["verify"] == 0
    assert_nothing_half_written()


def test_L1_ten_kilobyte_username_of_symbols_is_bad_character(web, alice):
    response = log_in_step_one(web, "!" * 10_240, PASSWORD)
    assert response.status_code == 400 and b"BAD CHARACTER" in response.content
    assert_nothing_half_written()


def test_L2_ten_kilobyte_password_gets_a_clear_message(web, alice, hashes):
    response = log_in_step_one(web, "alice", "p" * 10_240)
    assert response.status_code == 400
    assert INVALID in response.content
    assert hashes["verify"] == 0
    assert_nothing_half_written()


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({"username": "alice"}, [b"Enter your password."]),
        ({"password": PASSWORD}, [b"Enter your username."]),
        ({"username": "", "password": ""}, [b"Enter your username.", b"Enter your password."]),
        ({}, [b"Enter your username.", b"Enter your password."]),
    ],
    ids=["no-password", "no-username", "both-empty", "empty-post"],
)
def test_L2_missing_fields_get_field_messages(web, alice, data, messages):
    response = csrf_post(web, "/login/", data)
    assert response.status_code == 400
    for message in messages:
        assert message in response.content
    assert_nothing_half_written()


def test_L2_ten_kilobyte_code_gets_a_clear_message(web, alice, clock):
    log_in_step_one(web)
    response = csrf_post(web, "/login/code/", {"code_1": "A" * 10_240, "code_2": "B" * 10_240})
    assert response.status_code == 400
    assert b"Login Failed" in response.content
    assert not LoginAttempt.objects.filter(step=LoginAttempt.Step.CODE).exists()


@pytest.mark.parametrize("codes", [("ÄÖÜ", "ßçé"), ("コード", "番号"), ("\x00AB", "ABC")])
def test_L2_non_ascii_code_is_a_plain_failure(web, alice, clock, codes):
    log_in_step_one(web)
    response = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert response.status_code in (400, 401)
    assert b"Login Failed" in response.content or b"Null characters are not allowed" in response.content


@pytest.mark.parametrize("data", [{"code_1": "ABC"}, {}], ids=["one-code", "empty-post"])
def test_L2_missing_codes_get_field_messages(web, alice, clock, data):
    log_in_step_one(web)
    positions = pending_positions(web)
    response = csrf_post(web, "/login/code/", data)
    assert response.status_code == 400
    assert f"Enter the code printed under number {positions[1]}.".encode() in response.content


def test_SEC6_the_dummy_hash_exists_before_the_first_request():
    """Issue 1.6: an unknown username is checked against a hash made when the
    app starts, so a worker's first unknown username is no slower than a
    wrong password (the hash is not built on first use)."""
    from django.contrib.auth.hashers import identify_hasher

    from login import flows

    assert flows._dummy_hash is not None
    assert identify_hasher(flows._dummy_hash).algorithm.startswith("argon2")
