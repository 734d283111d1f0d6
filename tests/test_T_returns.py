"""Returning a device (T1-T5): the Returns page, the return form's PDF, the
receipt recorded by an agent and the replacement it brings by type (D5, D6)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils import timezone
from pypdf import PdfReader

from accounts import access
from accounts.models import IdentityVerification, User
from audit.models import AuditEvent
from devices import jobs
from devices.flows import issue_device
from devices.models import DeviceOrder, DeviceStatus, DeviceType, Notice, SecurityDevice
from help import regions
from passcodes.models import ReportedStatus, TemporaryPasscode
from returns import flows
from returns.models import DeviceReturn
from returns.pdf import is_latin
from tests.conftest import PASSWORD, VERIFIED, csrf_post, give_passcode, login_fully

RETURNS = "/returns/"
PIN = "135790"
PLATINUM_EQUITY = "2000000.00"


@pytest.mark.parametrize(
    ("country", "region", "address_line", "phone"),
    [
        ("US", "US and Canada", "2 Pickwick Plaza", "(203) 618-4006"),
        ("CA", "US and Canada", "Greenwich, CT 06830", "(203) 618-4006"),
        ("IT", "Europe", "CH-6301 Zug", "+41-41-726-9500"),
        ("HK", "Asia (outside Japan)", "Suite 1512, Two Pacific Place", "+852-2156-7907"),
        ("AU", "Australia", "225 George Street", "+61 (2) 8093-7300"),
        ("JP", "Japan", "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階", "+852-2156-7907"),
    ],
)
def test_T2_country_maps_to_its_region_address_and_numbers(country, region, address_line, phone):
    found = regions.region_for_country(country)
    assert str(found.name) == region
    assert address_line in found.return_address
    assert phone in [p.number for p in found.phones]


def test_T2_unknown_country_is_refused():
    with pytest.raises(ValueError):
        regions.region_for_country("ZZ")


# --- Helpers -------------------------------------------------------------------


@pytest.fixture
def returner(client_factory, clock):
    """make(type, ...) -> (username, device): a client whose device of that
    type was reported damaged, who logs in with the temporary passcode
    Customer Service gave them (T4)."""
    made = {"count": 0}

    def make(device_type=DeviceType.PLATINUM, *, country="GB", equity="25000.00", status=DeviceStatus.DAMAGED, **kw):
        made["count"] += 1
        name = f"returner{made['count']}"
        person = client_factory(
            kw.pop("first", "Marta"),
            kw.pop("last", "Bianchi"),
            country,
            equity=equity,
            username=name,
            email=f"{name}@example.com",
            **kw,
        )
        device = issue_device(person, device_type, now=timezone.now(), pin=PIN)
        SecurityDevice.objects.filter(pk=device.pk).update(status=status, deactivated_at=timezone.now())
        device.refresh_from_db()
        user = User.objects.get(username=name)
        reported = status if status in ReportedStatus.values else ReportedStatus.DAMAGED
        PASSCODES[name] = give_passcode(user, device_status=reported)
        # The passcode's own e-mail is tested with it (test_A_windows); here
        # the outbox holds only what the return writes.
        Notice.objects.filter(event="passcode.issued").delete()
        return user, device

    return make


# The temporary passcodes of the returners, by username.
PASSCODES: dict[str, str] = {}


def logged_in(user: User) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    if user.username in PASSCODES and TemporaryPasscode.objects.filter(user=user, ended_at__isnull=True).exists():
        first = csrf_post(http, "/login/", {"username": user.username, "password": PASSWORD})
        assert first.url == "/login/code/", first.content[:300]
        response = csrf_post(http, "/login/code/", {"passcode": PASSCODES[user.username], "factor": 0})
    else:
        response = login_fully(http, user)
    assert response.status_code == 302, response.content[:300]
    return http


def start(http: HttpClient, device: SecurityDevice, *, reason="Broken", replacement="yes"):
    return csrf_post(http, RETURNS, {"device": str(device.pk), "reason": reason, "replacement": replacement})


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def squashed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def form_pdf(http: HttpClient, device_return: DeviceReturn) -> str:
    response = http.get(f"/returns/{device_return.pk}/form.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return squashed(pdf_text(response.content))


def receive(device_return: DeviceReturn, agent: User) -> flows.Receipt:
    from agents import actions

    return actions.record_return_receipt(
        device_return,
        agent=agent,
        now=timezone.now(),
        new_verification=actions.NewVerification("security_questions", "CALL-1"),
    )


def page(http: HttpClient, path: str = RETURNS) -> str:
    response = http.get(path)
    assert response.status_code == 200, response.content[:300]
    return squashed(response.content.decode())


# --- The page, reached from the Secure Login System page ---------------------------


def test_T1_returns_page_is_linked_from_the_secure_login_system_page(alice, returner):
    assert 'href="/returns/"' in page(logged_in(alice), "/settings/security/sls/")
    user, device = returner(DeviceType.ALPINE)
    text = page(logged_in(user))
    assert "<h1>Return a device</h1>" in text
    for label in ('for="id_device"', 'for="id_reason"', 'for="id_replacement_0"', 'for="id_replacement_1"'):
        assert label in text, label
    assert f'<option value="{device.pk}">Alpine token · {device.serial}</option>' in text


def test_T1_returns_page_needs_a_login(db):
    response = HttpClient().get(RETURNS)
    assert response.status_code == 302 and response.url == "/login/?next=/returns/"
    assert HttpClient().get("/returns/1/form.pdf").status_code == 302


@pytest.mark.parametrize("scope", [access.FULL, access.FULL_NO_WITHDRAWALS, access.UNENROLLED, access.STATEMENTS_ONLY])
def test_T1_A8_returns_page_and_form_serve_the_portal_scopes_and_a_closed_account(scope, returner, agent):
    """A closed account (statements only) still returns its device and sees its charge."""
    from returns import views

    user, device = returner(DeviceType.ALPINE)
    device_return = flows.start_return(user, device, reason="Closing", replacement_wanted=False, now=timezone.now())
    for view, args in ((views.returns_view, ()), (views.return_form_view, (device_return.pk,))):
        request = RequestFactory().get(RETURNS)
        request.user, request.sls_scope, request.session = user, scope, {}
        request._messages = []
        response = view(request, *args)
        assert response.status_code == 200, (scope, view)


def test_T1_returns_page_refuses_the_restricted_window(returner):
    from returns import views

    user, _device = returner()
    request = RequestFactory().get(RETURNS)
    request.user, request.sls_scope = user, access.RESTRICTED_CARD_ONLY
    response = views.returns_view(request)
    assert response.status_code == 403 and response.sls_rule == "A3"


# --- T5: what to do, by type -----------------------------------------------------


@pytest.mark.parametrize(
    ("device_type", "words"),
    [
        (DeviceType.PLATINUM, "request it here in Account Management once we have confirmed that we received"),
        (DeviceType.ALPINE, "answering “Yes” to “Do you need a replacement device?” is enough"),
        (DeviceType.DSC_PLUS, "log in and request the new card on the Secure Login System page, and create its PIN"),
        (DeviceType.GOLD, "request the new device on the Secure Login System page, and create its PIN"),
        (DeviceType.CODE_CARD, "A Security Code Card need not be returned: you can destroy it."),
        (DeviceType.MOBILE, "there is nothing to send back"),
    ],
)
def test_T5_page_says_what_to_do_for_each_type(returner, device_type, words):
    user, device = returner(device_type)
    text = page(logged_in(user))
    assert device.serial in text
    assert words in text


def test_T5_code_card_need_not_be_returned_and_cannot_be_started(alice, clock):
    http = logged_in(alice)
    card = SecurityDevice.objects.get(client=alice.client)
    text = page(http)
    assert "None of your devices needs to be sent back now." in text
    response = start(http, card)
    assert response.status_code == 400
    assert "A Security Code Card need not be returned: you can destroy it." in squashed(response.content.decode())
    assert not DeviceReturn.objects.exists()


def test_T5_mobile_authenticator_has_nothing_to_send_back(returner):
    user, device = returner(DeviceType.MOBILE)
    response = start(logged_in(user), device)
    assert response.status_code == 400
    assert "there is nothing to send back" in squashed(response.content.decode())
    assert not DeviceReturn.objects.exists()


def test_T1_starting_a_return_records_it_for_the_agents(returner):
    user, device = returner(DeviceType.ALPINE)
    http = logged_in(user)
    response = start(http, device, reason="  Battery dead  ", replacement="yes")
    device_return = DeviceReturn.objects.get()
    assert response.status_code == 302 and response.url == f"/returns/#return-{device_return.pk}"
    assert (device_return.device, device_return.client, device_return.started_by) == (device, user.client, user)
    assert device_return.reason == "Battery dead" and device_return.replacement_wanted is True
    assert device_return.started_at == timezone.now() and device_return.status(timezone.now()) == "started"
    event = AuditEvent.objects.get(action="device.return.started")
    assert event.rule == "T1" and event.client == user.client and event.details["serial"] == device.serial
    text = page(http)
    assert "The return of your Alpine token is recorded." in text
    assert "on its way to us" in text and "Replacement wanted: yes" in text
    assert f'href="/returns/{device_return.pk}/form.pdf"' in text
    # Nothing changes on the device until it arrives.
    device.refresh_from_db()
    assert device.status == DeviceStatus.DAMAGED


def test_T1_a_second_return_of_the_same_device_is_refused(returner):
    user, device = returner(DeviceType.ALPINE)
    http = logged_in(user)
    start(http, device)
    response = start(http, device, reason="Again")
    assert response.status_code == 400
    assert "You have already started the return of this device" in response.content.decode()
    assert DeviceReturn.objects.count() == 1


# --- T1: the return form ---------------------------------------------------------------


def test_T1_return_form_pdf_is_prefilled(returner):
    user, device = returner(DeviceType.PLATINUM, first="Marta", last="Bianchi", account_number="U7654321")
    http = logged_in(user)
    start(http, device, reason="Battery dead", replacement="yes")
    text = form_pdf(http, DeviceReturn.objects.get())
    for expected in (
        "Security device return form",
        "First name (in the Latin alphabet) Marta",
        "Last name (in the Latin alphabet) Bianchi",
        "Account number U7654321",
        "Brief reason for the return Battery dead",
        "Type of device Platinum token",
        "Square = Platinum, blue oval = Alpine",
        f"Serial number {device.serial}",
        "Do you need a replacement device? Yes",
    ):
        assert expected in text, expected


def test_T1_replacement_answer_no_is_on_the_form(returner):
    user, device = returner(DeviceType.ALPINE)
    http = logged_in(user)
    start(http, device, replacement="no")
    assert "Do you need a replacement device? No" in form_pdf(http, DeviceReturn.objects.get())


def test_T1_a_name_not_in_the_latin_alphabet_is_left_for_the_client_to_write(returner):
    user, device = returner(DeviceType.ALPINE, country="JP", first="太郎", last="山田")
    device_return = flows.start_return(user, device, reason="故障", replacement_wanted=True, now=timezone.now())
    text = form_pdf(logged_in(user), device_return)
    assert "太郎" not in text and "山田" not in text
    assert "Brief reason for the return 故障" in text
    assert is_latin("José Müller-Ørsted") and is_latin("O'Brien") and not is_latin("山田") and not is_latin("")


def test_T1_return_form_in_italian_keeps_the_forms_english_labels(returner):
    user, device = returner(DeviceType.ALPINE)
    http = logged_in(user)
    http.cookies["django_language"] = "it"
    start(http, device, replacement="yes")
    text = form_pdf(http, DeviceReturn.objects.get())
    assert "Modulo di restituzione del dispositivo di sicurezza" in text
    assert "Ha bisogno di un dispositivo sostitutivo? Do you need a replacement device? Sì" in text
    assert "Quadrato = Platinum, ovale blu = Alpine" in text


def test_T1_T2_japanese_form_embeds_a_cjk_font_and_the_tokyo_address(returner):
    """The PDF carries its own TrueType font, so the address renders in any reader."""
    user, device = returner(DeviceType.PLATINUM, country="JP")
    http = logged_in(user)
    http.cookies["django_language"] = "ja"
    start(http, device)
    response = http.get(f"/returns/{DeviceReturn.objects.get().pk}/form.pdf")
    reader = PdfReader(io.BytesIO(response.content))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = [font.get_object() for font in fonts.values()]
    cjk = [f for f in embedded if "Gothic" in f["/BaseFont"] or "ZenHei" in f["/BaseFont"]]
    assert cjk and all("/FontFile2" in f["/FontDescriptor"] for f in cjk)
    text = squashed(pdf_text(response.content))
    assert "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階" in text
    assert "インタラクティブ・ブローカーズ証券 カスタマーサービス" in text


def test_T1_another_clients_form_is_404(returner):
    user, device = returner(DeviceType.ALPINE)
    other, other_device = returner(DeviceType.ALPINE)
    theirs = flows.start_return(other, other_device, reason="x", replacement_wanted=False, now=timezone.now())
    http = logged_in(user)
    assert http.get(f"/returns/{theirs.pk}/form.pdf").status_code == 404
    assert http.get(f"/returns/{2**70}/form.pdf").status_code == 404


# --- T2: the return address and numbers of each region, on the page and on the form ---------

REGION_SAMPLES = [
    ("US", ["2 Pickwick Plaza", "Greenwich, CT 06830"], ["(203) 618-4006"]),
    ("IT", ["Interactive Brokers (U.K.) LTD.", "Gotthardstrasse 3", "CH-6301 Zug"], ["+41-41-726-9500"]),
    ("SG", ["Suite 1512, Two Pacific Place", "88 Queensway, Admiralty"], ["+852-2156-7907", "+86 (21) 6086 8586"]),
    ("AU", ["Grosvenor Place, Level 42", "225 George Street", "Sydney, 2000"], ["+61 (2) 8093-7300"]),
    ("JP", ["〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階"], ["+852-2156-7907", "+86 (21) 6086 8586"]),
]
OTHER_REGIONS_LINES = ["Pickwick", "Gotthardstrasse", "Two Pacific Place", "George Street", "茅場町"]


@pytest.mark.parametrize(("country", "lines", "phones"), REGION_SAMPLES)
def test_T2_page_and_form_show_the_regions_address_and_numbers(returner, country, lines, phones):
    user, device = returner(DeviceType.ALPINE, country=country)
    http = logged_in(user)
    start(http, device)
    shown = page(http)
    address = re.search(r'<address class="return-address" translate="no">(.*?)</address>', shown).group(1)
    form = form_pdf(http, DeviceReturn.objects.get())
    for line in lines:
        assert line in address, line
        assert line in form, line
    for phone in phones:
        assert phone in shown and f"Telephone: {phone}" in form, phone
    others = [word for word in OTHER_REGIONS_LINES if not any(word in line for line in lines)]
    assert not [word for word in others if word in address or word in form]


# --- T3: packing, responsibility, the receipt ---------------------------------------


def test_T3_page_advises_padded_envelope_tracked_service_and_charges_a_loss(returner):
    user, _device = returner()
    text = page(logged_in(user))
    assert "You are responsible for the device until it reaches us" in text
    assert "padded envelope" in text and "tracked service" in text
    assert "A device lost on its way to us is charged." in text
    assert "its receipt shows on this page within 3 days" in text


def test_T3_receipt_shows_received_and_the_device_is_returned(returner, agent):
    user, device = returner(DeviceType.ALPINE)
    http = logged_in(user)
    start(http, device, replacement="no")
    device_return = DeviceReturn.objects.get()
    receipt = receive(device_return, agent)
    assert receipt.outcome == flows.Outcome.NOT_WANTED
    device_return.refresh_from_db()
    device.refresh_from_db()
    assert device_return.received_at == timezone.now() and device_return.received_by == agent
    assert device_return.status(timezone.now()) == "received"
    assert device.status == DeviceStatus.RETURNED
    assert "Received on" in page(http) and "Started on" not in page(http)
    event = AuditEvent.objects.get(action="device.return.received")
    assert event.rule == "T3" and event.actor == agent and event.verification is not None
    assert not DeviceOrder.objects.exists() and not Notice.objects.exists()


def test_T3_receipt_of_an_active_device_ends_its_sessions(alice, agent, clock):
    """A device still in use (returned at closure) stops at its receipt."""
    device = issue_device(alice.client, DeviceType.ALPINE, now=timezone.now(), active=False)
    device_return = flows.start_return(alice, device, reason="Closing", replacement_wanted=False, now=timezone.now())
    card = SecurityDevice.objects.get(client=alice.client, type=DeviceType.CODE_CARD)
    SecurityDevice.objects.filter(pk=card.pk).update(status=DeviceStatus.REVOKED)
    SecurityDevice.objects.filter(pk=device.pk).update(status=DeviceStatus.ACTIVE)
    clock.shift(timedelta(minutes=1))
    receive(device_return, agent)
    alice.refresh_from_db()
    assert alice.sessions_valid_after == timezone.now()


def test_T3_receipt_twice_is_refused_and_changes_nothing(returner, agent):
    user, device = returner(DeviceType.ALPINE)
    device_return = flows.start_return(user, device, reason="x", replacement_wanted=True, now=timezone.now())
    receive(device_return, agent)
    verifications = IdentityVerification.objects.count()
    with pytest.raises(flows.ReturnRefused, match="already recorded"):
        receive(device_return, agent)
    assert IdentityVerification.objects.count() == verifications
    assert DeviceOrder.objects.count() == 1
    assert AuditEvent.objects.filter(action="device.return.received").count() == 1


def test_T3_receipt_in_the_admin_needs_a_verification_and_is_audited(returner, desk, agent):
    user, device = returner(DeviceType.ALPINE)
    device_return = flows.start_return(user, device, reason="x", replacement_wanted=False, now=timezone.now())
    path = f"/admin/returns/devicereturn/{device_return.pk}/receive/"
    assert "The client wants no replacement." in desk.get(path).content.decode()
    unverified = csrf_post(desk, path, {"receipt_notes": "arrived scratched"})
    assert unverified.status_code == 400 and "Verify the caller" in unverified.content.decode()
    device_return.refresh_from_db()
    assert device_return.received_at is None
    response = csrf_post(desk, path, {"receipt_notes": "arrived scratched", **VERIFIED})
    assert response.status_code == 302
    device_return.refresh_from_db()
    assert device_return.received_by == agent and device_return.agent_notes == "arrived scratched"
    assert device_return.receipt_verification.reference == "CALL-4711"
    change = desk.get(response.url).content.decode()
    assert "No replacement was asked for." in change
    assert "/receive/" not in change  # the action is gone once received


def test_T3_agents_list_returns_by_status_and_region(returner, desk, agent):
    made = {}
    for country in ("US", "IT", "JP"):
        user, device = returner(DeviceType.ALPINE, country=country)
        made[country] = flows.start_return(user, device, reason="x", replacement_wanted=False, now=timezone.now())
    receive(made["IT"], agent)
    listing = "/admin/returns/devicereturn/"

    def serials(query: str) -> set[str]:
        content = desk.get(listing + query).content.decode()
        return {ret.device.serial for ret in made.values() if ret.device.serial in content}

    assert serials("") == {ret.device.serial for ret in made.values()}
    assert serials("?status=received") == {made["IT"].device.serial}
    assert serials("?status=started") == {made["US"].device.serial, made["JP"].device.serial}
    assert serials("?region=japan") == {made["JP"].device.serial}
    assert serials("?region=europe&status=received") == {made["IT"].device.serial}


def test_T3_agents_notes_on_a_return_are_audited_and_nobody_deletes_a_return(returner, desk, root):
    user, device = returner(DeviceType.ALPINE)
    device_return = flows.start_return(user, device, reason="x", replacement_wanted=False, now=timezone.now())
    change = f"/admin/returns/devicereturn/{device_return.pk}/change/"
    response = csrf_post(desk, change, {"agent_notes": "Client called: posted by DHL"})
    assert response.status_code == 302, response.content[:500]
    device_return.refresh_from_db()
    assert device_return.agent_notes == "Client called: posted by DHL"
    assert device_return.reason == "x"
    assert AuditEvent.objects.filter(action="device.return.notes", details__return=device_return.pk).exists()
    from tests.conftest import admin_client

    superuser = admin_client(root)
    assert superuser.get(f"/admin/returns/devicereturn/{device_return.pk}/delete/").status_code == 403
    assert superuser.get("/admin/returns/devicereturn/add/").status_code == 403


# --- T4: a return for replacement -----------------------------------------------------


def test_T4_page_gives_technical_support_and_its_options(returner):
    user, _device = returner()
    text = page(logged_in(user))
    assert 'href="tel:+18774422757"' in text and "1-877-442-2757" in text
    assert "options 2, then 6 (then 3)" in text
    assert "they give you a temporary passcode to log in until the new device arrives" in text


def test_T4_form_for_a_replacement_gives_technical_support_and_one_for_closure_does_not(returner):
    user, device = returner(DeviceType.ALPINE)
    other, other_device = returner(DeviceType.DSC_PLUS)
    replacing = flows.start_return(user, device, reason="Broken", replacement_wanted=True, now=timezone.now())
    closing = flows.start_return(other, other_device, reason="Closing", replacement_wanted=False, now=timezone.now())
    assert "1-877-442-2757, options 2, then 6 (then 3)" in form_pdf(logged_in(user), replacing)
    assert "1-877-442-2757" not in form_pdf(logged_in(other), closing)


# --- T5 at the receipt: every branch -------------------------------------------------------


def _sent(now=None) -> list:
    jobs.send_notices(now or timezone.now(), batch_size=10)
    return mail.outbox


def test_T5_platinum_replacement_is_requested_in_the_portal_after_receipt(returner, agent):
    """D5: receipt acknowledged, equity still qualifies: an e-mail invitation; the
    client then orders it in the portal and sees the PIN and passphrase once."""
    user, device = returner(DeviceType.PLATINUM, equity=PLATINUM_EQUITY)
    http = logged_in(user)
    start(http, device, replacement="yes")
    # Before the receipt no second Platinum can be ordered.
    from devices import orders

    with pytest.raises(orders.OrderRefused, match="We have not received your Platinum token back yet") as refused:
        orders.place(user.client, now=timezone.now())
    assert refused.value.rule == "D5"
    receipt = receive(DeviceReturn.objects.get(), agent)
    assert receipt.outcome == flows.Outcome.INVITED and receipt.order is None
    assert not DeviceOrder.objects.exists()
    notice = Notice.objects.get()
    assert (notice.event, notice.object_key) == (jobs.INVITATION, f"device:{device.pk}")
    (message,) = _sent()
    assert message.to == [user.client.email] and message.subject == "Request your new Platinum token"
    assert device.serial in message.body and "Settings > Security > Secure Login System" in message.body
    assert "shown only once" in message.body
    # The invitation goes once, whoever runs the job again.
    assert jobs.send_notices(timezone.now(), batch_size=10) == 0
    # The client requests it on the Secure Login System page.
    sls = page(http, "/settings/security/sls/")
    assert "<strong>Platinum token</strong>" in sls
    confirmation = csrf_post(http, "/settings/security/sls/order/", {"confirm_address": "on"})
    assert confirmation.status_code == 200 and "passphrase" in confirmation.content.decode().lower()
    assert DeviceOrder.objects.get().device_type == DeviceType.PLATINUM


def test_T5_platinum_whose_equity_no_longer_qualifies_gets_the_device_for_its_equity(returner, agent):
    """D6 (s265): below the Platinum threshold at the receipt, the device for
    the equity is ordered at once; a PIN-bound one waits for the client's PIN (D2)."""
    user, device = returner(DeviceType.PLATINUM, equity="25000.00")
    device_return = flows.start_return(user, device, reason="Broken", replacement_wanted=True, now=timezone.now())
    receipt = receive(device_return, agent)
    assert receipt.outcome == flows.Outcome.ORDERED
    order = DeviceOrder.objects.get()
    assert (order.device_type, order.replaces, order.ordered_by) == (DeviceType.DSC_PLUS, device, agent)
    assert order.finalised_at is None  # the client creates the PIN
    (message,) = _sent()
    assert message.subject == "Your replacement security device is ordered"
    assert "Digital Security Card+" in message.body and "create the PIN" in message.body


