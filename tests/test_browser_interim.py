"""The interim story in a real browser (Chromium): an agent verifies the
caller in the admin (TOTP) and issues a temporary passcode (A2); the client
logs in with it, prints and saves the online card (C1: the PDF and the PNG
open and hold the codes), activates it with two of its codes (C2, C3),
asks for a new Secure Login Device (C4, D1), and once the clock passes
delivery + 2 days logs in with the replacement, which activated itself
(D3), while the card is refused (C6, A6)."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from accounts.models import Account, IdentityVerification
from devices import codecard, simulator
from devices.models import DeviceOrder, DeviceStatus, SecurityDevice
from passcodes import printing
from passcodes.models import OnlineCard
from tests.conftest import PASSWORD
from tests.test_browser import _agent_logs_in, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def codes_in_pdf(content: bytes) -> dict[int, str]:
    """Card number -> code, read back from the printed card's text, where
    each number is followed by the code printed under it."""
    lines = [line.strip() for line in PdfReader(io.BytesIO(content)).pages[0].extract_text().splitlines()]
    found: dict[int, str] = {}
    for number, code in zip(lines, lines[1:], strict=False):
        if number == str(len(found) + 1) and re.fullmatch(r"[0-9A-Z]{3}", code):
            found[len(found) + 1] = code
    return found


def asked(page, selector: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", page.locator(selector).inner_text())[:2]]


def test_A2_C1_C2_C3_C4_D3_C6_the_interim_story_in_the_browser(browser, live_server, alice, agent, tmp_path):
    base = live_server.url
    # A Security Code Card ships for this equity (D6): no PIN step on the way.
    Account.objects.filter(client=alice.client).update(equity_usd="5000.00")
    old_device = SecurityDevice.objects.get(client=alice.client)
    with time_machine.travel(START, tick=True) as clock:
        # The agent verifies the caller and issues the passcode in the admin, behind its TOTP.
        desk = browser.new_page(locale="en-US")
        _agent_logs_in(desk, base, agent)
        desk.goto(f"{base}/admin/accounts/client/{alice.client_id}/issue-passcode/")
        desk.get_by_label("Lost").check()
        desk.get_by_label("alice").check()
        desk.get_by_label("How you verified the caller").select_option("security_questions")
        desk.get_by_label("Call or ticket reference").fill("CALL-2026-1102")
        desk.get_by_role("button", name="Issue the passcode").click()
        code = desk.locator("#passcode").inner_text().replace(" ", "")
        assert len(code) == 12 and IdentityVerification.objects.filter(reference="CALL-2026-1102").exists()
        assert SecurityDevice.objects.get(pk=old_device.pk).status == DeviceStatus.LOST

        # The client logs in with the passcode (A2).
        page = browser.new_page(locale="en-US", accept_downloads=True)
        _log_in(page, base, "alice", PASSWORD)
        page.wait_for_url(f"{base}/login/code/")
        page.get_by_label("Temporary passcode").fill(code)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{base}/")
        assert "Full access except withdrawals" in page.locator("#standing-text").inner_text()

        # C1: the card, made once, printed and saved.
        page.get_by_role("link", name="Print your online security card").click()
        page.get_by_role("button", name="Make my online security card").click()
        with page.expect_download() as pdf_download:
            page.get_by_role("link", name="Print it (PDF)").click()
        pdf = open(pdf_download.value.path(), "rb").read()  # noqa: SIM115
        with page.expect_download() as png_download:
            page.get_by_role("link", name="Save it as an image (PNG)").click()
        png = open(png_download.value.path(), "rb").read()  # noqa: SIM115
        card = OnlineCard.objects.get(user=alice)
        printed = codes_in_pdf(pdf)
        assert printed == dict(enumerate(codecard.all_codes(card.seed), start=1)), "the 224 codes, each by its number"
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.size[0] >= 1200
        assert png == printing.card_png(card), "the saved image is this card's"

        # C2: two numbers asked; the codes read off the printed card activate it (C3: the passcode ends).
        page.get_by_role("link", name="Activate my online security card").click()
        first, second = asked(page, "#card-instructions")
        page.get_by_label(f"Code number {first}").fill(printed[first])
        page.get_by_label(f"Code number {second}").fill(printed[second])
        page.get_by_role("button", name="Activate").click()
        page.wait_for_url(f"{base}/settings/security/sls/online-card/options/")
        assert page.get_by_role("heading", name="Your online security card is active").is_visible()
        card.refresh_from_db()
        assert card.activated_at is not None and card.passcode.ended_at is not None

        # C4: a new Secure Login Device (D1: the device, the address, the dates).
        page.get_by_role("link", name="Request a new Secure Login Device").click()
        page.wait_for_url(f"{base}/settings/security/sls/replacement/")
        page.get_by_label("Send my device to this address of record").check()
        page.get_by_role("button", name="Request my new device").click()
        page.get_by_role("heading", name="Your device order").wait_for()
        order = DeviceOrder.objects.get(client=alice.client)
        assert order.replaces_id == old_device.pk
        assert "Activates itself on" in page.locator("dl.order").inner_text()

        # Delivery + 2 days later, no job has run (J2): the device activated itself (D3).
        clock.move_to(order.auto_activates_at + timedelta(minutes=1))
        page.context.clear_cookies()
        _log_in(page, base, "alice", PASSWORD)
        page.wait_for_url(f"{base}/login/code/")
        card_form = page.locator("form", has_text="online security card")
        first, second = asked(card_form, "p")
        card_form.get_by_label(f"Code number {first}").fill(printed[first])
        card_form.get_by_label(f"Code number {second}").fill(printed[second])
        card_form.get_by_role("button", name="Continue").click()
        assert "online card no longer work" in page.get_by_role("alert").inner_text()

        _log_in(page, base, "alice", PASSWORD)
        page.wait_for_url(f"{base}/login/code/")
        device_form = page.locator("form").filter(has=page.locator("#challenge-help-1"))
        first, second = asked(page, "#challenge-help-1")
        shown = simulator.displays(order.device.serial, now=timezone.now(), question=f"{first},{second}")[1]
        codes = dict(line.split(": ") for line in shown)
        device_form.get_by_label(f"Code number {first}").fill(codes[str(first)])
        device_form.get_by_label(f"Code number {second}").fill(codes[str(second)])
        device_form.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{base}/")
        assert page.get_by_role("heading", name="Welcome, Alice").is_visible()
        assert "Full access, withdrawals included." in page.locator("#standing-text").inner_text()
