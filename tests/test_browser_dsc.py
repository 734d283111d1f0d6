"""In a real browser (Chromium): an unenrolled client orders a Digital
Security Card+ on the enrollment page and creates its PIN (D8, D2); after
its projected delivery (the clock moved), activates it on the activation
page with the code the card shows (R1, the simulator), logs out, and logs
in with it."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from devices import simulator
from devices.models import DeviceOrder, DeviceStatus, SecurityDevice
from tests.conftest import PASSWORD
from tests.test_browser import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PIN = "4729"


def _answer_with_the_card(page, serial: str) -> None:
    """Type what the card shows for the challenge on the page, as the client does."""
    field = page.get_by_label("Security code")
    field.wait_for()  # the page with the challenge has loaded
    question = re.search(r"challenge (\d{8})", page.locator("main").inner_text()).group(1)
    _device, lines = simulator.displays(serial, now=timezone.now(), question=question)
    field.fill(lines[0].split(" -> ")[1])


def test_D8_D2_R1_browser_order_a_card_set_its_pin_activate_it_then_log_in_with_it(page, live_server, bob):
    base = live_server.url
    _log_in(page, base, "bob", PASSWORD)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/settings/security/sls/")
    expect(page.get_by_text("Digital Security Card+").first).to_be_visible()
    page.get_by_label("Send my device to this address of record").check()
    page.get_by_role("button", name="Order my device").click()
    page.wait_for_url(f"{base}/settings/security/sls/order/pin/")
    page.get_by_label("New PIN for your device").fill(PIN)
    page.get_by_label("The same PIN again").fill(PIN)
    page.get_by_role("button", name="Finish my order").click()
    page.wait_for_url(f"{base}/settings/security/sls/")
    order = DeviceOrder.objects.select_related("device").get(client=bob.client)
    serial = order.device.serial
    assert order.status(timezone.now()) == "requested"

    # It arrives: an hour after its projected delivery, before it would activate itself.
    with time_machine.travel(order.projected_delivery_at + timedelta(hours=1), tick=True):
        _log_in(page, base, "bob", PASSWORD)  # the earlier session has long expired
        page.wait_for_url(f"{base}/")  # still the password alone: the card is not active yet
        page.goto(f"{base}/settings/security/sls/")
        page.get_by_role("link", name="Activate my new/current secure login device").click()
        page.get_by_label(re.compile(serial)).check()
        page.get_by_role("button", name="Next").click()
        _answer_with_the_card(page, serial)
        page.get_by_role("button", name="Activate").click()
        expect(page.get_by_role("heading", name="Your device is active")).to_be_visible()
        assert SecurityDevice.objects.get(serial=serial).status == DeviceStatus.ACTIVE

        page.get_by_role("button", name=re.compile("Log out", re.I)).click()
        _log_in(page, base, "bob", PASSWORD)
        page.wait_for_url(f"{base}/login/code/")
        _answer_with_the_card(page, serial)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{base}/")
        expect(page.get_by_role("heading", name=re.compile("Welcome, Bob"))).to_be_visible()