def test_T5_alpine_yes_orders_the_device_for_the_equity_with_no_web_step(returner, agent):
    user, device = returner(DeviceType.ALPINE, equity="5000.00")
    http = logged_in(user)
    start(http, device, replacement="yes")
    receipt = receive(DeviceReturn.objects.get(), agent)
    assert receipt.outcome == flows.Outcome.ORDERED
    order = DeviceOrder.objects.get()
    assert order.device_type == DeviceType.CODE_CARD and order.replaces == device
    assert order.finalised_at == timezone.now() and order.device.status == DeviceStatus.ISSUED
    assert order.equity_usd == Decimal("5000.00")
    placed = AuditEvent.objects.get(action="device.order.placed")
    assert placed.actor == agent and placed.rule == "D6"
    (message,) = _sent()
    assert "Alpine token" in message.body and device.serial in message.body
    assert "create the PIN" not in message.body
    # Nothing for the client to do: the page shows the order on its way.
    assert "Your device order" in page(http, "/settings/security/sls/")


def test_T5_alpine_no_orders_nothing(returner, agent):
    user, device = returner(DeviceType.ALPINE)
    device_return = flows.start_return(user, device, reason="Closing", replacement_wanted=False, now=timezone.now())
    assert receive(device_return, agent).outcome == flows.Outcome.NOT_WANTED
    assert not DeviceOrder.objects.exists() and not Notice.objects.exists()


