"""L4: codes are typed without spaces; a code that breaks the rule gets
Login Failed with a hint naming it (the contract test runs it over every kind)."""

from __future__ import annotations

import pytest

from tests.conftest import (
    PASSWORD,
    csrf_post,
)


@pytest.mark.parametrize("code", ["A A", " AB"])
def test_L4_spaces_get_hint(web, alice, code):
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    response = csrf_post(web, "/login/code/", {"code_1": code, "code_2": "ABC"})
    assert b"Login Failed" in response.content
    assert b"without spaces" in response.content
