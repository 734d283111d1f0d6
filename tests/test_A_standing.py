"""A2-A4, C5 (issue item 2): the dashboard and the Secure Login System page
say what the current login's factor allows and until when, in the client's
language and time zone, with the next step as a button, from the contract's
allowance alone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.standing import moment
from passcodes.models import OnlineCard, TemporaryPasscode
from tests.conftest import (
    PASSWORD,
    csrf_post,
    give_online_card,
    give_passcode,
    login_fully,
    online_card_codes,
    pending_positions,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
PAGES = ("/", "/settings/security/sls/")


def standing_of(response) -> str:
    found = re.search(rb'<section class="panel standing".*?</section>', response.content, re.S)
    assert found, response.content[:500]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0).decode())).strip()


def passcode_login(web: HttpClient, code: str, username: str = "alice"):
    csrf_post(web, "/login/", {"username": username, "password": PASSWORD})
    return csrf_post(web, "/login/code/", {"passcode": code, "factor": 0})


@pytest.fixture
def on_passcode(web, alice, clock) -> HttpClient:
    code = give_passcode(alice)
    clock.shift(SECOND)
    passcode_login(web, code)
    return web


def test_A2_the_passcode_window_and_the_next_one_in_the_clients_time_zone(on_passcode):
    for path in PAGES:
        text = standing_of(on_passcode.get(path))
        # Issued 2 November 09:00 UTC; Alice lives in Italy (CET).
        assert text == (
            "What your login allows "
            "Full access except withdrawals and changes of banking instructions until November 4 10:00 CET; "
            "then only to print and activate your online security card until November 14 10:00 CET. "
            "Print your online security card"
        ), path
    page = on_passcode.get("/")
    assert b'class="button primary" href="/settings/security/sls/online-card/"' in page.content


def test_A2_the_sentence_is_in_the_clients_language(on_passcode):
    on_passcode.cookies["django_language"] = "it"
    text = standing_of(on_passcode.get("/"))
    assert "fino al 4 Novembre 10:00 CET" in text and "14 Novembre 10:00 CET" in text
    assert "Stampi la sua Carta di Sicurezza Online" in text


def test_A3_the_restricted_window_on_the_sls_page_to_the_second(web, alice, clock):
    code = give_passcode(alice)
    issued = TemporaryPasscode.objects.get().issued_at
    clock.move_to(issued + timedelta(days=2) - timedelta(minutes=1))
    passcode_login(web, code)
    clock.move_to(issued + timedelta(days=2) - SECOND)
    assert "Full access except withdrawals" in standing_of(web.get("/settings/security/sls/"))
    clock.move_to(issued + timedelta(days=2))
    text = standing_of(web.get("/settings/security/sls/"))
    assert text.startswith(
        "What your login allows Only to print and activate your online security card, until November 14 10:00 CET."
    )


def test_A4_a_card_session_says_until_when_and_offers_the_options(web, alice, clock):
    from devices.models import SecurityDevice

    SecurityDevice.objects.filter(client=alice.client).update(status="lost")
    card = give_online_card(alice)
    csrf_post(web, "/login/", {"username": "alice", "password": PASSWORD})
    codes = online_card_codes(card, pending_positions(web))
    csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    text = standing_of(web.get("/"))
    assert "Full access, withdrawals included, until November 23 10:00 CET." in text
    assert "Reactivate or replace your security device" in text
    assert "stops working" not in text


def test_A1_a_permanent_device_session_has_no_end_and_no_button(web, alice, clock):
    login_fully(web, alice)
    page = web.get("/")
    assert standing_of(page) == "What your login allows Full access, withdrawals included."


def test_A2_the_time_zone_is_the_clients_own(web, charlie, clock):
    code = give_passcode(charlie)
    clock.shift(SECOND)
    passcode_login(web, code, "charlie")
    assert "until November 4 18:00 JST" in standing_of(web.get("/"))


def test_C5_an_applicant_is_told_to_print_the_card(web, clock):
    from passcodes import applicants

    opened = applicants.open_account(
        first_name="Luca",
        last_name="Conti",
        email="luca@example.com",
        phone="+39 1",
        address="Via 1",
        country="IT",
        username="luca",
        now=timezone.now(),
    )
    opened.user.set_password(PASSWORD)
    opened.user.save()
    csrf_post(web, "/login/", {"username": "luca", "password": PASSWORD})
    text = standing_of(web.get("/"))
    assert "Print your online security card and activate it" in text
    assert OnlineCard.objects.get(user=opened.user).activated_at is None


def test_A4_moment_uses_djangos_formats_in_the_active_zone(clock):
    import zoneinfo

    from django.utils import translation

    timezone.activate(zoneinfo.ZoneInfo("Asia/Tokyo"))
    with translation.override("it"):
        assert moment(timezone.now()) == "2 Novembre 18:00 JST"
    assert moment(timezone.now()) == "November 2 18:00 JST"
