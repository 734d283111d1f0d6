"""SECURITY.md 19 (ASVS 5.1.5): ?next= redirects only within the site."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import (
    PASSWORD,
    card_codes_for,
    csrf_post,
    pending_positions,
)


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
