"""What a client sees: device dates,
times in the client's zone, the header's logout, the Caps Lock warning."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client as HttpClient

from devices.models import DeviceStatus, SecurityDevice
from tests.conftest import csrf_post, give_passcode, log_in_with_passcode, login_fully

pytestmark = pytest.mark.django_db


def test_returned_card_shows_its_status_and_return_date(alice, clock):
    device = SecurityDevice.objects.get(client=alice.client)
    SecurityDevice.objects.filter(pk=device.pk).update(
        status=DeviceStatus.RETURNED, deactivated_at=datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    )
    # The client, waiting for a replacement, logs in with the temporary
    # passcode technical support gave them (T4).
    code = give_passcode(alice, device_status="damaged")
    clock.shift(timedelta(seconds=1))
    http = HttpClient()
    log_in_with_passcode(http, alice, code)
    content = http.get("/settings/security/sls/").content.decode()
    assert "Active since" not in content
    assert "Returned" in content
    assert 'datetime="2026-10-20T12:00:00+00:00"' in content


def test_times_in_the_clients_zone_with_utc_on_hover(alice, clock):
    http = HttpClient()
    login_fully(http, alice)
    content = http.get("/settings/security/sls/").content.decode()
    # Alice lives in Italy: Rome's date, UTC on hover.
    assert re.search(r'<time datetime="[-0-9T:]+\+00:00" title="[-0-9]+ UTC">[-0-9]+</time>', content), content


def test_header_logout_is_one_click(alice, clock):
    http = HttpClient(enforce_csrf_checks=True)
    login_fully(http, alice)
    page = http.get("/").content.decode()
    form = re.search(r'<form class="logout" action="/logout/" method="post">(.*?)</form>', page, re.S)
    assert form and 'name="csrfmiddlewaretoken"' in form.group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(1)).group(1)
    assert http.post("/logout/", {"csrfmiddlewaretoken": token}).url == "/login/"
    assert http.get("/").status_code == 302
    assert http.get("/logout/").status_code == 200  # GET still only asks


def test_caps_lock_warning_is_a_static_script(db):
    page = HttpClient().get("/login/")
    content = page.content.decode()
    assert '<script src="/static/js/capslock.js" defer></script>' in content
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content) is None  # CSP: no inline script
    assert 'id="capslock-warning"' in content and 'aria-live="polite"' in content
    assert HttpClient().get("/static/js/capslock.js").status_code == 200


def test_logout_page_post_still_works(alice, clock):
    http = HttpClient(enforce_csrf_checks=True)
    login_fully(http, alice)
    assert csrf_post(http, "/logout/", {}).url == "/login/"


def test_time_tag_shows_the_active_zone_with_utc_on_hover():
    import zoneinfo

    from django.utils import timezone

    from help.templatetags.sls_time import sls_time

    when = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    assert str(sls_time(when)) == (
        '<time datetime="2026-11-03T09:00:00+00:00" title="2026-11-03 09:00 UTC">2026-11-03 09:00 UTC</time>'
    )
    with timezone.override(zoneinfo.ZoneInfo("Europe/Rome")):
        assert str(sls_time(when)) == (
            '<time datetime="2026-11-03T09:00:00+00:00" title="2026-11-03 09:00 UTC">2026-11-03 10:00 CET</time>'
        )
