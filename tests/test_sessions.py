"""SECURITY.md 1-5: session keys, logout, timeouts, cookie flags, ended sessions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from devices.models import DeviceStatus, SecurityDevice
from login.sessions import SessionStore as LeanStore
from tests.conftest import PASSWORD, card_codes_for, csrf_post, login_fully, pending_positions


def session_key(http) -> str:
    return http.cookies[settings.SESSION_COOKIE_NAME].value


def exists(key: str) -> bool:
    return SessionStore().exists(key)


def anonymous_session_key(http) -> str:
    """A session that exists before login, as a visitor's would."""
    session = http.session
    session["visited"] = True
    session.save()
    return session.session_key


def assert_sent_to_login(http, path: str = "/") -> None:
    response = http.get(path)
    assert response.status_code == 302, response.content[:300]
    assert response.url.startswith("/login/")


# --- 1: a new key at each step ----------------------------------------------------


def test_SEC1_session_key_rotated_at_step_one(web, alice, clock):
    """ASVS 3.2.1, 5.0 V7.2.4; WSTG-SESS-03: no session fixation across step 1."""
    before = anonymous_session_key(web)
    response = csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    assert response.url == "/login/code/"
    after = session_key(web)
    assert after != before
    assert not exists(before)
    assert exists(after)


def test_SEC1_session_key_rotated_at_step_two(web, alice, clock):
    """ASVS 3.2.1, 5.0 V7.2.4; WSTG-SESS-03: the key that carried step 1 dies at step 2."""
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    between = session_key(web)
    codes = card_codes_for(alice, pending_positions(web))
    response = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    assert response.status_code == 302 and response.url == "/"
    after = session_key(web)
    assert after != between
    assert not exists(between)


def test_SEC1_session_key_rotated_for_a_password_only_login(web, bob, clock):
    """ASVS 3.2.1: an unenrolled client's one-step login rotates the key too."""
    before = anonymous_session_key(web)
    response = csrf_post(web, "/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    assert session_key(web) != before
    assert not exists(before)


def test_SEC1_a_fixated_key_gives_no_access(web, alice, clock):
    """WSTG-SESS-03: a key planted before login is worthless after it."""
    planted = anonymous_session_key(web)
    login_fully(web, alice)
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert_sent_to_login(attacker)


# --- 2: logout ------------------------------------------------------------------------


def test_SEC2_logout_deletes_the_server_side_session(web, alice, clock):
    """ASVS 3.3.1, 5.0 V7.4.1; WSTG-SESS-06."""
    login_fully(web, alice)
    key = session_key(web)
    assert web.get("/").status_code == 200
    response = csrf_post(web, "/logout/", {})
    assert response.status_code == 302 and response.url == "/login/"
    assert not exists(key)


def test_SEC2_old_cookie_no_longer_works_after_logout(web, alice, clock):
    """ASVS 3.3.1; WSTG-SESS-06: replaying the old cookie does not log in."""
    login_fully(web, alice)
    key = session_key(web)
    csrf_post(web, "/logout/", {})
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert_sent_to_login(replay)
    assert_sent_to_login(web)


# --- 3: idle timeout and absolute lifetime ------------------------------------------------


def test_SEC3_idle_just_under_30_minutes_keeps_the_session(web, alice, clock):
    """NIST 800-63B 4.2.3 (AAL2): idle timeout of 30 minutes."""
    login_fully(web, alice)
    clock.shift(timedelta(minutes=30) - timedelta(seconds=1))
    assert web.get("/").status_code == 200


def test_SEC3_idle_30_minutes_ends_the_session(web, alice, clock):
    """NIST 800-63B 4.2.3 (AAL2): idle timeout of 30 minutes."""
    login_fully(web, alice)
    clock.shift(timedelta(minutes=30))
    assert_sent_to_login(web)


def test_SEC3_activity_refreshes_the_idle_timeout(web, alice, clock):
    login_fully(web, alice)
    for _ in range(3):
        clock.shift(timedelta(minutes=29))
        assert web.get("/").status_code == 200


def keep_busy_until(web, clock, elapsed: timedelta) -> None:
    """Requests every 25 minutes (under the idle timeout) until `elapsed` after login."""
    spent = timedelta(0)
    step = timedelta(minutes=25)
    while spent + step < elapsed:
        clock.shift(step)
        spent += step
        assert web.get("/").status_code == 200, spent
    clock.shift(elapsed - spent)


def test_SEC3_active_session_still_works_just_before_12_hours(web, alice, clock):
    """NIST 800-63B 4.2.3 (AAL2): absolute lifetime of 12 hours, even with activity."""
    login_fully(web, alice)
    keep_busy_until(web, clock, timedelta(hours=12) - timedelta(seconds=1))
    assert web.get("/").status_code == 200


def test_SEC3_active_session_ends_at_12_hours(web, alice, clock):
    """NIST 800-63B 4.2.3 (AAL2): absolute lifetime of 12 hours, even with activity."""
    login_fully(web, alice)
    key = session_key(web)
    keep_busy_until(web, clock, timedelta(hours=12))
    response = web.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert not exists(key)
    assert b"Your session has ended. Please log in again." in web.get(response.url).content


def test_SEC3_lifetimes_come_from_the_sls_settings(settings):
    assert settings.SESSION_COOKIE_AGE == settings.SLS["SESSION_IDLE"].total_seconds() <= 30 * 60
    assert settings.SLS["SESSION_ABSOLUTE"] <= timedelta(hours=12)
    assert settings.SESSION_SAVE_EVERY_REQUEST


# --- 4: cookie flags ---------------------------------------------------------------------------


def test_SEC4_session_cookie_is_httponly_samesite_and_secure(web, alice, clock):
    """ASVS 3.4.1-3.4.3, 5.0 V3.3.1; WSTG-SESS-02 (DEBUG is off in the tests)."""
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    codes = card_codes_for(alice, pending_positions(web))
    response = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] in ("Lax", "Strict")


