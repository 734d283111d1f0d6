"""Enrollment on the Secure Login System page (D8, D6, D1, D2, D5, B4): the
device the equity gets, the address to confirm, free of charge, the mobile
authenticator at once; only funded accounts; the PIN step; Platinum's
secrets shown once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import Account, User
from audit.models import AuditEvent
from devices.models import DeviceOrder, DeviceStatus, SecurityDevice
from tests.conftest import csrf_post, login_fully

SLS = "/settings/security/sls/"
ORDER = "/settings/security/sls/order/"
PIN = "/settings/security/sls/order/pin/"


def _logged_in(web, client_factory, *, equity="500.00", country="US", **kw) -> User:
    person = client_factory("Ugo", "Neri", country, equity=equity, username="ugo", **kw)
    user = person.users.get()
    login_fully(web, user)
    return user


def test_D8_page_offers_the_device_for_the_equity_the_address_and_the_mobile_app(web, client_factory):
    _logged_in(web, client_factory, equity="500.00", address="1 Main St\nGreenwich CT")
    page = web.get(SLS).content.decode()
    assert "Security Code Card" in page
    assert "free of charge" in page
    assert "1 Main St<br>Greenwich CT" in page
    assert 'href="/settings/security/sls/mobile/"' in page
    assert 'for="id_confirm_address"' in page
    assert "Projected delivery date" in page


def test_D6_page_shows_the_gold_token_for_gold_equity(web, client_factory):
    _logged_in(web, client_factory, equity="250000.00")
    page = web.get(SLS).content.decode()
    assert "<strong>Gold token</strong>" in page
    assert "create the PIN" in page


@pytest.mark.parametrize("case", ["closed", "unfunded"])
def test_D8_unfunded_or_closed_account_cannot_enroll(web, client_factory, case):
    """A closed account's funding does not count: beside it, only an account
    opened but not funded yet (a client with every account closed sees only
    statements, A8)."""
    kwargs = {"closed_at": datetime(2025, 6, 1, tzinfo=UTC)} if case == "closed" else {"funded_at": None}
    person = client_factory("Ugo", "Neri", "US", equity="500.00", username="ugo", **kwargs)
    if case == "closed":
        Account.objects.create(number="U6000001", client=person)
    login_fully(web, person.users.get())
    page = web.get(SLS).content.decode()
    assert "Fund your account first" in page
    assert 'action="/settings/security/sls/order/"' not in page
    response = csrf_post(web, ORDER, {"confirm_address": "on"})
    assert response.status_code == 400
    assert "open, funded account" in response.content.decode()
    assert not DeviceOrder.objects.exists()


def test_D8_confirming_the_address_is_required(web, client_factory):
    _logged_in(web, client_factory)
    response = csrf_post(web, ORDER, {})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_confirm_address_error"' in page
    assert 'aria-describedby="id_confirm_address_error"' in page
    assert not DeviceOrder.objects.exists()


def test_D8_order_needs_csrf(web, client_factory):
    _logged_in(web, client_factory)
    assert web.post(ORDER, {"confirm_address": "on"}).status_code == 403
    assert not DeviceOrder.objects.exists()


def test_D8_confirming_orders_a_code_card_that_ships_issued(web, client_factory):
    user = _logged_in(web, client_factory)
    response = csrf_post(web, ORDER, {"confirm_address": "on"})
    assert response.status_code == 302 and response.url == SLS
    order = DeviceOrder.objects.get(client=user.client)
    assert order.device.status == DeviceStatus.ISSUED
    page = web.get(SLS).content.decode()
    assert "Your device order" in page and "Requested" in page
    # Still logged in with the password alone while the card is in the post.
    assert web.get("/").status_code == 200


def test_D2_dsc_order_asks_for_the_pin_then_is_final(web, client_factory):
    user = _logged_in(web, client_factory, equity="20000.00")
    response = csrf_post(web, ORDER, {"confirm_address": "on"})
    assert response.status_code == 302 and response.url == PIN
    order = DeviceOrder.objects.get(client=user.client)
    assert order.device is None
    assert "Create your PIN to finish the order" in web.get(SLS).content.decode()
    page = csrf_post(web, PIN, {"pin": "4821", "pin_again": "4821"})
    assert page.status_code == 302
    order.refresh_from_db()
    assert order.device is not None and order.device.type == "dsc_plus"
    assert AuditEvent.objects.filter(action="device.order.pin_set", rule="D2").exists()
    assert "4821" not in str(list(AuditEvent.objects.values_list("details", flat=True)))


@pytest.mark.parametrize(
    ("pin", "again", "words"),
    [
        ("12a4", "12a4", "digits only"),
        ("123", "123", "4 to 8 digits"),
        ("7777", "7777", "same digit"),
        ("12 34", "12 34", "without spaces"),
        ("1234", "1235", "not the same"),
        ("1\x0034", "1\x0034", ""),
        ("9" * 5000, "9" * 5000, ""),
    ],
)
def test_D2_wrong_pin_formats_say_what_is_wrong_and_write_nothing(web, client_factory, pin, again, words):
    user = _logged_in(web, client_factory, equity="20000.00")
    csrf_post(web, ORDER, {"confirm_address": "on"})
    response = csrf_post(web, PIN, {"pin": pin, "pin_again": again})
    assert response.status_code == 400
    page = response.content.decode()
    assert words in page
    assert 'class="field-error"' in page
    assert DeviceOrder.objects.get(client=user.client).device is None
    assert not SecurityDevice.objects.filter(client=user.client).exists()


def test_D5_platinum_confirmation_shows_pin_and_passphrase_once(web, client_factory):
    user = _logged_in(web, client_factory, equity="3000000.00", country="CH")
    response = csrf_post(web, ORDER, {"confirm_address": "on"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "can never be shown again" in page
    assert "/static/css/print.css" in page and 'media="print"' in page
    import re

    pin = re.search(r'<code id="platinum-pin">(\d+)</code>', page).group(1)
    passphrase = re.search(r'<code id="platinum-passphrase">([A-Z0-9-]+)</code>', page).group(1)
    assert response.headers["Cache-Control"].startswith("max-age=0")
    # A reload (or the page itself again) never shows them.
    again = csrf_post(web, ORDER, {"confirm_address": "on"})
    assert again.status_code == 400
    for later in (again, web.get(SLS), web.get(PIN, follow=True)):
        content = later.content.decode()
        assert pin not in content and passphrase not in content
    assert DeviceOrder.objects.filter(client=user.client).count() == 1


def test_print_stylesheet_has_a_print_media_block():
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static" / "css" / "print.css").read_text()
    assert "@media print" in css


def test_D8_other_accounts_equity_counts(web, client_factory):
    user = _logged_in(web, client_factory, equity="6000.00")
    Account.objects.create(
        number="U7777777", client=user.client, equity_usd="6000.00", funded_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert "<strong>Digital Security Card+</strong>" in web.get(SLS).content.decode()
