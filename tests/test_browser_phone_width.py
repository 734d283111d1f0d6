"""Client pages at phone width (375 px, Chromium) in the languages with the
longest words: nothing sticks out to the right, so no page scrolls
sideways. A table may scroll inside its own box (site.css .table-scroll),
which is not the page overflowing.

SLS_SCREENSHOTS=<folder> keeps a screenshot of each page there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.test_browser import _codes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PHONE = {"width": 375, "height": 812}

# What a browser sends for each language (Accept-Language), and the words of its login form.
LOGIN_WORDS = {
    "es": ("es-ES", "Nombre de usuario", "Contraseña", "Iniciar sesión", r"Código número \d+", "Continuar"),
    "it": ("it-IT", "Nome utente", "Password", "Accedi", r"Codice numero \d+", "Continua"),
}
PUBLIC_PAGES = ["/login/", "/login/forgot/", "/help/", "/help/contact/"]
PRIVATE_PAGES = [
    "/",
    "/withdrawals/",
    "/deposits/",
    "/settings/security/sls/",
    "/settings/security/sls/activate/",
    "/returns/",
    "/settings/banking/",
    "/settings/email/",
    "/logout/",
]

# Elements whose right edge passes the viewport, outside boxes that scroll
# on their own (overflow-x auto or scroll).
_OVERFLOWING = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === "auto" || overflow === "scroll") return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || scrolls(el)) continue;
    if (box.right > width + 1) {
      const label = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "");
      found.push(`${label} [${Math.round(box.left)}, ${Math.round(box.right)}] ${el.innerText.slice(0, 50)}`);
    }
  }
  return {page: document.documentElement.scrollWidth, width, found: found.slice(0, 10)};
}
"""


@pytest.fixture(autouse=True)
def _chromium(in_ci):
    if not os.path.exists("/usr/bin/chromium"):
        if in_ci:
            pytest.fail("Chromium is missing at /usr/bin/chromium; CI must install Debian's chromium package.")
        pytest.skip("Debian's chromium is not installed")


def _fits(page, language: str, path: str) -> list[str]:
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == language, path
    folder = os.environ.get("SLS_SCREENSHOTS")
    if folder:
        name = re.sub(r"\W+", "_", path).strip("_") or "dashboard"
        page.screenshot(path=str(Path(folder) / f"{language}_{name}.png"), full_page=True)
    measured = page.evaluate(_OVERFLOWING)
    problems = [f"{path}: {item}" for item in measured["found"]]
    if measured["page"] > measured["width"]:
        problems.append(f"{path}: the page is {measured['page']} px wide at {measured['width']} px")
    return problems


@pytest.mark.parametrize("language", sorted(LOGIN_WORDS))
def test_A9_client_pages_fit_a_phone_in_long_worded_languages(browser, live_server, alice, language):
    accept, username_label, password_label, log_in, code_label, proceed = LOGIN_WORDS[language]
    context = browser.new_context(viewport=PHONE, locale=accept, is_mobile=True, has_touch=True)
    page = context.new_page()
    base = live_server.url
    problems = []
    for path in PUBLIC_PAGES:
        page.goto(base + path)
        problems += _fits(page, language, path)

    page.goto(f"{base}/login/")
    page.get_by_label(username_label).fill("alice")
    page.get_by_label(password_label, exact=True).fill(PASSWORD)
    page.get_by_role("button", name=log_in).click()
    page.wait_for_url(f"{base}/login/code/")
    problems += _fits(page, language, "/login/code/")
    first, second = _codes(alice, page)
    page.get_by_label(re.compile(code_label)).first.fill(first)
    page.get_by_label(re.compile(code_label)).nth(1).fill(second)
    page.get_by_role("button", name=proceed).click()
    page.wait_for_url(f"{base}/")

    for path in PRIVATE_PAGES:
        page.goto(base + path)
        problems += _fits(page, language, path)
    context.close()
    assert not problems, "\n".join(problems)
