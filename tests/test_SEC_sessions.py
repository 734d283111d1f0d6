"""SECURITY.md 1-5: session keys, logout, timeouts, cookie flags, ended sessions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.test import Client as HttpClient
from django.utils import timezone

from audit.models import AuditEvent
from devices.models import DeviceStatus, SecurityDevice
from tests.conftest import (
    NOT_VERIFIED,
    PASSWORD,
    VERIFIED,
    card_codes_for,
    csrf_post,
    login_fully,
    pending_positions,
    user_url,
)


def anonymous_session_key(http) -> str:
    """A session that exists before login, as a visitor's would."""
    session = http.session
    session["visited"] = True
    session.save()
    return session.session_key


def exists(key: str) -> bool:
    return SessionStore().exists(key)


def session_key(http) -> str:
    return http.cookies[settings.SESSION_COOKIE_NAME].value


def assert_sent_to_login(http, path: str = "/") -> None:
    response = http.get(path)
    assert response.status_code == 302, response.content[:300]
    assert response.url.startswith("/login/")


def keep_busy_until(web, clock, elapsed: timedelta) -> None:
    """Requests every 25 minutes (under the idle timeout) until `elapsed` after login."""
    spent = timedelta(0)
    step = timedelta(minutes=25)
    while spent + step < elapsed:
        clock.shift(step)
        spent += step
        assert web.get("/").status_code == 200, spent
    clock.shift(elapsed - spent)


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


@override_settings(SESSION_SAVE_EVERY_REQUEST=False)
def test_SEC1_login_works_without_saving_every_request(web, alice, clock):
    """The explicit save inside a login step leaves the cookie to the middleware."""
    assert login_fully(web, alice).url == "/"
    assert web.get("/").status_code == 200


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


def test_SEC3_lifetimes_come_from_the_sls_settings(web, alice, clock, settings):
    """The absolute lifetime is read from SLS at each request (a shorter one ends
    the session sooner); the idle timeout is SLS's, as Django's cookie age."""
    assert settings.SLS["SESSION_IDLE"].total_seconds() == settings.SESSION_COOKIE_AGE
    settings.SLS = {**settings.SLS, "SESSION_ABSOLUTE": timedelta(hours=1)}
    login_fully(web, alice)
    keep_busy_until(web, clock, timedelta(hours=1) - timedelta(seconds=1))
    assert web.get("/").status_code == 200
    clock.shift(timedelta(seconds=1))
    assert_sent_to_login(web)


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


def test_SEC5_agent_action_end_all_sessions_logs_client_out(desk, alice, clock):
    """SECURITY.md 5 (ASVS 2.8.6, 5.0 V7.4.2): an agent ends the client's sessions; the next request goes to /login/."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    assert web.get("/").status_code == 200
    clock.shift(timedelta(minutes=5))

    response = csrf_post(desk, user_url(alice, "end-sessions"), VERIFIED)
    assert response.status_code == 302
    after = web.get("/")
    assert after.status_code == 302 and after.url.startswith("/login/")

    clock.shift(timedelta(minutes=1))
    fresh = HttpClient(enforce_csrf_checks=True)
    login_fully(fresh, alice)
    assert fresh.get("/").status_code == 200


def test_SEC5_end_all_sessions_needs_identity_verification(desk, alice, clock):
    """SECURITY.md 5, L5: without a verification the sessions live on."""
    web = HttpClient(enforce_csrf_checks=True)
    login_fully(web, alice)
    response = csrf_post(desk, user_url(alice, "end-sessions"), NOT_VERIFIED)
    assert response.status_code == 400
    assert web.get("/").status_code == 200
