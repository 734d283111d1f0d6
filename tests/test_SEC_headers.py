"""SECURITY.md 23 (no-store on pages behind login) and 24 (a CSP without
inline scripts, no framing)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import (
    WRONG,
    csrf_post,
    log_in_step_one,
    login_fully,
)


def assert_no_store(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.request["PATH_INFO"], response.headers)


def test_SEC23_login_pages_are_not_stored(web, alice, clock):
    """WSTG-ATHN-06."""
    assert_no_store(web.get("/login/"))
    assert_no_store(log_in_step_one(web, "alice", WRONG))
    log_in_step_one(web)
    assert_no_store(web.get("/login/code/"))
    assert_no_store(csrf_post(web, "/login/code/", {"code_1": "ZZZ", "code_2": "YYY"}))


@pytest.mark.parametrize("path", ["/", "/settings/security/sls/", "/logout/", "/help/"])
def test_SEC23_pages_behind_login_are_not_stored(web, alice, clock, path):
    """WSTG-ATHN-06: every page seen logged in, even a public one showing the menu."""
    login_fully(web, alice)
    response = web.get(path)
    assert response.status_code == 200
    assert_no_store(response)


@pytest.mark.parametrize("path", ["/login/", "/", "/help/"])
def test_SEC24_csp_without_inline_and_no_framing(web, alice, clock, path):
    """ASVS 14.4.3, 14.4.7, 5.0 V3.4.3, V3.4.6."""
    if path == "/":
        login_fully(web, alice)
    response = web.get(path)
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"


def test_SEC24_login_page_needs_no_inline_script_or_style(web, db):
    content = web.get("/login/").content
    assert not re.search(rb"<script(?![^>]*\bsrc=)", content)
    assert b" style=" not in content and b"<style" not in content
    assert not re.search(rb"\son[a-z]+=", content)  # no inline event handlers
