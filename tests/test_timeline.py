"""The agents' timeline of a client (issue item 9) and the client's own
security activity on the Secure Login System page (issue item 8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from agents import actions
from audit import trail
from audit.models import AuditEvent
from devices import activity
from devices.models import DeviceStatus, SecurityDevice
from tests.conftest import (
    PASSWORD,
    VERIFIED,
    admin_client,
    attempt,
    client_url,
    csrf_post,
    fail,
    give_online_card,
    give_passcode,
    lock,
    login_fully,
)

SECOND = timedelta(seconds=1)
RULE_ID = re.compile(r"\b(?:[ALCDRTBHJ][1-9]|SEC\d+)\b")


def timeline_path(user: User) -> str:
    return client_url(user, "timeline")


def now_row(page: str, username: str) -> str:
    """The row of `username` in "what the client can do now"."""
    table = page.split('class="timeline-now"', 1)[1].split("</table>", 1)[0]
    row = re.search(rf"<th scope=\"row\">{username}</th>(.*?)</tr>", table, re.S)
    assert row, table
    return re.sub(r"\s+", " ", row.group(1))


def add_events(user: User, count: int) -> None:
    for index in range(count):
        trail.record("login", client=user.client, username=user.username, details={"channel": "web", "n": index})


# --- item 9: the agents' timeline -------------------------------------------------


def test_A1_timeline_is_linked_from_the_client_page_and_says_the_device_allows_full_access(desk, alice, clock):
    change = desk.get(f"/admin/accounts/client/{alice.client_id}/change/").content.decode()
    assert timeline_path(alice) in change
    page = desk.get(timeline_path(alice)).content.decode()
    row = now_row(page, "alice")
    serial = SecurityDevice.objects.get(client=alice.client).serial
    assert f"Security Code Card {serial}" in row and "full access, withdrawals included" in row


def test_A2_A3_timeline_says_what_a_passcode_allows_now_and_until_when(agent, alice, clock):
    give_passcode(alice)

    def row_now() -> str:
        # A new admin session each time: the clock jumps past a session's lifetime.
        return now_row(admin_client(agent).get(timeline_path(alice)).content.decode(), "alice")

    row = row_now()
    # NOW is 2026-11-02 09:00 UTC; alice is in Italy (CET).
    assert "temporary passcode" in row
    assert "full access except withdrawals" in row and "2026-11-04 09:00 UTC (2026-11-04 10:00 CET)" in row
    assert "then only the pages to print and activate the online card" in row and "2026-11-14 09:00 UTC" in row

    clock.shift(timedelta(days=2))
    row = row_now()
    assert "full access except" not in row and "only the pages to print" in row
    clock.shift(timedelta(days=10))
    row = row_now()
    assert "expired at 2026-11-14 09:00 UTC" in row and "(A7)" in row


def test_A4_timeline_says_until_when_the_online_card_gives_full_access(desk, alice, clock):
    give_passcode(alice)
    give_online_card(alice)
    row = now_row(desk.get(timeline_path(alice)).content.decode(), "alice")
    assert "online card" in row and "2026-11-23 09:00 UTC (2026-11-23 10:00 CET)" in row


def test_L3_timeline_shows_the_lock_and_when_it_ends(desk, alice, clock):
    lock("alice")
    row = now_row(desk.get(timeline_path(alice)).content.decode(), "alice")
    assert "nothing: locked" in row and "Locked until 2026-11-03 09:00 UTC" in row and "(L3)" in row


def test_timeline_merges_every_kind_of_history_newest_first_with_rule_ids(desk, web, agent, alice, clock, mailoutbox):
    give_passcode(alice)  # reports the card lost (D5), issues the passcode (A2)
    clock.shift(timedelta(hours=1))
    give_online_card(alice)
    clock.shift(timedelta(hours=1))
    actions.order_device(
        alice.client, agent=agent, now=timezone.now(), new_verification=actions.NewVerification("callback", "CALL-2")
    )
    clock.shift(timedelta(hours=1))
    fail(web, "alice", 2)
    page = desk.get(timeline_path(alice)).content.decode()
    body = page.split('class="timeline"', 1)[1]
    texts = re.findall(r"<tr(?: class=\"scheduled\")?>\s*<th scope=\"row\">.*?</tr>", body, re.S)
    flat = [re.sub(r"<[^>]+>|\s+", " ", text) for text in texts]
    joined = "\n".join(flat)
    for expected in (
        "Temporary passcode issued",
        "Reported lost",
        "Online card activated",
        "requested to replace",
        "passcode.issued",
        "device.order.placed",
        "login.password",
        "Full access ends",
        "Online card expires",
    ):
        assert expected in joined, expected
    # Rule IDs for agents, the client's zone beside UTC.
    assert re.search(r"passcode\.issued.*\bA2\b", joined) and "D5" in joined and "L2" in joined
    assert "CET" in joined
    # Newest first: the scheduled moments at the top, then the failed passwords, ... the passcode issued.
    order = [i for i, line in enumerate(flat) if "login.password" in line]
    issued = [i for i, line in enumerate(flat) if "Temporary passcode issued" in line]
    scheduled = [i for i, text in enumerate(texts) if 'class="scheduled"' in text]
    assert scheduled and max(scheduled) < min(order) < min(issued)


@pytest.mark.parametrize("events", [5, 50])
def test_timeline_costs_a_fixed_number_of_queries_whatever_the_history(
    desk, alice, clock, django_assert_max_num_queries, events
):
    give_passcode(alice)
    give_online_card(alice)
    add_events(alice, events)
    with django_assert_max_num_queries(20):
        assert desk.get(timeline_path(alice)).status_code == 200


def test_timeline_queries_do_not_grow_from_5_to_50_events(desk, alice, clock):
    give_passcode(alice)
    give_online_card(alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(timeline_path(alice)).status_code == 200
        return len(queries)

    add_events(alice, 5)
    few = count()
    add_events(alice, 45)
    assert count() == few


def test_timeline_caps_the_audit_events_and_links_to_the_rest(desk, alice, clock, settings):
    settings.SLS = {**settings.SLS, "AGENT_TIMELINE_EVENTS": 10}
    add_events(alice, 30)
    page = desk.get(timeline_path(alice)).content.decode()
    assert len(re.findall(r'href="/admin/audit/auditevent/\d+/change/"', page)) == 10
    assert "The latest 10 audit events are shown." in page
    assert f"/admin/audit/auditevent/?client__id__exact={alice.client_id}" in page
    assert desk.get(f"/admin/audit/auditevent/?client__id__exact={alice.client_id}").status_code == 200


def test_timeline_needs_the_client_view_permission(db, alice, clock):
    from tests.conftest import staff_user

    http = admin_client(staff_user("nobody"))
    assert http.get(timeline_path(alice)).status_code == 403


def test_SEC17_timeline_shows_only_this_clients_history(desk, alice, charlie, clock):
    give_passcode(charlie)
    add_events(charlie, 3)
    page = desk.get(timeline_path(alice)).content.decode()
    assert "charlie" not in page and SecurityDevice.objects.get(client=charlie.client).serial not in page


# --- item 8: the client's own security activity ----------------------------------------


def activity_section(response) -> str:
    page = response.content.decode()
    assert 'id="activity-title"' in page, page[:500]
    section = page.split('id="activity-title"', 1)[1].split("</section>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def test_L2_activity_lists_logins_with_time_channel_and_credential(web, alice, clock):
    login_fully(web, alice)
    trail.record(
        "login",
        client=alice.client,
        username="alice",
        details={"channel": "platform", "factor": "temporary_passcode"},
        at=timezone.now() - timedelta(hours=2),
    )
    text = activity_section(web.get("/settings/security/sls/"))
    # 09:00 UTC is 10:00 in Rome in November.
    assert "2026-11-02 10:00 Logged in with Security Code Card website" in text
    assert "2026-11-02 08:00 Logged in with a temporary passcode trading platform" in text
    assert "Europe/Rome" in text


def test_L3_activity_lists_failed_attempts_the_lock_and_the_unlock(web, desk, alice, clock):
    fail(web, "alice", 9)
    clock.shift(timedelta(minutes=1))
    fail(web, "alice", 1)  # the tenth locks
    clock.shift(timedelta(minutes=1))
    assert b"locked" in attempt(web, "alice", PASSWORD).content
    csrf_post(desk, f"/admin/accounts/user/{alice.pk}/unlock/", VERIFIED)
    clock.shift(timedelta(minutes=1))
    login_fully(web, alice)
    text = activity_section(web.get("/settings/security/sls/"))
    assert text.count("Failed login: wrong username or password.") == 10
    assert "Your username was locked until 2026-11-03 10:01." in text
    assert "Login refused: your username was locked" in text
    assert "Customer Service unlocked your username" in text


def test_A2_activity_lists_the_passcode_issued_and_the_device_reported(web, alice, clock):
    from tests.test_agents_passcodes import web_login_with_passcode

    code = give_passcode(alice)
    clock.shift(SECOND)
    web = web_login_with_passcode(alice, code)
    text = activity_section(web.get("/settings/security/sls/"))
    serial = SecurityDevice.objects.get(client=alice.client).serial
    assert "Customer Service issued a temporary passcode for username alice" in text
    assert f"Your Security Code Card {serial}: Reported lost" in text
    assert "Logged in with a temporary passcode" in text


def test_A9_activity_shows_no_rule_id_and_no_agent(web, agent, alice, clock):
    give_passcode(alice, device_status=DeviceStatus.STOLEN)
    fail(web, "alice", 2)
    entries = activity.recent_activity(alice, timezone.now())
    assert len(entries) >= 3
    for entry in entries:
        assert not RULE_ID.search(entry.what), entry.what
        assert agent.username not in entry.what


def test_SEC17_another_clients_events_never_appear(alice, charlie, clock):
    """ASVS 4.2.1: charlie's logins, failures, passcodes and devices are not alice's activity."""
    give_passcode(charlie)
    trail.record("login", client=charlie.client, username="charlie", details={"channel": "web"})
    trail.record("login.password", username="charlie", outcome="failed", rule="L2")
    # Even an event that names alice's username but belongs to charlie.
    trail.record("login", client=charlie.client, username="alice", details={"channel": "web"})
    trail.record(
        "device.report", client=charlie.client, details={"serial": "SC9", "type": "code_card", "status": "lost"}
    )
    assert activity.recent_activity(alice, timezone.now()) == []
    mine = AuditEvent.objects.filter(username="alice", client=charlie.client)
    assert mine.exists()


def test_SEC17_activity_on_the_page_is_only_the_username_own(web, alice, charlie, clock):
    give_passcode(charlie)
    fail(web, "charlie", 1)
    login_fully(web, alice)
    text = activity_section(web.get("/settings/security/sls/"))
    assert "charlie" not in text and "Failed login" not in text and "temporary passcode" not in text


def test_activity_is_capped_by_period_and_count(alice, clock, settings):
    settings.SLS = {**settings.SLS, "SECURITY_ACTIVITY_ENTRIES": 7}
    old = timezone.now() - settings.SLS["SECURITY_ACTIVITY_PERIOD"] - SECOND
    trail.record("login", client=alice.client, username="alice", details={"channel": "web"}, at=old)
    assert activity.recent_activity(alice, timezone.now()) == []
    add_events(alice, 20)
    assert len(activity.recent_activity(alice, timezone.now())) == 7


@pytest.mark.parametrize("events", [5, 50])
def test_activity_costs_two_queries_whatever_the_history(alice, clock, django_assert_max_num_queries, events):
    for _ in range(events):
        trail.record(
            "login",
            client=alice.client,
            username="alice",
            details={"channel": "web", "factor": "device", "device": "X"},
        )
    user = User.objects.select_related("client").get(username="alice")
    with django_assert_max_num_queries(2):
        assert len(activity.recent_activity(user, timezone.now())) == events


def test_L2_activity_words_the_platform_and_the_refusals(alice, clock):
    trail.record("login.password", username="alice", outcome="failed", rule="L2", details={"channel": "platform"})
    trail.record(
        "login.code",
        client=alice.client,
        username="alice",
        outcome="refused",
        rule="A3",
        details={"channel": "platform", "code": "passcode_platform_window_over"},
    )
    entries = activity.recent_activity(alice, timezone.now())
    assert [(entry.what, entry.channel) for entry in entries] == [
        (
            "Login refused after the right code: your temporary passcode no longer opens the trading platform",
            "trading platform",
        ),
        ("Failed login: wrong username or password.", "trading platform"),
    ]
    assert all(entry.attention for entry in entries)
