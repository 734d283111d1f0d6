"""The platform API fuzzed against its OpenAPI file (issue 9 item 6): no
500, and every response matches the schema (status, content type, headers,
body), for requests made from the schema and for requests that break it.

schemathesis loads the file from the site itself (GET
/api/platform/openapi.json through the WSGI application) and calls the
application in-process, so the calls share the test's database
transaction. The run is deterministic (`deterministic`, no example
database) and bounded (MAX_EXAMPLES per operation and mode, plus the
coverage phase's boundary cases): a few seconds.

Locks: the fuzzer's usernames are its own (the schema's example `jdoe1`
and random ones), which no fixture has; they may lock during a run, which
the schema documents (403 `locked_out`). The second test logs in real
fixtures' usernames at every example to hand the fuzzer live tokens, and
its wrong codes would lock alice after ten examples: each example starts
from a clean count, so the run does not depend on how many came before.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client as HttpClient
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig

from login.models import LoginGuard
from tests.conftest import PASSWORD

MAX_EXAMPLES = 20
CONFIG = SchemathesisConfig.from_dict(
    {"generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"}}
)
HOST = "localhost"  # the Host header of schemathesis's WSGI client

with override_settings(ALLOWED_HOSTS=[HOST]):
    schema = schemathesis.openapi.from_wsgi("/api/platform/openapi.json", get_wsgi_application(), config=CONFIG)


@pytest.fixture(autouse=True)
def _host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


@contextmanager
def _tests_connection_kept():
    """The real WSGI handler closes "old" database connections when each
    request starts and ends, which Django's test client turns off around
    each of its requests: inside the test's transaction it would close the
    test's own connection on PostgreSQL (SQLite's in-memory one is never
    closed)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
def test_API_fuzz(case):
    with _tests_connection_kept():
        case.call_and_validate()


def _api_login(username: str) -> dict:
    response = HttpClient().post(
        "/api/platform/login",
        json.dumps({"username": username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@pytest.mark.django_db
@schema.include(path_regex=r"^/api/platform/(login/verify|session|logout)$").parametrize()
# The fixtures are made once for all examples, on purpose: each example
# makes its own tokens and starts from a clean count.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_API_fuzz_with_live_tokens(case, alice, bob):
    """Step 2 with a live login token (alice, code card), the session and
    logout with a live bearer token (bob, password only)."""
    LoginGuard.objects.filter(username__in=["alice", "bob"]).delete()  # a clean count (see above)
    if _positive(case):
        if case.path.endswith("/verify") and isinstance(case.body, dict):
            case.body["login_token"] = _api_login("alice")["login_token"]
            if "factor" in case.body:
                case.body["factor"] = "device"
        elif not case.path.endswith("/verify"):
            token = _api_login("bob")["session"]["token"]
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    with _tests_connection_kept():
        case.call_and_validate()
