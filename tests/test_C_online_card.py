"""C1-C4: the online security code card's pages. A temporary passcode's
session makes the card, prints it (PDF) or saves it (PNG), activates it
with two of its codes (C2), which ends the passcode (C3) and leaves the
session riding on the card with full access (A4), then chooses one of
four next steps (C4)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from PIL import Image
from pypdf import PdfReader

from accounts import access
from audit.models import AuditEvent
from devices import codecard
from devices.models import DeviceStatus, SecurityDevice
from login.models import LoginAttempt, LoginGuard
from passcodes import cards, printing
from passcodes.models import EndReason, OnlineCard, TemporaryPasscode
from passcodes.windows import Phase
from tests.conftest import (
    PASSWORD,
    csrf_post,
    give_online_card,
    give_passcode,
    login_fully,
    online_card_codes,
    pending_positions,
    run_at_once,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
CARD = "/settings/security/sls/online-card/"
PDF = "/settings/security/sls/online-card.pdf"
PNG = "/settings/security/sls/online-card.png"
ACTIVATE = "/settings/security/sls/online-card/activate/"
OPTIONS = "/settings/security/sls/online-card/options/"


@pytest.fixture
def passcode(alice, clock) -> str:
    """Alice lost her card; an agent issued her a passcode a second ago."""
    code = give_passcode(alice, device_status="lost")
    clock.shift(SECOND)
    return code


def passcode_login(web: HttpClient, code: str, username: str = "alice"):
    first = csrf_post(web, "/login/", {"username": username, "password": PASSWORD})
    assert first.status_code == 302 and first.url == "/login/code/", first.content[:300]
    return csrf_post(web, "/login/code/", {"passcode": code, "factor": 0})


@pytest.fixture
def on_passcode(web, passcode) -> HttpClient:
    """Alice's browser, logged in with the passcode (its full window)."""
    assert passcode_login(web, passcode).status_code == 302
    return web


def made_card(web: HttpClient) -> OnlineCard:
    response = csrf_post(web, CARD, {})
    assert response.status_code == 302 and response.url == CARD
    return OnlineCard.objects.get(ended_at__isnull=True, user__username="alice")


def asked_positions(web: HttpClient, page=None) -> list[int]:
    page = page or web.get(ACTIVATE)
    text = re.search(rb'id="card-instructions">([^<]+)<', page.content).group(1).decode()
    return [int(n) for n in re.findall(r"\d+", text)[:2]]