def test_SEC4_csrf_cookie_is_secure(web, db):
    """ASVS 3.4.1; WSTG-SESS-02."""
    response = web.get("/login/")
    cookie = response.cookies[settings.CSRF_COOKIE_NAME]
    assert cookie["secure"] is True
    assert cookie["samesite"] in ("Lax", "Strict")


# --- 5: sessions ended by an agent, a disabled user, a revoked device --------------------------


def test_SEC5_agent_ends_all_sessions_of_a_client(alice, clock):
    """ASVS 2.8.6, 5.0 V7.4.5: every session of the username stops working."""
    laptop, phone = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    login_fully(laptop, alice)
    login_fully(phone, alice)
    clock.shift(timedelta(minutes=1))
    alice.end_all_sessions(timezone.now())
    assert_sent_to_login(laptop)
    assert_sent_to_login(phone)
    clock.shift(timedelta(seconds=1))
    login_fully(laptop, alice)
    assert laptop.get("/").status_code == 200


def test_SEC5_disabling_the_user_ends_the_session(web, alice, clock):
    """ASVS 5.0 V7.4.2: a disabled account's session is ended, not merely suspended."""
    login_fully(web, alice)
    key = session_key(web)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_sent_to_login(web)
    assert not exists(key)
    alice.is_active = True
    alice.save(update_fields=["is_active"])
    assert_sent_to_login(web)


@pytest.mark.parametrize("status", [DeviceStatus.REVOKED, DeviceStatus.LOST, DeviceStatus.STOLEN])
def test_SEC5_revoking_the_device_ends_the_sessions_that_rode_on_it(web, alice, clock, status):
    """ASVS 2.8.6, 5.0 V7.4.2: the device that verified the login stops being active."""
    login_fully(web, alice)
    key = session_key(web)
    device = SecurityDevice.objects.get(client=alice.client)
    device.status = status
    device.save(update_fields=["status"])
    response = web.get("/")
    assert response.status_code == 302 and response.url == "/login/"
    assert not exists(key)
    assert b"Your security device changed" in web.get(response.url).content
    device.status = DeviceStatus.ACTIVE
    device.save(update_fields=["status"])
    assert_sent_to_login(web)


