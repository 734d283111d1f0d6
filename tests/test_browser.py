"""The whole journey in a real browser (Debian's Chromium through Playwright):
two-step login with a code card (L1-L2), a lockout (L3), and an agent's
unlock in the admin behind its second factor (L3, SECURITY.md 18).
"""

from __future__ import annotations

import os
import re

import pytest

from accounts.models import User
from audit.models import AuditEvent
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
    text = page.locator("#challenge-help-1").inner_text()
    first, second = (int(n) for n in re.findall(r"\d+", text)[:2])
    seed = active_binding_for(user).security_device.seed
    return codecard.code_at(seed, first), codecard.code_at(seed, second)


def _log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _enter_card_codes(page, base: str, user: User) -> None:
    """Step 2 as a person does it: read the two numbers, type the codes."""
    page.wait_for_url(f"{base}/login/code/")
    first, second = _codes(user, page)
    page.get_by_label(re.compile(r"Code number \d+")).first.fill(first)
    page.get_by_label(re.compile(r"Code number \d+")).nth(1).fill(second)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/")


def test_L2_two_step_login_with_code_card(page, live_server, alice):
    _log_in(page, live_server.url, "alice", PASSWORD)
    _enter_card_codes(page, live_server.url, alice)
    assert page.get_by_role("heading", name="Welcome, Alice").is_visible()


def test_L1_bad_character_in_browser(page, live_server, alice):
    _log_in(page, live_server.url, "alice smith", PASSWORD)
    assert page.get_by_role("alert").inner_text().startswith("BAD CHARACTER")


def _agent_logs_in(page, base: str, agent) -> None:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=agent, name="Agent authenticator", confirmed=True)
    page.goto(f"{base}/admin/login/")
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(PASSWORD)
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    page.locator("input[name=otp_token]").fill(f"{token:0{device.digits}d}")
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_url(f"{base}/admin/")


def test_L3_lockout_then_agent_unlock_in_admin(browser, live_server, alice, agent):
    """L3 end to end: ten wrong passwords lock alice; even her right password is
    refused; an agent who verified her identity unlocks her in the admin; she
    logs in; the audit log names the agent, the client and the verification."""
    base = live_server.url
    client_page = browser.new_page(locale="en-US")
    for _ in range(10):
        _log_in(client_page, base, "alice", "not the password at all")
        assert "Invalid user name password combination" in client_page.get_by_role("alert").inner_text()
    _log_in(client_page, base, "alice", PASSWORD)
    assert "locked after 10 failed login attempts" in client_page.get_by_role("alert").inner_text()

    agent_page = browser.new_page(locale="en-US")
    _agent_logs_in(agent_page, base, agent)
    agent_page.goto(f"{base}/admin/accounts/user/{alice.pk}/change/")
    agent_page.get_by_role("link", name="Unlock username").click()
    agent_page.get_by_label("How you verified the caller").select_option(index=1)
    agent_page.get_by_label("Call or ticket reference").fill("CALL-2026-0042")
    agent_page.get_by_role("button", name="Unlock").click()
    assert "alice is unlocked" in agent_page.locator(".messagelist").text_content().lower()

    _log_in(client_page, base, "alice", PASSWORD)
    _enter_card_codes(client_page, base, alice)

    event = AuditEvent.objects.get(action="lockout.unlock")
    assert event.actor == agent and event.client == alice.client
    assert event.verification is not None and event.verification.reference == "CALL-2026-0042"
