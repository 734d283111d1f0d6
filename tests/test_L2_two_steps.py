"""L2: two factors, the same answer whether or not the username exists
(SECURITY.md 6: no enumeration), and malformed input at either step."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from audit.models import AuditEvent
from login.models import LoginAttempt, PendingLogin
from tests.conftest import (
    INVALID,
    PASSWORD,
    WRONG,
    assert_nothing_half_written,
    card_codes_for,
    csrf_post,
    log_in_step_one,
    login_fully,
    masked,
    pending_positions,
)


def templates(response) -> list[str]:
    return [template.name for template in response.templates]


def test_L2_full_two_step_login_with_code_card(web, alice, clock):
    response = login_fully(web, alice)
    assert response.status_code == 302 and response.url == "/"
    page = web.get("/")
    assert page.status_code == 200
    assert b"U000" in page.content


def test_L2_unknown_user_and_wrong_password_same_answer(web, alice):
    wrong = csrf_post(web, "/login/", {"username": "alice", "password": "nope nope nope"})
    unknown = csrf_post(web, "/login/", {"username": "nobody", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert b"Invalid user name password combination" in wrong.content
    assert masked(wrong, "alice") == masked(unknown, "nobody")


@pytest.mark.parametrize("unknown", ["nobody", "Alice", "agent7"])
def test_L2_unknown_username_and_wrong_password_look_the_same(web, alice, agent, hash_counter, unknown):
    """ASVS 5.0 V6.3.8; WSTG-ATHN-04: same text, status, template and one hash each.

    "Alice" is alice typed with a capital (L1: simply wrong); agent7 is a
    staff username, which cannot log in to the client portal."""
    wrong = log_in_step_one(web, "alice", WRONG)
    assert hash_counter["verify"] == 1
    hash_counter.clear()
    other = log_in_step_one(web, unknown, WRONG)
    assert hash_counter["verify"] == 1
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


def test_SEC6_the_dummy_hash_exists_before_the_first_request():
    """Issue 1.6: an unknown username is checked against a hash made when the
    app starts, so a worker's first unknown username is no slower than a
    wrong password (the hash is not built on first use)."""
    import subprocess
    import sys

    from django.conf import settings

    script = (
        "import django; django.setup(); "
        "from django.contrib.auth.hashers import identify_hasher; from login import flows; "
        "print(identify_hasher(flows._dummy_hash).algorithm)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sls_portal.settings_test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Without the start-up build _dummy_hash is still None here and identify_hasher raises.
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("argon2")


def test_L2_wrong_code_login_failed_and_new_challenge(web, alice, clock):

    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    asked = PendingLogin.objects.get(user=alice).challenge_serial
    response = csrf_post(web, "/login/code/", {"code_1": "AAA", "code_2": "BBB"})
    assert response.status_code == 401
    assert b"Login Failed" in response.content
    # The attempt consumed the challenge: the page asks a new one.
    assert PendingLogin.objects.get(user=alice).challenge_serial == asked + 1
    after = pending_positions(web)
    # A person retypes in more than the one second the device then waits.
    clock.shift(timedelta(seconds=2))
    codes = card_codes_for(alice, after)
    ok = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert ok.status_code == 302 and ok.url == "/"


def test_L2_ten_kilobyte_password_gets_a_clear_message(web, alice, hash_counter):
    response = log_in_step_one(web, "alice", "p" * 10_240)
    assert response.status_code == 400
    assert INVALID in response.content
    assert hash_counter["verify"] == 0
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


@pytest.mark.parametrize("codes", [("ÄÖÜ", "ßçé"), ("コード", "番号")])
def test_L2_non_ascii_code_is_a_plain_failure(web, alice, clock, codes):
    log_in_step_one(web)
    response = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert response.status_code == 401
    assert b"Login Failed" in response.content
    assert LoginAttempt.objects.filter(step=LoginAttempt.Step.CODE, outcome=LoginAttempt.Outcome.FAILED).count() == 1


def test_L2_nul_in_a_code_is_a_field_error(web, alice, clock):
    log_in_step_one(web)
    response = csrf_post(web, "/login/code/", {"code_1": "\x00AB", "code_2": "ABC"})
    assert response.status_code == 400
    assert b"Null characters are not allowed" in response.content
    assert not LoginAttempt.objects.filter(step=LoginAttempt.Step.CODE).exists()


@pytest.mark.parametrize("data", [{"code_1": "ABC"}, {}], ids=["one-code", "empty-post"])
def test_L2_missing_codes_get_field_messages(web, alice, clock, data):
    log_in_step_one(web)
    positions = pending_positions(web)
    response = csrf_post(web, "/login/code/", data)
    assert response.status_code == 400
    assert f"Enter the code printed under number {positions[1]}.".encode() in response.content
