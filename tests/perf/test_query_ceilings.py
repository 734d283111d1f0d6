"""ARCHITECTURE.md "Performance": a login costs one hash plus a constant,
small number of queries, whatever the number of users, devices or stored
failures. Each test measures a step, grows the data, and measures again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Client, User
from devices import codecard
from devices.models import DeviceBinding, DeviceStatus, DeviceType, SecurityDevice
from help.refusals import LoginRefusal
from login.models import LoginAttempt, LoginGuard
from tests.conftest import PASSWORD, card_codes_for, check_code_step, check_password_step, pending_positions

# Ceilings on the queries of each step: the flow functions alone, and the
# whole request (session, CSRF, middleware) on the web.
STEP_ONE_CEILING = 16
STEP_TWO_CEILING = 16
WEB_STEP_ONE_CEILING = 24
WEB_STEP_TWO_CEILING = 28

IP = "198.51.100.40"
Outcome = LoginAttempt.Outcome


def _clients(count: int, prefix: str) -> list[Client]:
    return Client.objects.bulk_create(
        [
            Client(
                first_name=f"{prefix}{index}",
                last_name="Other",
                email=f"{prefix}{index}@example.com",
                phone="+1 555 0100",
                address="1 Main St",
                country="US",
            )
            for index in range(count)
        ]
    )


def add_users(alice: User, clock) -> None:
    """200 more usernames, each with a failure history of its own."""
    encoded = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(username=f"other{index}", password=encoded, client=person)
            for index, person in enumerate(_clients(200, "u"))
        ]
    )
    guards = LoginGuard.objects.bulk_create([LoginGuard(username=user.username) for user in users])
    LoginAttempt.objects.bulk_create(
        [
            LoginAttempt(
                guard=guard, at=timezone.now(), step="password", outcome=Outcome.FAILED, ip=f"203.0.113.{index % 250}"
            )
            for index, guard in enumerate(guards)
            for _ in range(3)
        ]
    )


def _devices(clients, status: str, prefix: str) -> list[SecurityDevice]:
    devices = []
    for index, person in enumerate(clients):
        device = SecurityDevice(client=person, type=DeviceType.CODE_CARD, serial=f"{prefix}{index:08d}", status=status)
        device.set_seed(codecard.new_seed())
        devices.append(device)
    return SecurityDevice.objects.bulk_create(devices)


def add_devices(alice: User, clock) -> None:
    """Alice's old cards (revoked, still bound) and 200 other clients' active cards."""
    old = _devices([alice.client] * 30, DeviceStatus.REVOKED, "OLD")
    DeviceBinding.objects.bulk_create(
        [
            DeviceBinding(user=alice, security_device=device, name=str(device), confirmed=True, kind=device.type)
            for device in old
        ]
    )
    _devices(_clients(200, "d"), DeviceStatus.ACTIVE, "OTHER")


def add_nine_failures(alice: User, clock) -> None:
    clock.shift(timedelta(minutes=1))  # after any reset by a completed login
    guard, _ = LoginGuard.objects.get_or_create(username="alice")
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(guard=guard, at=timezone.now(), step="password", outcome=Outcome.FAILED, ip=IP) for _ in range(9)]
    )


def add_old_failures(alice: User, clock) -> None:
    """500 failures and refusals from the past month, all outside the 24-hour window."""
    guard, _ = LoginGuard.objects.get_or_create(username="alice")
    now = timezone.now()
    LoginAttempt.objects.bulk_create(
        [
            LoginAttempt(
                guard=guard,
                at=now - timedelta(days=1, minutes=index),
                step="code",
                outcome=Outcome.FAILED if index % 2 else Outcome.REFUSED,
                ip=IP,
            )
            for index in range(500)
        ]
    )


def add_everything(alice: User, clock) -> None:
    for grow in (add_users, add_devices, add_old_failures, add_nine_failures):
        grow(alice, clock)


GROWTHS: dict[str, Callable[[User, object], None]] = {
    "200-users": add_users,
    "many-devices": add_devices,
    "9-failures": add_nine_failures,
    "500-old-failures": add_old_failures,
    "all-at-once": add_everything,
}


@pytest.fixture(autouse=True)
def alice_seen_before(db):
    """Measurements compare like with like: a username seen before (its
    very first attempt costs the same, tested below)."""
    LoginGuard.objects.get_or_create(username="alice")


def test_L3_first_attempt_of_a_username_costs_no_more_queries(alice, clock):
    """The statement that locks a username's row makes it the first time."""

    def wrong(username: str):
        def attempt():
            with pytest.raises(LoginRefusal):
                check_password_step(username, "not the right password", ip=IP, channel="web", now=timezone.now())

        return attempt

    seen = queries_of(wrong("alice"))
    first_time = queries_of(wrong("nobody"))
    again = queries_of(wrong("nobody"))
    assert first_time == seen == again
    assert LoginGuard.objects.filter(username="nobody").count() == 1