def test_SEC5_other_clients_sessions_survive(alice, charlie, clock):
    alices, charlies = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    login_fully(alices, alice)
    login_fully(charlies, charlie)
    clock.shift(timedelta(minutes=1))
    alice.end_all_sessions(timezone.now())
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.REVOKED)
    assert charlies.get("/").status_code == 200


# --- the store (login.sessions): one statement per operation --------------------------------


def _statements(run) -> list[str]:
    return [query["sql"].split(None, 1)[0].upper() for query in run.captured_queries]


def test_SEC1_store_new_session_is_one_insert_readable_by_djangos_store(db):
    store = LeanStore()
    store["visited"] = True
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert _statements(run) == ["INSERT"]
    assert SessionStore(store.session_key).load() == {"visited": True}


def saved(**data) -> str:
    """The key of a session saved by an earlier request."""
    store = LeanStore()
    store.update(data)
    store.save()
    return store.session_key


def loaded(key: str) -> LeanStore:
    """That session, loaded by the request at hand."""
    store = LeanStore(key)
    assert store.keys()  # reading it loads it
    return store


def test_SEC1_store_rotation_moves_the_row_in_one_update(db):
    """The old key stops working in the statement that writes the new one."""
    old = saved(visited=True)
    again = loaded(old)
    again.cycle_key()
    again["step"] = 1
    with CaptureQueriesContext(connection) as run:
        again.save()
    assert _statements(run) == ["UPDATE"]
    assert again.session_key != old
    assert not exists(old)
    assert SessionStore(again.session_key).load() == {"visited": True, "step": 1}


def test_SEC2_store_rotation_does_not_revive_a_session_ended_meanwhile(db):
    """A logout in another tab deleted the row: the rotation must not write it back."""
    old = saved(visited=True)
    again = loaded(old)
    SessionStore(old).delete()
    again.cycle_key()
    with pytest.raises(UpdateError):
        again.save()
    assert Session.objects.count() == 0


def test_SEC2_store_flush_after_rotation_deletes_the_stored_row(db):
    """cycle_key() then flush() (a login, then a logout, in one request)."""
    old = saved(user="alice")
    again = loaded(old)
    again.cycle_key()
    again.flush()
    assert not exists(old) and Session.objects.count() == 0


def test_store_second_save_in_a_request_writes_nothing_unless_changed(db):
    store = LeanStore()
    store["a"] = {"n": 1}
    store.save()
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert run.captured_queries == []
    store["a"]["n"] = 2  # changed in place: Django's `modified` does not see it
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert _statements(run) == ["UPDATE"]
    assert SessionStore(store.session_key).load() == {"a": {"n": 2}}


def test_store_second_save_a_second_later_writes_nothing(db, clock):
    """The signed data embeds a timestamp; a login whose two saves straddle
    a second (the step's and the middleware's) must still write once."""
    store = LeanStore()
    store["a"] = 1
    store.save()
    clock.shift(timedelta(seconds=1))
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert run.captured_queries == []


def test_SEC2_store_session_deleted_meanwhile_is_not_revived(db):
    """Django's contract: the save raises UpdateError (the middleware answers 400)."""
    key = saved(a=1)
    again = loaded(key)
    again["b"] = 2
    SessionStore(key).delete()
    with pytest.raises(UpdateError):
        again.save()
    assert not exists(key)


def test_SEC3_store_does_not_load_an_expired_session(db, clock):
    key = saved(a=1)
    clock.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE + 1))
    stale = LeanStore(key)
    assert stale.load() == {} and stale.session_key is None
    stale["b"] = 2
    stale.save()
    assert stale.session_key != key


def test_SEC1_store_draws_another_key_when_one_is_taken(db):
    taken = saved(a=1)
    store = LeanStore()
    store["b"] = 2
    keys = iter([taken, "k" * 32])
    with mock.patch.object(LeanStore, "_get_new_session_key", lambda self: next(keys)):
        store.save()
    assert store.session_key == "k" * 32
    assert SessionStore(taken).load() == {"a": 1}  # untouched


