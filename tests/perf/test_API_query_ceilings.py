"""The platform API's two login steps and its session check cost a
constant, small number of queries, whatever the number of users, devices
or stored failures (as the web's: tests/perf/test_query_ceilings.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from login.models import LoginGuard
from tests.conftest import PASSWORD, card_codes_for
from tests.perf.test_query_ceilings import GROWTHS, RESETTING, queries_of

# The whole request, middleware included (the web's are 24 and 28). The API
# reads and writes no web session, but step 2 reads the client's accounts
# (A8), writes its platform session and records last_login; a session check
# reads the session with its user and client, the factor, the accounts.
API_STEP_ONE_CEILING = 14
API_STEP_TWO_CEILING = 16
API_SESSION_CEILING = 5


@pytest.fixture(autouse=True)
def alice_seen_before(db):
    LoginGuard.objects.get_or_create(username="alice")


def _post(http: HttpClient, path: str, body: dict):
    return http.post(path, json.dumps(body), content_type="application/json")


def _login(alice) -> tuple[int, int, int]:
    """The queries of step 1, step 2 and a session check, for one full login."""
    http = HttpClient()
    answers = {}
    first = queries_of(
        lambda: answers.setdefault(
            "one", _post(http, "/api/platform/login", {"username": "alice", "password": PASSWORD})
        )
    )
    challenge = answers["one"].json()
    code = "".join(card_codes_for(alice, challenge["challenge"]["positions"]))
    body = {"login_token": challenge["login_token"], "code": code}
    second = queries_of(lambda: answers.setdefault("two", _post(http, "/api/platform/login/verify", body)))
    token = answers["two"].json()["session"]["token"]
    check = queries_of(lambda: http.get("/api/platform/session", HTTP_AUTHORIZATION=f"Bearer {token}"))
    return first, second, check


@pytest.mark.parametrize("grow", GROWTHS.values(), ids=GROWTHS.keys())
def test_L2_api_query_counts_are_constant(alice, clock, grow):
    first, second, check = _login(alice)
    grow(alice, clock)
    assert _login(alice) == (first, second + (grow in RESETTING), check)
    assert first <= API_STEP_ONE_CEILING
    assert second + 1 <= API_STEP_TWO_CEILING  # + the reset of a count
    assert check <= API_SESSION_CEILING


def test_L2_api_login_stays_under_the_ceilings_with_much_data(alice, clock, django_assert_max_num_queries):
    GROWTHS["all-at-once"](alice, clock)
    http = HttpClient()
    with django_assert_max_num_queries(API_STEP_ONE_CEILING):
        first = _post(http, "/api/platform/login", {"username": "alice", "password": PASSWORD})
    challenge = first.json()
    code = "".join(card_codes_for(alice, challenge["challenge"]["positions"]))
    with django_assert_max_num_queries(API_STEP_TWO_CEILING):
        second = _post(http, "/api/platform/login/verify", {"login_token": challenge["login_token"], "code": code})
    assert second.status_code == 200
    token = second.json()["session"]["token"]
    with django_assert_max_num_queries(API_SESSION_CEILING):
        assert http.get("/api/platform/session", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
