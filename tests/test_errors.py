"""Our own error pages (400, 403, 404, 500), and no 500 on any input: the
requests anyone could make before logging in, and an agent's."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from tests.conftest import (
    admin_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon():
    return HttpClient(raise_request_exception=False)


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.urls_errors"
    assert settings.DEBUG is False


ACTION_PATHS = [
    "/admin/accounts/user/{id}/unlock/",
    "/admin/accounts/user/{id}/send-password-reset/",
    "/admin/accounts/user/{id}/end-sessions/",
    "/admin/accounts/client/{id}/verify-identity/",
    "/admin/accounts/client/{id}/issue-code-card/",
    "/admin/devices/securitydevice/{id}/printout/",
]


def test_session_cookie_with_nul_byte_is_a_new_session(anon):
    anon.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    response = anon.get("/login/")
    assert response.status_code == 200


@pytest.mark.parametrize("key", ["ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "a" * 41, "abc def", "é" * 32, "a;b"])
def test_session_cookie_outside_the_key_alphabet_is_a_new_session(anon, key):
    anon.cookies["sessionid"] = key
    assert anon.get("/login/").status_code == 200


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "cp1252"])
def test_form_post_with_a_bad_charset_is_a_clean_400(charset):
    http = HttpClient(enforce_csrf_checks=True, raise_request_exception=False)
    http.cookies["csrftoken"] = "x" * 32
    response = http.generic(
        "POST",
        "/login/",
        b"username=alice&password=x&csrfmiddlewaretoken=" + b"x" * 32,
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400


@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_SEC16_form_post_with_a_bad_charset_and_no_csrf_cookie_is_a_clean_403(charset):
    http = HttpClient(enforce_csrf_checks=True, raise_request_exception=False)
    response = http.generic(
        "POST", "/login/", b"username=alice", content_type=f"application/x-www-form-urlencoded; charset={charset}"
    )
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert b"Customer Service" in response.content


def test_unknown_charset_is_read_as_utf8_not_a_500():
    """Django ignores a charset it has no codec for and reads the form as UTF-8:
    the login form is read and answered (a wrong password), not a 400 or 500."""
    http = HttpClient(enforce_csrf_checks=True, raise_request_exception=False)
    http.cookies["csrftoken"] = "x" * 32
    response = http.generic(
        "POST",
        "/login/",
        b"username=alice&password=x&csrfmiddlewaretoken=" + b"x" * 32,
        content_type="application/x-www-form-urlencoded; charset=bogus-codec",
    )
    assert response.status_code == 401
    assert b"Invalid user name password combination" in response.content


@pytest.mark.parametrize(
    ("path", "status", "english", "italian"),
    [
        ("/no-such-page/", 404, "Page not found", "Pagina non trovata"),
        ("/denied/", 403, "You cannot open this page", "Non è possibile aprire questa pagina"),
        ("/boom/", 500, "Something went wrong on our side", "Si è verificato un errore da parte nostra"),
    ],
)
def test_error_pages_are_ours_translated_with_the_contact_numbers(failing_urls, path, status, english, italian):
    http = HttpClient(raise_request_exception=False)
    response = http.get(path)
    assert response.status_code == status
    page = response.content.decode()
    assert english in page
    assert "+41-41-726-9500" in page  # the regional numbers
    assert 'class="site-header"' in page  # the site's layout
    http.cookies["django_language"] = "it"
    page = http.get(path).content.decode()
    assert italian in page
    assert 'lang="it"' in page


def test_400_page_is_ours_and_translated():
    http = HttpClient(enforce_csrf_checks=True, raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="it")
    http.cookies["csrftoken"] = "x" * 32
    response = http.generic(
        "POST", "/login/", b"username=alice", content_type="application/x-www-form-urlencoded; charset=latin-1"
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Impossibile leggere questa richiesta" in page
    assert "+41-41-726-9500" in page


def test_500_page_renders_without_the_database(django_assert_num_queries):
    """The 500 page asks nothing of the database (it may be what failed). The
    module's django_db mark allows queries, so the count is asserted."""
    from django.test import RequestFactory
    from django.utils import translation

    from help.views import server_error

    with translation.override("it"), django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Si è verificato un errore da parte nostra" in page
    assert "+41-41-726-9500" in page


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert client.get(response.url).status_code == 200


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-1", "99999999999999999999999", "%C2%B2", "%00"])
@pytest.mark.parametrize("path", ACTION_PATHS)
def test_agent_action_with_a_non_integer_id_is_404(root, bad_id, path):
    """No 500 on any input: an action URL whose id is not a number is a 404 (400 for a NUL)."""
    response = admin_client(root).get(path.format(id=bad_id))
    assert response.status_code == (400 if bad_id == "%00" else 404)


@pytest.mark.postgres
@pytest.mark.parametrize("path", ACTION_PATHS)
def test_agent_action_with_a_non_integer_id_is_404_on_postgresql(postgresql, root, path):
    """The same on PostgreSQL, which refuses a too-large number or a NUL in a query."""
    http = admin_client(root)
    for bad_id, status in (("abc", 404), ("99999999999999999999999", 404), ("%00", 400)):
        assert http.get(path.format(id=bad_id)).status_code == status, bad_id


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditevent/?outcome=%00failed",
        "/admin/audit/auditevent/?action=a%00b",
        "/admin/audit/auditevent/?q=%00",
        "/admin/accounts/user/?q=ali%00ce",
        "/admin/autocomplete/?term=%00x&app_label=devices&model_name=securitydevice&field_name=client",
    ],
)
def test_nul_in_admin_filters_and_autocomplete_is_400(root, alice, url):
    """No 500 on any input: a NUL in a filter, a search or the autocomplete term is a 400 (PostgreSQL refuses it)."""
    response = admin_client(root).get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content