def test_T5_alpine_with_platinum_equity_gets_the_invitation_not_an_order(returner, agent):
    """D5: a Platinum is never ordered without the client, whose page shows its secrets once."""
    user, device = returner(DeviceType.ALPINE, equity=PLATINUM_EQUITY)
    device_return = flows.start_return(user, device, reason="Broken", replacement_wanted=True, now=timezone.now())
    assert receive(device_return, agent).outcome == flows.Outcome.INVITED
    assert not DeviceOrder.objects.exists()
    assert Notice.objects.get().event == jobs.INVITATION


def test_T5_dsc_plus_client_logs_in_to_request_the_new_card_and_set_its_pin(returner, agent):
    user, device = returner(DeviceType.DSC_PLUS, equity="25000.00")
    http = logged_in(user)
    start(http, device, replacement="yes")
    receipt = receive(DeviceReturn.objects.get(), agent)
    assert receipt.outcome == flows.Outcome.CLIENT_REQUESTS
    assert not DeviceOrder.objects.exists() and not Notice.objects.exists()
    # The client requests it, then creates the PIN.
    response = csrf_post(http, "/settings/security/sls/order/", {"confirm_address": "on"})
    assert response.status_code == 302 and response.url == "/settings/security/sls/order/pin/"
    assert DeviceOrder.objects.get().device_type == DeviceType.DSC_PLUS


