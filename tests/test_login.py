"""L1, L2, L4: the two login steps on the web."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, card_codes_for, csrf_post, login_fully, pending_positions


def page_text(response, username: str) -> bytes:
    """The page without its per-response CSRF token and the typed username."""
    masked = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)
    return masked.replace(username.encode(), b"<username>")


def test_L2_full_two_step_login_with_code_card(web, alice, clock):
    response = login_fully(web, alice)
    assert response.status_code == 302 and response.url == "/"
    page = web.get("/")
    assert page.status_code == 200
    assert b"U000" in page.content


def test_L1_bad_character_before_password_check(web, alice):
    response = csrf_post(web, "/login/", {"username": "alice!", "password": PASSWORD})
    assert response.status_code == 400
    assert b"BAD CHARACTER" in response.content
    assert b"/help/#bad-character" in response.content


def test_L2_unknown_user_and_wrong_password_same_answer(web, alice):
    wrong = csrf_post(web, "/login/", {"username": "alice", "password": "nope nope nope"})
    unknown = csrf_post(web, "/login/", {"username": "nobody", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert b"Invalid user name password combination" in wrong.content
    assert page_text(wrong, "alice") == page_text(unknown, "nobody")


def test_L2_wrong_code_login_failed_and_new_challenge(web, alice, clock):
    from login.models import PendingLogin

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


@pytest.mark.parametrize("code", ["A A", " AB"])
def test_L4_spaces_get_hint(web, alice, code):
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    response = csrf_post(web, "/login/code/", {"code_1": code, "code_2": "ABC"})
    assert b"Login Failed" in response.content
    assert b"without spaces" in response.content
