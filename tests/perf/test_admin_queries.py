"""The agents' lists at scale: query counts that do not grow with the rows,
no DISTINCT and no full COUNT(*), prefix searches served by their indexes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User


@pytest.mark.parametrize("url", ["/admin/accounts/user/", "/admin/accounts/client/", "/admin/devices/securitydevice/"])
def test_change_lists_use_constant_queries(desk, client_factory, agent, url):
    """ARCHITECTURE.md Scale: a list's query count does not grow with its rows (list_select_related)."""
    from devices.flows import issue_code_card

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(url).status_code == 200
        return len(queries)

    person = client_factory("Dan", "Uno", username="dan")
    issue_code_card(person, agent=agent, now=timezone.now())
    few = count()
    for index in range(5):
        person = client_factory(f"P{index}", "Many", username=f"p{index}")
        issue_code_card(person, agent=agent, now=timezone.now())
    assert count() == few


def test_searches_need_no_distinct_and_lists_no_full_count(desk, alice, bob):
    """No DISTINCT over a join of accounts and usernames; no COUNT(*) of every row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for url, params in (
        ("/admin/accounts/client/", {"q": "rossi"}),
        ("/admin/accounts/user/", {"q": "rossi"}),
        ("/admin/accounts/user/", {}),
        ("/admin/accounts/client/", {}),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(url, params).status_code == 200
        sql = " ".join(query["sql"] for query in queries.captured_queries).upper()
        assert "DISTINCT" not in sql, url
        counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert all("LIMIT" in q.upper() for q in counts), counts


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("admin_model", "index"),
    [
        ("client", "client_last_name_prefix"),
        ("client", "client_email_prefix"),
        ("client", "client_first_name_prefix"),
        ("user", "user_email_prefix"),
    ],
)
def test_prefix_search_uses_its_index_on_postgresql(postgresql, alice, rf, agent, admin_model, index):
    """The search's istartswith (UPPER(col) LIKE UPPER(..)) is served by the UPPER(col)
    text_pattern_ops index: the plan names it (sequential scans off, as at a million rows)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Client
    from agents.admin_site import admin_site

    model = {"client": Client, "user": User}[admin_model]
    model_admin = admin_site._registry[model]
    request = rf.get("/")
    request.user = agent
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    with CaptureQueriesContext(connection) as queries:
        queryset, duplicates = model_admin.get_search_results(request, model.objects.all(), "ros")
        list(queryset[:100])
    assert duplicates is False
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert any(index in plan for plan in plans), plans
    assert not any("Seq Scan" in plan for plan in plans), plans