def test_T5_receipt_whose_order_is_refused_is_still_recorded(returner, agent):
    """An order already on its way (D5): the receipt stands, the agent is told why no order was placed."""
    user, device = returner(DeviceType.ALPINE, equity="5000.00")
    from devices import orders

    orders.place(user.client, now=timezone.now())
    device_return = flows.start_return(user, device, reason="Broken", replacement_wanted=True, now=timezone.now())
    receipt = receive(device_return, agent)
    assert receipt.outcome == flows.Outcome.REFUSED and receipt.rule == "D5"
    assert "already on its way" in receipt.refusal
    device_return.refresh_from_db()
    assert device_return.received_at is not None and DeviceOrder.objects.count() == 1
    assert AuditEvent.objects.get(action="device.return.received").details["refused_rule"] == "D5"


# --- Bad input -------------------------------------------------------------------------


def test_T1_a_return_of_another_clients_device_is_404_and_writes_nothing(returner):
    user, _device = returner(DeviceType.ALPINE)
    _other, theirs = returner(DeviceType.ALPINE)
    response = start(logged_in(user), theirs)
    assert response.status_code == 404
    assert not DeviceReturn.objects.exists()
    assert not AuditEvent.objects.filter(action="device.return.started").exists()


def test_T1_a_reason_of_100_kb_gets_a_clear_message_and_writes_nothing(returner):
    user, device = returner(DeviceType.ALPINE)
    response = start(logged_in(user), device, reason="x" * 100_000)
    assert response.status_code == 400
    text = response.content.decode()
    assert "Keep the reason brief: at most 500 characters (yours has 100000)." in text
    assert 'aria-invalid="true"' in text
    assert not DeviceReturn.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "", "replacement": "yes"}, "Give a brief reason for the return"),
        ({"reason": "Broken", "replacement": ""}, "Say whether you need a replacement device."),
        ({"reason": "Broken", "replacement": "maybe"}, "Say whether you need a replacement device: yes or no."),
        ({"reason": "Broken\x00", "replacement": "yes"}, "Null characters are not allowed."),
    ],
)
def test_T1_incomplete_form_names_what_is_missing(returner, data, message):
    user, device = returner(DeviceType.ALPINE)
    response = csrf_post(logged_in(user), RETURNS, {"device": str(device.pk), **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DeviceReturn.objects.exists()


@pytest.mark.parametrize("raw", ["", "abc", "١٢", "9" * 30])
def test_T1_a_device_that_is_no_number_gets_a_message(returner, raw):
    user, _device = returner(DeviceType.ALPINE)
    response = csrf_post(logged_in(user), RETURNS, {"device": raw, "reason": "x", "replacement": "yes"})
    assert response.status_code in (400, 404)
    assert not DeviceReturn.objects.exists()


def test_T5_a_device_of_an_unknown_type_gets_a_clear_message(returner):
    user, device = returner(DeviceType.ALPINE)
    SecurityDevice.objects.filter(pk=device.pk).update(type="hologram")
    http = logged_in(user)
    assert "please call your Customer Service Center" in page(http)
    response = start(http, device)
    assert response.status_code == 400
    assert "We have no return instructions for this device" in response.content.decode()
    assert not DeviceReturn.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_T1_a_return_started_twice_at_once_is_recorded_once(postgresql, client_factory, clock):
    from tests.conftest import run_at_once

    person = client_factory("Ada", "Verdi", "IT", username="ada")
    device = issue_device(person, DeviceType.ALPINE, now=timezone.now(), active=False)
    user = User.objects.get(username="ada")

    def attempt(index: int) -> str:
        try:
            flows.start_return(user, device, reason=f"try {index}", replacement_wanted=True, now=timezone.now())
        except flows.ReturnRefused:
            return "refused"
        return "started"

    results = run_at_once(6, attempt)
    assert sorted(results) == ["refused"] * 5 + ["started"], results
    assert DeviceReturn.objects.count() == 1


def test_T_returns_of_a_client_stay_theirs(returner):
    """SECURITY.md 17: the page lists only the client's own devices and returns."""
    user, device = returner(DeviceType.ALPINE)
    other, theirs = returner(DeviceType.ALPINE)
    flows.start_return(other, theirs, reason="x", replacement_wanted=False, now=timezone.now())
    text = page(logged_in(user))
    assert device.serial in text and theirs.serial not in text


def test_T1_closed_client_logs_in_and_returns_the_device(client_factory, clock):
    person = client_factory("Carla", "Chiusi", "IT", username="closed1", closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    device = issue_device(person, DeviceType.ALPINE, now=timezone.now(), active=False)
    user = User.objects.get(username="closed1")
    http = HttpClient(enforce_csrf_checks=True)
    assert csrf_post(http, "/login/", {"username": "closed1", "password": PASSWORD}).status_code == 302
    response = start(http, device, reason="Account closed", replacement="no")
    assert response.status_code == 302
    assert DeviceReturn.objects.get().started_by == user


@pytest.mark.parametrize(
    ("device_type", "equity", "forecast"),
    [
        (DeviceType.PLATINUM, PLATINUM_EQUITY, "it is a Platinum token: the client is e-mailed an invitation"),
        (DeviceType.ALPINE, "5000.00", "a Security Code Card is ordered at once"),
        (DeviceType.DSC_PLUS, "25000.00", "they request it online and create its PIN there"),
    ],
)
def test_T5_receipt_page_tells_the_agent_what_the_receipt_will_do(returner, desk, device_type, equity, forecast):
    user, device = returner(device_type, equity=equity)
    device_return = flows.start_return(user, device, reason="x", replacement_wanted=True, now=timezone.now())
    page_text = desk.get(f"/admin/returns/devicereturn/{device_return.pk}/receive/").content.decode()
    assert forecast in page_text