def answer(web: HttpClient, card: OnlineCard, codes: list[str], extra: dict | None = None):
    page = web.get(ACTIVATE)
    token = web.cookies["csrftoken"].value
    data = {"code_1": codes[0], "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token}
    data.update(extra or {})
    return page, web.post(ACTIVATE, data)


def activate(web: HttpClient, card: OnlineCard):
    page = web.get(ACTIVATE)
    codes = online_card_codes(card, asked_positions(web, page))
    token = web.cookies["csrftoken"].value
    return web.post(ACTIVATE, {"code_1": codes[0], "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token})


# --- C1: who may print ---------------------------------------------------------


def test_C1_the_passcode_session_makes_its_card_once(on_passcode):
    page = on_passcode.get(CARD)
    assert page.status_code == 200 and b"Make my online security card" in page.content
    assert not OnlineCard.objects.exists(), "no state change on GET"
    card = made_card(on_passcode)
    again = csrf_post(on_passcode, CARD, {})  # a double submission gets the same card
    assert again.status_code == 302 and OnlineCard.objects.count() == 1
    assert card.passcode == TemporaryPasscode.objects.get() and card.activated_at is None
    assert card.seed_encrypted and codecard.code_at(card.seed, 1) not in card.seed_encrypted
    shown = on_passcode.get(CARD)
    assert b"Print it (PDF)" in shown.content and b"Activate my online security card" in shown.content
    assert AuditEvent.objects.filter(action=cards.MADE, rule="C1", username="alice").count() == 1


def test_C1_the_pdf_shows_the_224_numbered_codes_name_username_and_title(on_passcode, clock):
    card = made_card(on_passcode)
    response = on_passcode.get(PDF)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("attachment;")
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    # In Alice's language (Italy: Italian), whoever's browser asks.
    assert "Carta di Sicurezza Online" in text and "Alice Rossi" in text and "Nome utente: alice" in text
    words = text.split()
    for position, code in enumerate(codecard.all_codes(card.seed), start=1):
        assert code in words and str(position) in words
    card.refresh_from_db()
    assert card.printed_at == timezone.now()
    event = AuditEvent.objects.get(action=cards.PRINTED)
    assert event.details == {"online_card": card.pk, "format": "pdf"} and event.rule == "C1"


def test_C1_the_png_opens_and_shows_each_code_under_its_number(on_passcode, clock):
    card = made_card(on_passcode)
    first = timezone.now()
    response = on_passcode.get(PNG)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size[0] >= 1200 and image.size[1] >= 1400
    assert image.info.get("Title") == "Carta di Sicurezza Online"
    # Every cell has ink: its number and its code are drawn in it.
    for position in (1, 14, 15, 112, 224):
        cell = image.crop(printing.png_cell_box(position)).convert("L")
        assert cell.getextrema()[0] < 100, position
    # The image is the card's own: another card's codes draw another picture.
    assert response.content == printing.card_png(card)
    clock.shift(timedelta(minutes=5))
    on_passcode.get(PDF)
    card.refresh_from_db()
    assert card.printed_at == first, "the first download's time stays on the card"
    assert list(
        AuditEvent.objects.filter(action=cards.PRINTED).order_by("at").values_list("details__format", flat=True)
    ) == [
        "png",
        "pdf",
    ]


def test_C1_the_restricted_window_prints_too(web, alice, passcode, clock):
    clock.move_to(TemporaryPasscode.objects.get().issued_at + timedelta(days=2))
    response = passcode_login(web, passcode)
    assert response.url == CARD  # A3: it lands where it can act
    card = made_card(web)
    assert web.get(PDF).status_code == 200
    assert web.get("/").status_code == 403
    assert activate(web, card).status_code == 302


def test_C1_no_card_yet_means_nothing_to_download(on_passcode):
    response = on_passcode.get(PDF)
    assert response.status_code == 403 and b"Make your online security card first" in response.content
    assert not AuditEvent.objects.filter(action=cards.PRINTED).exists()


def test_C1_a_permanent_device_session_is_told_it_needs_no_card(web, alice, clock):
    login_fully(web, alice)
    for path in (CARD, PDF, PNG, ACTIVATE):
        response = web.get(path)
        assert response.status_code == 403, path
        assert b"you do not need an online security card" in response.content
        assert not re.search(rb"\bC1\b", response.content), "no rule ID on a client page (A9)"
    assert csrf_post(web, CARD, {}).status_code == 403
    assert not OnlineCard.objects.exists()


def test_C1_an_unenrolled_client_without_an_applicant_card_is_refused_in_words(web, bob, clock):
    login_fully(web, bob)
    response = web.get(CARD)
    assert response.status_code == 403 and b"temporary passcode from Customer Service" in response.content


def test_C1_anonymous_visitors_are_sent_to_log_in(web, db):
    for path in (CARD, PDF, PNG, ACTIVATE, OPTIONS):
        response = web.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path


def test_C1_another_clients_session_never_gets_alices_codes(web, alice, charlie, passcode, clock):
    alice_card = cards.new_card(
        alice, passcode=TemporaryPasscode.objects.get(user=alice), applicant=False, now=timezone.now()
    )
    alice_card.save()
    other = HttpClient(enforce_csrf_checks=True)
    charlie_code = give_passcode(charlie)
    clock.shift(SECOND)
    passcode_login(other, charlie_code, "charlie")
    assert other.get(PDF).status_code == 403  # charlie has no card: alice's is not served
    charlie_card = made_card_for(other, "charlie")
    text = PdfReader(io.BytesIO(other.get(PDF).content)).pages[0].extract_text()
    assert "charlie" in text and "alice" not in text
    assert codecard.all_codes(alice_card.seed)[:5] != codecard.all_codes(charlie_card.seed)[:5]
    # Alice's card id posted from charlie's activation page: nothing checked, nothing counted.
    other.get(ACTIVATE)
    token = other.cookies["csrftoken"].value
    response = other.post(
        ACTIVATE, {"code_1": "AAA", "code_2": "BBB", "card": alice_card.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 400 and b"no longer yours to activate" in response.content
    assert not LoginAttempt.objects.filter(guard__username="charlie", outcome="failed").exists()
    assert OnlineCard.objects.get(pk=alice_card.pk).activated_at is None


def made_card_for(web: HttpClient, username: str) -> OnlineCard:
    csrf_post(web, CARD, {})
    return OnlineCard.objects.get(ended_at__isnull=True, user__username=username)


# --- C2, C3: activation -------------------------------------------------------------


def test_C2_two_codes_activate_the_card_and_C3_end_the_passcode(on_passcode, clock):
    card = made_card(on_passcode)
    page = on_passcode.get(ACTIVATE)
    positions = asked_positions(on_passcode, page)
    assert len(set(positions)) == 2 and all(1 <= p <= 224 for p in positions)
    assert b'for="id_code_1"' in page.content and b'id="id_code_1"' in page.content
    old_key = on_passcode.cookies["sessionid"].value
    codes = online_card_codes(card, positions)
    token = on_passcode.cookies["csrftoken"].value
    response = on_passcode.post(
        ACTIVATE, {"code_1": codes[0], "code_2": codes[1].lower(), "card": card.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response.url == OPTIONS
    card.refresh_from_db()
    assert card.activated_at == timezone.now()
    assert card.window(timezone.now())[0] == Phase.FULL
    passcode = TemporaryPasscode.objects.get()
    assert passcode.ended_at == timezone.now() and passcode.ended_reason == EndReason.CARD_ACTIVATED
    # The session rides on the card now, on a new key, with full access (A4).
    assert on_passcode.cookies["sessionid"].value != old_key
    assert on_passcode.session[DEVICE_ID_SESSION_KEY] == card.persistent_id
    assert on_passcode.get(OPTIONS).status_code == 200
    assert on_passcode.get("/withdrawals/").status_code == 200, "A4: withdrawals included"
    assert AuditEvent.objects.get(action=cards.ACTIVATED).rule == "C2"
    assert AuditEvent.objects.get(action=cards.PASSCODE_ENDED).rule == "C3"
    # Principle 4: never again its codes.
    for path in (PDF, PNG, ACTIVATE, CARD):
        refused = on_passcode.get(path)
        assert refused.status_code == 403 and b"shown only until it is activated" in refused.content, path


def test_C3_another_session_on_the_passcode_ends_and_says_why(web, passcode, clock):
    other = HttpClient(enforce_csrf_checks=True)
    passcode_login(web, passcode)
    clock.shift(SECOND * 3)
    passcode_login(other, passcode)
    card = made_card(web)
    activate(web, card)
    response = other.get("/", follow=True)
    assert b"temporary passcode no longer works" in response.content
    assert response.redirect_chain[-1][0].startswith("/login/")


def test_C3_next_login_asks_the_card_and_not_the_passcode(web, passcode, clock):
    passcode_login(web, passcode)
    card = made_card(web)
    activate(web, card)
    fresh = HttpClient(enforce_csrf_checks=True)
    clock.shift(SECOND)
    csrf_post(fresh, "/login/", {"username": "alice", "password": PASSWORD})
    page = fresh.get("/login/code/")
    assert b"online security card" in page.content and b"Temporary passcode" not in page.content
    codes = online_card_codes(card, pending_positions(fresh))
    assert csrf_post(fresh, "/login/code/", {"code_1": codes[0], "code_2": codes[1]}).url == "/"


def test_C2_wrong_codes_count_toward_L3_and_ask_new_numbers(on_passcode, clock):
    card = made_card(on_passcode)
    page, response = answer(on_passcode, card, ["ZZZ", "ZZZ"])
    assert response.status_code == 400 and b"do not match your online security card" in response.content
    assert b"Here are two new numbers to try" in response.content
    assert LoginAttempt.objects.filter(guard__username="alice", outcome="failed").count() == 1
    assert AuditEvent.objects.filter(action=cards.ACTIVATION_FAILED, outcome="failed").count() == 1
    assert OnlineCard.objects.get(pk=card.pk).activated_at is None
    assert TemporaryPasscode.objects.get().ended_at is None


def test_L4_codes_with_spaces_get_the_hint_and_count(on_passcode, clock):
    card = made_card(on_passcode)
    page = on_passcode.get(ACTIVATE)
    codes = online_card_codes(card, asked_positions(on_passcode, page))
    token = on_passcode.cookies["csrftoken"].value
    spaced = f"{codes[0][:1]} {codes[0][1:]}"
    response = on_passcode.post(
        ACTIVATE, {"code_1": spaced, "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 400
    assert b"typed without spaces" in response.content
    assert LoginAttempt.objects.filter(guard__username="alice", outcome="failed").count() == 1
    assert OnlineCard.objects.get(pk=card.pk).activated_at is None


def test_C2_empty_or_over_long_codes_are_refused_unread(on_passcode, clock):
    card = made_card(on_passcode)
    _page, empty = answer(on_passcode, card, ["", ""])
    assert empty.status_code == 400 and b"Enter the code printed under number" in empty.content
    _page, long = answer(on_passcode, card, ["A" * 5000, "B"])
    assert long.status_code == 400 and b"has 3 characters" in long.content
    _page, garbage = answer(on_passcode, card, ["AAA", "BBB"], {"card": "not-a-number"})
    assert garbage.status_code == 400 and b"no longer yours to activate" in garbage.content
    assert not LoginAttempt.objects.filter(outcome="failed").exists()


def test_C2_throttled_after_a_failure_then_a_right_answer_works(on_passcode, clock):
    card = made_card(on_passcode)
    answer(on_passcode, card, ["ZZZ", "ZZZ"])
    page = on_passcode.get(ACTIVATE)
    codes = online_card_codes(card, asked_positions(on_passcode, page))
    token = on_passcode.cookies["csrftoken"].value
    data = {"code_1": codes[0], "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token}
    throttled = on_passcode.post(ACTIVATE, data)
    assert throttled.status_code == 400 and b"wait until" in throttled.content
    clock.shift(SECOND * 2)
    assert activate(on_passcode, card).status_code == 302


def test_L3_the_tenth_wrong_activation_locks_the_username(on_passcode, clock):
    card = made_card(on_passcode)
    for attempt in range(10):
        clock.shift(timedelta(seconds=2 ** min(attempt, 10)))
        _page, response = answer(on_passcode, card, ["ZZZ", "ZZZ"])
    assert response.status_code == 403 and b"locked after 10 failed login attempts" in response.content
    assert LoginGuard.objects.get(username="alice").is_locked(timezone.now())
    # Locked: a right answer is not even checked.
    clock.shift(timedelta(minutes=10))
    refused = activate(on_passcode, card)
    assert refused.status_code == 403 and OnlineCard.objects.get(pk=card.pk).activated_at is None


def test_C2_a_page_left_open_without_its_numbers_asks_again(on_passcode, clock):
    card = made_card(on_passcode)
    on_passcode.get(CARD)
    token = on_passcode.cookies["csrftoken"].value
    response = on_passcode.post(
        ACTIVATE, {"code_1": "AAA", "code_2": "BBB", "card": card.pk, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 400 and b"open too long" in response.content
    assert not LoginAttempt.objects.filter(outcome="failed").exists()


def test_C2_a_double_submission_activates_once_and_the_twin_goes_to_the_options(on_passcode, clock):
    card = made_card(on_passcode)
    page = on_passcode.get(ACTIVATE)
    codes = online_card_codes(card, asked_positions(on_passcode, page))
    token = on_passcode.cookies["csrftoken"].value
    session = on_passcode.session
    challenge = session[ACTIVATION_KEY]["challenge"]
    cards.activate(card.user, card.pk, challenge, "".join(codes), now=timezone.now())
    # The twin arrives with the same session (the first one did not rotate it here).
    twin = on_passcode.post(
        ACTIVATE, {"code_1": codes[0], "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token}
    )
    assert twin.status_code == 302
    assert AuditEvent.objects.filter(action=cards.ACTIVATED).count() == 1
    assert not LoginAttempt.objects.filter(outcome="failed").exists()


ACTIVATION_KEY = "sls_card_activation"


def test_C2_a_made_card_does_not_log_in_before_activation(web, alice, passcode, clock):
    passcode_login(web, passcode)
    made_card(web)
    fresh = HttpClient(enforce_csrf_checks=True)
    csrf_post(fresh, "/login/", {"username": "alice", "password": PASSWORD})
    page = fresh.get("/login/code/")
    assert b"online security card" not in page.content


@pytest.mark.django_db(transaction=True)
def test_C2_one_right_answer_presented_by_8_threads_at_once_activates_once(postgresql, alice, agent):
    give_passcode(alice)
    user = alice
    card = cards.new_card(user, passcode=TemporaryPasscode.objects.get(user=user), applicant=False, now=timezone.now())
    card.save()
    challenge = card.generate_challenge()
    response = "".join(online_card_codes(card, challenge["positions"]))
    now = timezone.now()

    def present(_index: int):
        return cards.activate(user, card.pk, challenge, response, now=now)

    results = run_at_once(8, present)
    won = [r for r in results if isinstance(r, OnlineCard)]
    lost = [r for r in results if isinstance(r, cards.ActivationRefused)]
    assert len(won) == 1, results
    assert len(lost) == 7 and all(r.already_active for r in lost), results
    assert AuditEvent.objects.filter(action=cards.ACTIVATED).count() == 1
    assert AuditEvent.objects.filter(action=cards.PASSCODE_ENDED).count() == 1
    assert LoginAttempt.objects.filter(guard__username="alice", outcome="succeeded").count() == 1
    assert not LoginAttempt.objects.filter(outcome="failed").exists()


def test_C3_activation_ends_only_this_usernames_passcode(alice, client_factory, clock):
    from accounts.models import User

    second = User.objects.create_user(username="alice2", password=PASSWORD, client=alice.client)
    give_passcode(alice)
    give_passcode(second)
    card = cards.new_card(alice, passcode=None, applicant=False, now=timezone.now())
    card.save()
    challenge = card.generate_challenge()
    cards.activate(
        alice, card.pk, challenge, "".join(online_card_codes(card, challenge["positions"])), now=timezone.now()
    )
    assert TemporaryPasscode.objects.get(user=alice).ended_at is not None
    assert TemporaryPasscode.objects.get(user=second).ended_at is None


# --- C4: the four options ------------------------------------------------------------


@pytest.fixture
def on_card(on_passcode, clock) -> HttpClient:
    card = made_card(on_passcode)
    assert activate(on_passcode, card).status_code == 302
    return on_passcode


def test_C4_the_four_options_each_lead_to_a_page_that_serves_the_card(on_card):
    page = on_card.get(OPTIONS)
    assert page.status_code == 200
    links = re.findall(rb'<a class="button[^"]*" href="([^"]+)">([^<]+)</a>', page.content)
    labels = [label.decode() for _href, label in links]
    assert labels == [
        "Reactivate my current device",
        "Request a new Secure Login Device",
        "Set up the mobile authenticator",
        "Keep using the online card for now",
    ]
    for href, label in links:
        assert on_card.get(href.decode()).status_code == 200, label


def test_C4_reactivate_my_current_device_ends_the_card_and_keeps_the_session(web, alice, agent, clock):
    from devices import activation

    code = give_passcode(alice, device_status="unavailable")
    clock.shift(SECOND)
    passcode_login(web, code)
    card = made_card(web)
    activate(web, card)
    device = SecurityDevice.objects.get(client=alice.client)
    web.get("/settings/security/sls/activate/")
    response = csrf_post(web, "/settings/security/sls/activate/", {"step": "serial", "serial": device.serial})
    assert response.status_code == 200
    asked = web.session["sls_activation"]
    positions = asked["challenge"]["positions"]
    codes = [codecard.code_at(device.seed, p) for p in positions]
    token = web.cookies["csrftoken"].value
    done = web.post(
        "/settings/security/sls/activate/",
        {"step": "code", "code_1": codes[0], "code_2": codes[1], "csrfmiddlewaretoken": token},
    )
    assert done.status_code == 200 and b"Your device is active" in done.content
    assert SecurityDevice.objects.get(pk=device.pk).status == DeviceStatus.ACTIVE
    card.refresh_from_db()
    assert card.ended_at is not None and card.ended_reason == EndReason.DEVICE_ACTIVATED  # A6
    assert web.get("/").status_code == 200, "the session goes on with the device"
    assert activation  # the R1 page itself


def test_C4_request_a_new_device_places_the_order(on_card, alice):
    page = on_card.get(OPTIONS)
    href = re.search(rb'href="([^"]+)">Request a new Secure Login Device', page.content).group(1).decode()
    assert href == "/settings/security/sls/replacement/"
    sls = on_card.get(href)
    assert sls.status_code == 200 and b"Request my new device" in sls.content
    response = csrf_post(on_card, href, {"step": "order", "confirm_address": "on"})
    assert response.status_code == 302
    from devices.models import DeviceOrder

    order = DeviceOrder.objects.get(client=alice.client)
    assert order.replaces is not None and order.replaces.status == DeviceStatus.LOST


def test_C4_set_up_the_mobile_authenticator_from_a_card_session(on_card, alice, settings, clock):
    import pyotp

    from devices import sms

    settings.SMS_BACKEND = "devices.sms.LocmemSmsBackend"
    sms.outbox.clear()
    csrf_post(on_card, "/settings/security/sls/mobile/", {"phone": "+39 347 123 4567"})
    texted = re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)
    app = csrf_post(on_card, "/settings/security/sls/mobile/code/", {"code": texted})
    secret = re.search(rb'id="secret"[^>]*>([^<]+)<', app.content).group(1).decode().replace(" ", "")
    done = csrf_post(on_card, "/settings/security/sls/mobile/activate/", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and b"Your mobile authenticator is active" in done.content
    card = OnlineCard.objects.get(user=alice)
    assert card.ended_at is not None and card.ended_reason == EndReason.DEVICE_ACTIVATED  # A6
    assert on_card.get("/").status_code == 200, "the session moved to the new device"
    assert on_card.session[DEVICE_ID_SESSION_KEY].startswith("devices.mobilebinding/")


def test_C4_keep_using_the_card_goes_to_the_dashboard(on_card):
    response = on_card.get("/")
    assert response.status_code == 200
    assert b"Full access, withdrawals included, until" in response.content


def test_C4_the_options_are_refused_in_words_to_other_sessions(on_passcode, web):
    response = on_passcode.get(OPTIONS)
    assert response.status_code == 403 and b"Activate your card first" in response.content


# --- A4, C (ours): the card's window on its pages ----------------------------------


def card_login(card: OnlineCard) -> HttpClient:
    """A new browser logs in with the password and two codes of the card."""
    web = HttpClient(enforce_csrf_checks=True)
    first = csrf_post(web, "/login/", {"username": card.user.username, "password": PASSWORD})
    assert first.url == "/login/code/", first.content[:300]
    from login.flows import load_pending
    from login.views import PENDING

    offers = load_pending(web.session[PENDING], timezone.now()).offers
    index = next(i for i, offer in enumerate(offers) if offer["device"] == card.persistent_id)
    codes = online_card_codes(card, offers[index]["challenge"]["positions"])
    web.last = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1], "factor": index})
    return web


def test_A4_the_card_gives_full_access_for_21_days_to_the_second(on_card, clock):
    card = OnlineCard.objects.get()
    clock.move_to(card.activated_at + timedelta(days=21) - timedelta(minutes=1))
    web = card_login(card)
    assert web.last.url == "/" and web.get("/withdrawals/").status_code == 200
    clock.move_to(card.activated_at + timedelta(days=21) - SECOND)
    assert web.get("/withdrawals/").status_code == 200
    clock.move_to(card.activated_at + timedelta(days=21))
    response = web.get("/", follow=True)
    assert b"online security card has expired" in response.content
    assert b"online security card has expired" in card_login(card).last.content


def test_C_the_expiry_warning_shows_three_days_before_to_the_second(on_card, clock):
    card = OnlineCard.objects.get()
    expires = card.activated_at + timedelta(days=21)
    clock.move_to(expires - timedelta(days=3) - timedelta(minutes=1))
    web = card_login(card)
    clock.move_to(expires - timedelta(days=3) - SECOND)
    assert b"stops working on" not in web.get(OPTIONS).content
    assert b"stops working on" not in web.get("/").content
    clock.move_to(expires - timedelta(days=3))
    for path in (OPTIONS, "/", "/settings/security/sls/"):
        page = web.get(path)
        assert page.status_code == 200 and b"stops working on" in page.content, path


def test_A4_scope_of_an_active_card_session_is_full(alice, clock):
    card = give_online_card(alice)
    assert card.access_scope(timezone.now()) == access.FULL


@pytest.mark.parametrize("language", ["en", "it"])
def test_A9_the_card_pages_say_their_rules_in_words(language, web, alice, passcode, clock):
    from tests.test_A9_client_pages import assert_clean

    web.cookies["django_language"] = language
    passcode_login(web, passcode)
    pages = [("card, none yet", web.get(CARD)), ("no card to download", web.get(PDF))]
    card = made_card(web)
    pages += [("card", web.get(CARD)), ("activate", web.get(ACTIVATE))]
    pages.append(("wrong codes", answer(web, card, ["ZZZ", "ZZZ"])[1]))
    clock.shift(SECOND * 2)
    pages.append(("spaced codes", answer(web, card, ["Z Z", "ZZZ"])[1]))
    pages.append(("options refused", web.get(OPTIONS)))
    clock.shift(SECOND * 8)
    activate(web, card)
    pages += [("options", web.get(OPTIONS)), ("codes refused", web.get(PDF)), ("dashboard", web.get("/"))]
    for what, response in pages:
        assert_clean(response, f"{language} {what}")
    if language == "it":
        assert "Cosa desidera fare ora?" in pages[-3][1].content.decode()


def test_C6_a_replacement_on_its_way_keeps_the_card_to_its_auto_activation(on_card, alice, clock):
    """C6: the card does not expire before the replacement activates itself
    (D3), even past its 21 days; then it ends and the device logs in (J2)."""
    from devices import orders

    card = OnlineCard.objects.get()
    from accounts.models import Account

    Account.objects.filter(client=alice.client).update(equity_usd="5000.00")  # a code card: no PIN to wait for
    clock.move_to(card.activated_at + timedelta(days=19))
    order = orders.place(alice.client, now=timezone.now()).order
    auto_at = order.device.auto_activates_at
    assert auto_at > card.activated_at + timedelta(days=21)
    for moment in (
        card.activated_at + timedelta(days=21) - SECOND,
        card.activated_at + timedelta(days=21),
        auto_at - SECOND,
    ):
        assert card.access_scope(moment) == access.FULL, moment
    assert card.expires_at(auto_at - SECOND) == auto_at
    assert card.access_scope(auto_at) is None
    clock.move_to(auto_at - timedelta(minutes=1))
    assert card_login(card).last.url == "/"
    clock.move_to(auto_at)
    refused = card_login(card).last
    assert b"online card no longer work" in refused.content
