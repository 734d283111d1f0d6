"""A9: client pages say rules in words. No page a client can see cites our
documents or shows a rule ID; IDs go to the audit, the API's `rule` field and
the agents' views only."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import access
from tests.conftest import PASSWORD, csrf_post, login_fully

pytestmark = pytest.mark.django_db

FORBIDDEN = [
    re.compile(r"SECURITY\.md"),
    re.compile(r"ARCHITECTURE\.md"),
    re.compile(r"RULES\.md"),
    re.compile(r"principle", re.IGNORECASE),
    re.compile(r"\(s\d+"),
    re.compile(r"\b[LADCRTBHJ]\d+\b"),
    re.compile(r"\bSEC\d+"),
]


def visible_text(content: bytes) -> str:
    text = content.decode()
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<!--.*?-->", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html.unescape(text)


def assert_clean(response, what: str, *, status_below: int = 500) -> None:
    assert response.status_code < status_below, what
    text = visible_text(response.content)
    for pattern in FORBIDDEN:
        found = pattern.search(text)
        assert found is None, f"{what}: {found.group(0)!r} in …{text[max(0, found.start() - 80) : found.end() + 40]}…"


def _pages(language: str, alice, bob, closed) -> list[tuple[str, object]]:
    pages = []

    def fresh() -> HttpClient:
        http = HttpClient(raise_request_exception=False)
        http.cookies["django_language"] = language
        return http

    anon = fresh()
    for path in ("/login/", "/login/forgot/", "/help/", "/help/contact/", "/logout/", "/no-such-page/"):
        pages.append((path, anon.get(path)))
    pages.append(("step 1 refused", csrf_post(anon, "/login/", {"username": "alice", "password": "wrong"})))
    pages.append(("bad character", csrf_post(anon, "/login/", {"username": "ali ce", "password": "x"})))
    pages.append(("step 2 expired", fresh().get("/login/code/")))

    step2 = fresh()
    csrf_post(step2, "/login/", {"username": "alice", "password": PASSWORD})
    pages.append(("step 2", step2.get("/login/code/")))
    pages.append(("step 2, code with a space", csrf_post(step2, "/login/code/", {"code_1": "A B", "code_2": "C D"})))

    locked = fresh()
    for _ in range(10):
        csrf_post(locked, "/login/", {"username": "bob", "password": "wrong"})
    pages.append(("locked", csrf_post(locked, "/login/", {"username": "bob", "password": PASSWORD})))

    for user in (alice, closed):
        http = fresh()
        login_fully(http, user)
        for path in ("/", "/settings/security/sls/", "/returns/", "/logout/"):
            pages.append((f"{user.username} {path}", http.get(path)))

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    reset = fresh()
    link = reset.get(f"/password/reset/{uid}/{default_token_generator.make_token(alice)}/", follow=True)
    pages.append(("password reset form", link))
    pages.append(("password reset, dead link", fresh().get(f"/password/reset/{uid}/bad-token/", follow=True)))
    pages.append(("password reset complete", fresh().get("/password/reset/complete/")))

    request = RequestFactory().get("/withdrawals/", HTTP_ACCEPT_LANGUAGE=language)
    request.user, request.sls_scope = bob, access.UNENROLLED
    pages.append(("scope refusal", access.refusal(request, rule="D8", message="This page needs a login.")))
    return pages


@pytest.mark.parametrize("language", ["en", "it"])
def test_A9_client_pages_cite_no_document_and_show_no_rule_id(language, alice, bob, client_factory, clock):
    from accounts.models import User

    client_factory("Carla", "Chiusi", "IT", username="closed1", closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    closed = User.objects.get(username="closed1")
    for what, response in _pages(language, alice, bob, closed):
        assert_clean(response, f"{language} {what}")


def test_A9_error_pages_cite_no_document(settings):
    from help.views import server_error

    assert_clean(server_error(RequestFactory().get("/")), "500", status_below=501)