def test_store_must_create_with_a_taken_key_raises_create_error(db):
    taken = saved(a=1)
    store = LeanStore(taken)
    store._session_cache = {"b": 2}
    with pytest.raises(CreateError):
        store.save(must_create=True)
    assert SessionStore(taken).load() == {"a": 1}


def test_store_create_and_delete(db):
    store = LeanStore()
    store.create()
    assert store.session_key and exists(store.session_key)
    with CaptureQueriesContext(connection) as run:
        store.delete()
    assert _statements(run) == ["DELETE"]
    assert not exists(store.session_key)


def test_SEC1_store_keys_are_32_random_characters_of_djangos_alphabet(db):
    """ASVS 3.2.2: at least 64 bits of entropy, every character equally likely
    (a chi-square test over 96,000 characters: a bias of a few percent on a
    handful of characters fails it; a fair draw fails once in 10,000 runs)."""
    from collections import Counter

    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    keys = [LeanStore()._get_new_session_key() for _ in range(3000)]
    assert len(set(keys)) == len(keys)
    assert all(len(key) == 32 and set(key) <= set(VALID_KEY_CHARS) for key in keys)
    counts = Counter("".join(keys))
    expected = 32 * len(keys) / len(VALID_KEY_CHARS)
    chi_square = sum((counts[char] - expected) ** 2 / expected for char in VALID_KEY_CHARS)
    assert chi_square < 68.0  # 35 degrees of freedom, p = 0.0008


@override_settings(SESSION_SAVE_EVERY_REQUEST=False)
def test_SEC1_login_works_without_saving_every_request(web, alice, clock):
    """The explicit save inside a login step leaves the cookie to the middleware."""
    assert login_fully(web, alice).url == "/"
    assert web.get("/").status_code == 200


def test_SEC2_session_ended_during_step_two_is_not_revived(web, alice, clock):
    """Logged out in another tab while step 2 ran: no login, nothing written back."""
    from login import flows as flow

    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    key = session_key(web)
    codes = card_codes_for(alice, pending_positions(web))
    real = flow.load_pending

    def ended_elsewhere_meanwhile(*args, **kwargs):
        SessionStore(key).delete()  # committed by the other tab's request
        return real(*args, **kwargs)

    web.get("/login/code/")
    data = {"code_1": codes[0], "code_2": codes[1], "csrfmiddlewaretoken": web.cookies["csrftoken"].value}
    with mock.patch.object(flow, "load_pending", ended_elsewhere_meanwhile):
        response = web.post("/login/code/", data)
    assert response.status_code == 400
    assert Session.objects.count() == 0  # not written back, logged in, under a new key
    assert not web.cookies[settings.SESSION_COOKIE_NAME].value
    assert not AuditEvent.objects.filter(action="login", username="alice").exists()  # rolled back
    assert web.get("/").status_code == 302


def test_SEC1_double_clicked_login_form_still_logs_in(web, alice, clock):
    """Two POSTs of the password form overlap: the first moves the visit's row
    while the second hashes; the second still gets a session of its own."""
    from login import flows as flow

    visit = web.session
    visit["visited"] = True
    visit.save()
    web.cookies[settings.SESSION_COOKIE_NAME] = visit.session_key
    real = flow.check_password

    def first_click_finished_meanwhile(*args, **kwargs):
        Session.objects.filter(pk=visit.session_key).update(session_key="moved-by-the-first-click")
        return real(*args, **kwargs)

    web.get("/login/")
    data = {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": web.cookies["csrftoken"].value}
    with mock.patch.object(flow, "check_password", first_click_finished_meanwhile):
        response = web.post("/login/", data)
    assert response.status_code == 302 and response.url == "/login/code/"
    key = session_key(web)
    assert key not in (visit.session_key, "moved-by-the-first-click") and exists(key)
    codes = card_codes_for(alice, pending_positions(web))
    assert csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]}).url == "/"