def queries_of(action: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def step_one(password: str = PASSWORD):
    return check_password_step("alice", password, ip=IP, channel="web", now=timezone.now())


def step_two(alice: User) -> Callable[[], object]:
    """Passes step 1 (not measured) and returns the measured step 2."""
    step = step_one()
    response = "".join(card_codes_for(alice, step.positions))
    return lambda: check_code_step(step.token, response, ip=IP, channel="web", now=timezone.now())


@pytest.mark.parametrize("grow", GROWTHS.values(), ids=GROWTHS.keys())
def test_L2_step_one_query_count_is_constant(alice, clock, grow):
    before = queries_of(step_one)
    grow(alice, clock)
    after = queries_of(step_one)
    assert before == after <= STEP_ONE_CEILING


# Growths that leave failures inside the window: the completed login then
# resets the count, one UPDATE that a login with nothing to reset skips.
RESETTING = {add_nine_failures, add_everything}


@pytest.mark.parametrize("grow", GROWTHS.values(), ids=GROWTHS.keys())
def test_L2_step_two_query_count_is_constant(alice, clock, grow):
    before = queries_of(step_two(alice))
    grow(alice, clock)
    after = queries_of(step_two(alice))
    assert after == before + (grow in RESETTING) <= STEP_TWO_CEILING


def test_L3_step_two_resets_the_count_only_when_something_counts(alice, clock):
    """One failure or nine in the window: the same one UPDATE resets them."""
    clean = queries_of(step_two(alice))
    guard = LoginGuard.objects.get(username="alice")
    reset_before = guard.reset_at
    clock.shift(timedelta(minutes=1))
    LoginAttempt.objects.create(guard=guard, at=timezone.now(), step="code", outcome=Outcome.FAILED, ip=IP)
    clock.shift(timedelta(minutes=1))
    one = queries_of(step_two(alice))
    guard.refresh_from_db()
    assert one == clean + 1 and guard.reset_at == timezone.now() != reset_before
    clock.shift(timedelta(minutes=1))
    add_nine_failures(alice, clock)
    assert queries_of(step_two(alice)) == one


@pytest.mark.parametrize("grow", [add_users, add_old_failures], ids=["200-users", "500-old-failures"])
def test_L3_wrong_password_query_count_is_constant(alice, clock, grow):
    """A failure that does not reach the limit costs the same with a long history."""

    def wrong():
        with pytest.raises(LoginRefusal):
            step_one(password="not the right password")

    before = queries_of(wrong)
    grow(alice, clock)
    after = queries_of(wrong)
    assert before == after <= STEP_ONE_CEILING


def test_L3_refusal_while_locked_query_count_is_constant(alice, clock):
    for _ in range(10):
        with pytest.raises(LoginRefusal):
            step_one(password="not the right password")

    def refused():
        with pytest.raises(LoginRefusal) as refusal:
            step_one()
        assert refusal.value.code == "locked_out"

    before = queries_of(refused)
    add_old_failures(alice, clock)
    add_users(alice, clock)
    assert queries_of(refused) == before <= STEP_ONE_CEILING


def test_L2_web_login_stays_under_the_ceiling_with_much_data(web, alice, clock, django_assert_max_num_queries):
    add_everything(alice, clock)
    web.get("/login/")
    token = web.cookies["csrftoken"].value
    with django_assert_max_num_queries(WEB_STEP_ONE_CEILING):
        first = web.post("/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert first.url == "/login/code/"
    codes = card_codes_for(alice, pending_positions(web))
    web.get("/login/code/")
    token = web.cookies["csrftoken"].value
    with django_assert_max_num_queries(WEB_STEP_TWO_CEILING):
        second = web.post("/login/code/", {"code_1": codes[0], "code_2": codes[1], "csrfmiddlewaretoken": token})
    assert second.url == "/"


def test_L2_web_login_query_count_is_constant(alice, clock):
    def web_login() -> tuple[int, int]:
        http = HttpClient(enforce_csrf_checks=True)
        http.get("/login/")
        token = http.cookies["csrftoken"].value
        data = {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
        first = queries_of(lambda: http.post("/login/", data))
        codes = card_codes_for(alice, pending_positions(http))
        data = {"code_1": codes[0], "code_2": codes[1], "csrfmiddlewaretoken": http.cookies["csrftoken"].value}
        second = queries_of(lambda: http.post("/login/code/", data))
        return first, second

    first, second = web_login()
    add_everything(alice, clock)
    assert web_login() == (first, second + 1)  # the reset of add_everything's failures


def test_L3_count_reads_only_what_it_counts(alice, postgresql):
    """Issue 7.7: a username's count read every attempt of the window,
    successes included. Its query now matches the partial index of counted
    and pending attempts, so a long history of logins is never walked."""
    from django.db import connection

    from login import lockout

    guard, _ = LoginGuard.objects.get_or_create(username="alice")
    now = timezone.now()
    LoginAttempt.objects.bulk_create(
        [LoginAttempt(guard=guard, at=now, step="password", outcome=Outcome.SUCCEEDED) for _ in range(500)]
    )
    params = [guard.pk, now - timedelta(days=1), True, now - timedelta(minutes=2), 10]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + lockout._FAILURES_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "attempt_guard_at_counted" in plan, plan
