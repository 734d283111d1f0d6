"""Returning a device in a real browser (Debian's Chromium through Playwright):
from the Secure Login System page to the Returns page, the form filled by its
labels, and the return form downloaded and read (T1, T2)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import User
from devices.flows import issue_device
from devices.models import DeviceStatus, DeviceType, SecurityDevice
from returns.models import DeviceReturn
from tests.conftest import PASSWORD, give_passcode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _browser_env(in_ci):
    if not os.path.exists(CHROMIUM):
        if in_ci:
            pytest.fail("Chromium is missing at /usr/bin/chromium; CI must install Debian's chromium package.")
        pytest.skip("Debian's chromium is not installed")


def test_T1_T2_a_client_returns_a_device_and_downloads_the_form(live_server, page, client_factory):
    person = client_factory("Kenji", "Sato", "JP", username="kenji", email="kenji@example.com")
    device = issue_device(person, DeviceType.ALPINE, now=timezone.now(), active=False)
    SecurityDevice.objects.filter(pk=device.pk).update(status=DeviceStatus.DAMAGED)
    # Technical support gave the caller a temporary passcode until the new device arrives (T4).
    code = give_passcode(User.objects.get(username="kenji"), device_status="damaged")
    base = live_server.url
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("kenji")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/login/code/")
    page.get_by_label("Temporary passcode").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/settings/security/sls/")
    page.get_by_role("link", name="Return a device").click()
    page.wait_for_url(f"{base}/returns/")
    page.get_by_role("button", name="Start the return").click()
    page.wait_for_load_state()
    assert "Choose the device you are sending back." in page.content()
    if os.environ.get("SLS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SLS_SCREENSHOTS"], "returns-errors.png"), full_page=True)
    page.get_by_label("Device you are sending back").select_option(str(device.pk))
    page.get_by_label("Brief reason for the return").fill("バッテリー切れ")
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Start the return").click()
    page.wait_for_url(f"{base}/returns/#return-*")
    assert "The return of your Alpine token is recorded." in page.content()
    if os.environ.get("SLS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SLS_SCREENSHOTS"], "returns-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 800})
        page.screenshot(path=os.path.join(os.environ["SLS_SCREENSHOTS"], "returns-phone.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Return form for {device.serial} (PDF)").click()
    content = Path(download.value.path()).read_bytes()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階" in text
    assert "バッテリー切れ" in text and "Kenji" in text and "Sato" in text
    assert DeviceReturn.objects.get().replacement_wanted is True
