"""SECURITY.md 16 (ASVS 4.2.2; WSTG-SESS-05): every state-changing POST fails
without a token; no state change on GET."""

from __future__ import annotations

from django.conf import settings as django_settings

from login import lockout
from login.models import LoginGuard, PendingLogin
from tests.conftest import (
    PASSWORD,
    VERIFIED,
    admin_client,
    card_codes_for,
    lock,
    log_in_step_one,
    login_fully,
    pending_positions,
    user_url,
)

CSRF_PAGE = b"This form has expired"


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


def test_SEC16_agent_action_without_csrf_token_refused(alice, agent):
    """SECURITY.md 16 (ASVS 4.2.2): an agent action POST without a token fails and changes nothing."""
    http = admin_client(agent)
    lock("alice")
    response = http.post(user_url(alice, "unlock"), VERIFIED)
    assert response.status_code == 403
    assert lockout.locked_until("alice") is not None
