"""SECURITY.md 17 (ASVS 4.2.1): a client never sees another client's data."""

from __future__ import annotations

from devices.models import SecurityDevice
from tests.conftest import (
    login_fully,
)


def test_SEC17_dashboard_shows_only_own_accounts(web, alice, charlie, clock):
    """ASVS 4.2.1, 5.0 V8.2.2."""
    login_fully(web, alice)
    page = web.get("/").content.decode()
    assert alice.client.accounts.get().number in page
    assert charlie.client.accounts.get().number not in page
    assert "Charlie" not in page


def test_SEC17_security_page_shows_only_own_devices(web, alice, charlie, clock):
    """ASVS 4.2.1, 5.0 V8.2.2."""
    login_fully(web, alice)
    page = web.get("/settings/security/sls/").content.decode()
    assert SecurityDevice.objects.get(client=alice.client).serial in page
    assert SecurityDevice.objects.get(client=charlie.client).serial not in page
