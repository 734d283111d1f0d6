"""The whole journey in a real browser (Debian's Chromium through Playwright):
two-step login with a code card (L1-L2), a lockout (L3), and an agent's
unlock in the admin behind its second factor (L3, SECURITY.md 18).
"""

from __future__ import annotations

import os
import re

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, User
from devices import codecard
from devices.models import active_binding_for
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"

# Playwright's sync API keeps an event loop in the test thread; the ORM calls
# the tests make themselves are plain synchronous calls, so Django's guard
# against async contexts must stand aside for this module's fixtures.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _browser_env(settings, in_ci):
    if not os.path.exists(CHROMIUM):
        if in_ci:
            pytest.fail("Chromium is missing at /usr/bin/chromium; CI must install Debian's chromium package.")
        pytest.skip("Debian's chromium is not installed")


def _codes(user: User, page) -> tuple[str, str]:
    text = page.locator("#challenge-help").inner_text()
    first, second = (int(n) for n in re.findall(r"\d+", text)[:2])
    seed = active_binding_for(user).security_device.seed
    return codecard.code_at(seed, first), codecard.code_at(seed, second)


def _log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_L2_two_step_login_with_code_card(page, live_server, alice):
    _log_in(page, live_server.url, "alice", PASSWORD)
    page.wait_for_url(f"{live_server.url}/login/code/")
    first, second = _codes(alice, page)
    page.get_by_label(re.compile(r"Code number \d+")).first.fill(first)
    page.get_by_label(re.compile(r"Code number \d+")).nth(1).fill(second)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Welcome, Alice").is_visible()


def test_L1_bad_character_in_browser(page, live_server, alice):
    _log_in(page, live_server.url, "alice smith", PASSWORD)
    assert page.get_by_role("alert").inner_text().startswith("BAD CHARACTER")
