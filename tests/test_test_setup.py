"""The README's `make test` works on a machine without Chromium: the browser
tests skip with one line saying how to get them, except in CI."""

from __future__ import annotations

import pytest

from tests import conftest


class _Item:
    def __init__(self, browser: bool):
        self.keywords = {"browser": True} if browser else {}
        self.markers = []

    def add_marker(self, marker):
        self.markers.append(marker)


def _run_hook(monkeypatch, *, path: str, ci: str | None):
    monkeypatch.setattr(conftest, "CHROMIUM_PATH", path)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    items = [_Item(browser=True), _Item(browser=False)]
    conftest.pytest_collection_modifyitems(None, items)
    return items


def test_missing_chromium_skips_browser_tests_with_the_way_to_get_them(monkeypatch):
    browser, other = _run_hook(monkeypatch, path="/nonexistent/chromium", ci=None)
    assert [m.name for m in browser.markers] == ["skip"]
    assert browser.markers[0].kwargs["reason"] == (
        "Chromium not found at /nonexistent/chromium: apt-get install chromium (as root) to run the browser tests"
    )
    assert other.markers == []


def test_missing_chromium_in_ci_is_not_skipped(monkeypatch):
    browser, _ = _run_hook(monkeypatch, path="/nonexistent/chromium", ci="true")
    assert browser.markers == []


@pytest.mark.parametrize("ci", [None, "true"])
def test_present_chromium_runs_browser_tests(monkeypatch, tmp_path, ci):
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    browser, _ = _run_hook(monkeypatch, path=str(chromium), ci=ci)
    assert browser.markers == []
