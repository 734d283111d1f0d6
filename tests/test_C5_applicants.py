"""C5: a new applicant gets a username and an online card from the first
day, an e-mail saying how to log in and print and activate it; funding the
account starts the card's last 21 days and orders the permanent device,
whose activation ends the card (C5, C6)."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.utils import timezone

from accounts import access
from accounts.models import Account, Client, User
from audit.models import AuditEvent
from devices import codecard
from devices.jobs import send_notices
from devices.models import DeviceOrder, DeviceStatus, DeviceType, SecurityDevice
from passcodes import applicants, cards
from passcodes.models import EndReason, OnlineCard
from passcodes.windows import Phase
from tests.conftest import (
    PASSWORD,
    VERIFIED,
    client_url,
    csrf_post,
    online_card_codes,
    pending_positions,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
DAYS_21 = timedelta(days=21)
CARD = "/settings/security/sls/online-card/"


def open_luca(now=None, *, country="IT", username="luca") -> applicants.Opened:
    opened = applicants.open_account(
        first_name="Luca",
        last_name="Conti",
        email="luca@example.com",
        phone="+39 02 555 0100",
        address="Via Roma 2\n20121 Milano",
        country=country,
        username=username,
        now=now or timezone.now(),
    )
    # What the e-mail's link lets Luca do: choose a password.
    opened.user.set_password(PASSWORD)
    opened.user.save()
    return opened


def password_login(web: HttpClient, username: str = "luca"):
    return csrf_post(web, "/login/", {"username": username, "password": PASSWORD})


def activate_by_page(web: HttpClient, card: OnlineCard):
    page = web.get("/settings/security/sls/online-card/activate/")
    text = re.search(rb'id="card-instructions">([^<]+)<', page.content).group(1).decode()
    positions = [int(n) for n in re.findall(r"\d+", text)[:2]]
    codes = online_card_codes(card, positions)
    token = web.cookies["csrftoken"].value
    data = {"code_1": codes[0], "code_2": codes[1], "card": card.pk, "csrfmiddlewaretoken": token}
    return web.post("/settings/security/sls/online-card/activate/", data)


def card_login(card: OnlineCard) -> HttpClient:
    web = HttpClient(enforce_csrf_checks=True)
    first = password_login(web, card.user.username)
    assert first.url == "/login/code/", first.content[:300]
    codes = online_card_codes(card, pending_positions(web))
    web.last = csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})
    return web


def activated(opened: applicants.Opened, now=None) -> OnlineCard:
    card = opened.card
    challenge = card.generate_challenge()
    response = "".join(online_card_codes(card, challenge["positions"]))
    return cards.activate(opened.user, card.pk, challenge, response, now=now or timezone.now())


def test_C5_opening_an_account_makes_the_username_the_account_and_the_card(clock):
    opened = open_luca()
    assert opened.user.client == opened.client and opened.client.language == "it"
    assert not Account.objects.get(pk=opened.account.pk).funded_at
    card = OnlineCard.objects.get(user=opened.user)
    assert card.applicant and card.activated_at is None and card.passcode is None
    assert card.window(timezone.now())[0] == Phase.PENDING
    event = AuditEvent.objects.get(action=applicants.OPENED)
    assert event.rule == "C5" and event.details["online_card"] == card.pk


def test_C5_the_applicant_is_emailed_a_password_link_and_the_card_steps(clock, mailoutbox):
    opened = applicants.open_account(
        first_name="Luca",
        last_name="Conti",
        email="luca@example.com",
        phone="+39 02 555 0100",
        address="Via Roma 2",
        country="US",
        username="luca",
        now=timezone.now(),
    )
    assert not opened.user.has_usable_password()
    assert send_notices(timezone.now(), 100) == 1
    assert send_notices(timezone.now(), 100) == 0, "sent once"
    mail = mailoutbox[-1]
    assert mail.to == ["luca@example.com"] and "luca" in mail.body
    link = re.search(r"(http\S+/password/reset/\S+/)", mail.body).group(1)
    assert "/settings/security/sls/online-card/" in mail.body
    assert "21 days after your account is funded" in mail.body
    # The link chooses the password once.
    web = HttpClient(enforce_csrf_checks=True)
    path = link.split("127.0.0.1:8000", 1)[-1] if "127.0.0.1:8000" in link else "/" + link.split("/", 3)[3]
    form = web.get(path, follow=True)
    assert form.status_code == 200
    new = "a much longer passphrase 2026"
    done = csrf_post(web, form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert User.objects.get(pk=opened.user.pk).check_password(new)


def test_C5_the_applicant_logs_in_with_the_password_prints_and_activates_the_card(web, clock):
    opened = open_luca()
    response = password_login(web)
    assert response.status_code == 302 and response.url == "/"
    dashboard = web.get("/")
    assert b"Print your online security card" in dashboard.content
    page = web.get(CARD)
    assert page.status_code == 200 and b"Welcome!" in page.content
    assert web.get("/settings/security/sls/online-card.pdf").status_code == 200
    response = activate_by_page(web, opened.card)
    assert response.status_code == 302 and response.url.endswith("/online-card/options/")
    assert web.get("/withdrawals/").status_code == 200, "A4: full access, withdrawals included"
    assert b"Full access, withdrawals included." in web.get("/").content
    # From now on step 2 asks the card.
    assert card_login(OnlineCard.objects.get(pk=opened.card.pk)).last.url == "/"


def test_C5_until_the_account_is_funded_the_card_does_not_expire(clock):
    opened = open_luca()
    card = activated(opened)
    clock.shift(timedelta(days=400))
    assert card.access_scope(timezone.now()) == access.FULL
    assert card.allowance(timezone.now()).until is None


def test_C5_the_card_expires_21_days_after_funding_to_the_second(clock):
    """A PIN-bound device waits for its PIN (D2): no device on its way (no C6)."""
    opened = open_luca()
    activated(opened)
    clock.shift(timedelta(days=3))
    funded = applicants.fund_account(opened.account, Decimal("25000.00"), now=timezone.now())
    assert funded.order is not None and funded.order.device_type == DeviceType.DSC_PLUS
    assert funded.order.device is None, "waits for the PIN"
    funded_at = funded.account.funded_at
    card = OnlineCard.objects.get(pk=opened.card.pk)
    assert card.expires_at(funded_at) == funded_at + DAYS_21
    clock.move_to(funded_at + DAYS_21 - timedelta(minutes=1))
    web = card_login(card)
    assert web.last.url == "/"
    clock.move_to(funded_at + DAYS_21 - SECOND)
    assert card.access_scope(timezone.now()) == access.FULL
    assert web.get("/").status_code == 200
    clock.move_to(funded_at + DAYS_21)
    assert card.access_scope(timezone.now()) is None
    assert b"online security card has expired" in web.get("/", follow=True).content
    assert b"online security card has expired" in card_login(card).last.content
    event = AuditEvent.objects.get(action=applicants.FUNDED)
    assert event.rule == "C5" and event.details["equity_usd"] == "25000.00"


def test_C5_funding_orders_the_device_whose_auto_activation_ends_the_card(clock):
    opened = open_luca()
    activated(opened)
    funded = applicants.fund_account(opened.account, Decimal("5000.00"), now=timezone.now())
    order = funded.order
    assert order.device_type == DeviceType.CODE_CARD and order.device.status == DeviceStatus.ISSUED
    auto_at = order.device.auto_activates_at
    assert auto_at < funded.account.funded_at + DAYS_21
    card = OnlineCard.objects.get(pk=opened.card.pk)
    assert card.expires_at(timezone.now()) == auto_at, "C6: the card runs exactly to the auto-activation"
    clock.move_to(auto_at - SECOND)
    assert card.access_scope(timezone.now()) == access.FULL
    clock.move_to(auto_at)
    assert card.access_scope(timezone.now()) is None
    # No job ran (J2): step 2 asks the device that activated itself.
    web = HttpClient(enforce_csrf_checks=True)
    password_login(web)
    positions = pending_positions(web)
    codes = [codecard.code_at(order.device.seed, p) for p in positions]
    assert csrf_post(web, "/login/code/", {"code_1": codes[0], "code_2": codes[1]}).url == "/"


def test_C5_activating_the_permanent_device_ends_the_card(clock):
    from devices import activation

    opened = open_luca()
    activated(opened)
    device = applicants.fund_account(opened.account, Decimal("5000.00"), now=timezone.now()).order.device
    binding = activation.begin(opened.user, device.serial)
    challenge = binding.generate_challenge()
    activation.finish(
        opened.user,
        binding.persistent_id,
        challenge,
        codecard.expected_response(device.seed, challenge["positions"]),
        now=timezone.now(),
    )
    card = OnlineCard.objects.get(pk=opened.card.pk)
    assert card.ended_at == timezone.now() and card.ended_reason == EndReason.DEVICE_ACTIVATED


def test_C5_funding_twice_keeps_the_first_funding(clock):
    opened = open_luca()
    first = applicants.fund_account(opened.account, Decimal("5000.00"), now=timezone.now())
    clock.shift(timedelta(days=5))
    again = applicants.fund_account(opened.account, Decimal("9000.00"), now=timezone.now())
    assert again.already and again.order is None
    assert Account.objects.get(pk=opened.account.pk).funded_at == first.account.funded_at
    assert DeviceOrder.objects.filter(client=opened.client).count() == 1


def test_C5_funding_refuses_a_closed_account_or_no_amount(clock):
    opened = open_luca()
    with pytest.raises(applicants.FundingRefused, match="amount"):
        applicants.fund_account(opened.account, Decimal("0"), now=timezone.now())
    Account.objects.filter(pk=opened.account.pk).update(closed_at=timezone.now())
    with pytest.raises(applicants.FundingRefused, match="closed"):
        applicants.fund_account(opened.account, Decimal("10"), now=timezone.now())
    assert not Account.objects.get(pk=opened.account.pk).funded_at


def test_C5_funding_an_enrolled_clients_account_orders_nothing(alice, clock):
    account = Account.objects.create(number="U7777777", client=alice.client, equity_usd=0)
    funded = applicants.fund_account(account, Decimal("1000.00"), now=timezone.now())
    assert funded.order is None and not DeviceOrder.objects.exists()


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("Luca", "lower-case letters and digits"),
        ("luca conti", "lower-case letters and digits"),
        ("", "Choose a username"),
        ("x" * 40, "at most 32 characters"),
    ],
)
def test_C5_a_bad_username_is_refused_and_nothing_is_written(username, message, clock):
    with pytest.raises(applicants.OpeningRefused, match=message):
        open_luca(username=username)
    assert not Client.objects.exists() and not OnlineCard.objects.exists()


def test_C5_a_taken_username_or_country_is_refused(alice, clock):
    with pytest.raises(applicants.OpeningRefused, match="taken"):
        open_luca(username="alice")
    with pytest.raises(applicants.OpeningRefused, match="country"):
        open_luca(country="XX")
    assert Client.objects.count() == 1


def test_C5_the_management_command_opens_the_account(capsys, clock):
    call_command(
        "open_account",
        "marta",
        "--first-name=Marta",
        "--last-name=Ferri",
        "--email=marta@example.com",
        "--phone=+39 02 555 0101",
        "--address=Via Verdi 3\\n20121 Milano",
        "--country=IT",
    )
    assert "with username marta" in capsys.readouterr().out
    user = User.objects.get(username="marta")
    assert user.client.address == "Via Verdi 3\n20121 Milano"
    assert OnlineCard.objects.get(user=user).applicant
    with pytest.raises(CommandError, match="taken"):
        call_command(
            "open_account",
            "marta",
            "--first-name=M",
            "--last-name=F",
            "--email=m@example.com",
            "--phone=1",
            "--address=a",
            "--country=IT",
        )


def test_C5_an_agent_opens_the_account_of_a_verified_applicant_on_file(desk, agent, clock, mailoutbox):
    person = Client.objects.create(
        first_name="Nina", last_name="Russo", email="nina@example.com", phone="+39 1", address="Via 1", country="IT"
    )
    url = f"/admin/accounts/client/{person.pk}/open-account/"
    page = desk.get(url)
    assert page.status_code == 200 and b"Username for the client" in page.content
    refused = csrf_post(desk, url, {"username": "nina", "method": "", "reference": ""})
    assert refused.status_code == 400 and b"Verify the caller" in refused.content
    assert not User.objects.filter(username="nina").exists()
    bad = csrf_post(desk, url, {"username": "Nina!", **VERIFIED})
    assert bad.status_code == 400 and not User.objects.filter(client=person).exists()
    done = csrf_post(desk, url, {"username": "nina", **VERIFIED})
    assert done.status_code == 302
    user = User.objects.get(username="nina")
    assert OnlineCard.objects.get(user=user).applicant
    event = AuditEvent.objects.get(action=applicants.OPENED)
    assert event.actor == agent and event.verification is not None and event.client == person
    again = csrf_post(desk, url, {"username": "nina2", **VERIFIED})
    assert again.status_code == 400 and b"already has a username" in again.content


def test_C5_an_agent_records_the_funding_and_the_device_is_ordered(desk, agent, clock):
    opened = open_luca()
    url = f"/admin/accounts/client/{opened.client.pk}/fund-account/"
    assert desk.get(url).status_code == 200
    bad = csrf_post(desk, url, {"account": opened.account.pk, "equity": "-5"})
    assert bad.status_code == 400 and not Account.objects.get(pk=opened.account.pk).funded_at
    done = csrf_post(desk, url, {"account": opened.account.pk, "equity": "5000.00"})
    assert done.status_code == 302
    assert Account.objects.get(pk=opened.account.pk).funded_at == timezone.now()
    assert DeviceOrder.objects.get(client=opened.client).device_type == DeviceType.CODE_CARD
    assert AuditEvent.objects.get(action=applicants.FUNDED).actor == agent


def test_C5_an_agent_without_the_permission_gets_403(clock, alice):
    from tests.conftest import admin_client, staff_user

    clerk = staff_user("clerk")
    response = admin_client(clerk).get(client_url(alice, "open-account"))
    assert response.status_code == 403


def test_C5_the_demo_has_an_applicant_of_each_kind(settings, clock):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    first = User.objects.get(username="applicant1")
    assert OnlineCard.objects.get(user=first).applicant and not first.client.accounts.get().funded_at
    second = User.objects.get(username="applicant2")
    assert second.client.accounts.get().funded_at is not None
    assert SecurityDevice.objects.filter(client=second.client, status=DeviceStatus.ISSUED).exists()
