"""In a real browser (Chromium), at a phone's width: a closed account logs
in with its password, lands on its statements, downloads one, and finds
every other page closed to it (A8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.test_A8_closed_accounts import A8_MESSAGE, _closed_client, _pdf_text
from tests.test_browser import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_A8_browser_closed_account_downloads_a_statement_at_phone_width(page, live_server, client_factory, agent):
    _closed_client(client_factory, agent)
    base = live_server.url
    page.set_viewport_size({"width": 360, "height": 740})
    _log_in(page, base, "closed1", PASSWORD)
    page.wait_for_url(f"{base}/statements/")
    assert page.get_by_role("heading", name="Statements and tax forms").is_visible()
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_download() as download:
        page.get_by_role("link", name="Activity statement, March 2026").click()
    text = _pdf_text(Path(download.value.path()).read_bytes())
    assert "Activity statement, March 2026" in text and "U1000001" in text
    # The header offers the statements only; the dashboard says why it is not there.
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").count() == 0
    page.goto(f"{base}/")
    assert page.get_by_text(A8_MESSAGE).is_visible()
    page.get_by_role("link", name="Statements and tax forms").last.click()
    page.wait_for_url(f"{base}/statements/")
