"""In a real browser (Chromium): an unenrolled client enrolls in the mobile
authenticator, reading the secret from the page and computing the app's
code with pyotp, logs out, and logs in with it (D8, s475)."""

from __future__ import annotations

import base64
import os
import re
import time

import pyotp
import pytest

from devices import sms
from tests.conftest import PASSWORD
from tests.test_browser import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _texts_in_memory(settings):
    settings.SMS_BACKEND = "devices.sms.LocmemSmsBackend"
    sms.outbox.clear()


def test_D8_browser_enroll_in_the_mobile_authenticator_then_log_in_with_it(page, live_server, bob):
    base = live_server.url
    _log_in(page, base, "bob", PASSWORD)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/settings/security/sls/")
    page.get_by_role("link", name="Activate the mobile authenticator").click()
    page.get_by_label("Mobile phone number").fill("+1 415 555 2671")
    page.get_by_role("button", name="Text me a code").click()
    page.wait_for_url(f"{base}/settings/security/sls/mobile/code/")
    texted = re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)
    page.get_by_label("Code from the text message").fill(texted)
    page.get_by_role("button", name="Check the code").click()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    secret = page.locator("#secret").inner_text().replace(" ", "")
    base64.b32decode(secret)  # the key, as an app takes it
    page.get_by_label("Code shown by the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activate").click()
    assert page.get_by_role("heading", name="Your mobile authenticator is active").is_visible()

    page.get_by_role("button", name=re.compile("Log out", re.I)).click()
    _log_in(page, base, "bob", PASSWORD)
    page.wait_for_url(f"{base}/login/code/")
    # The code that activated the app is spent (SEC8); the next step's code
    # is within the one step of drift accepted, so no waiting on the clock.
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("heading", name=re.compile("Welcome, Bob")).is_visible()
