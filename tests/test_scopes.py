"""A1, A9, D7, T2: access scopes, refusals that name their rule, one device
shared by a client's usernames, and the regions of the return addresses."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from accounts import access
from accounts.models import User
from devices.models import SecurityDevice
from help import regions
from tests.conftest import PASSWORD, login_fully


def test_A1_full_scope_reaches_the_client_pages(web, alice, clock):
    login_fully(web, alice)
    assert web.get("/").status_code == 200
    page = web.get("/settings/security/sls/")
    assert page.status_code == 200
    assert SecurityDevice.objects.get(client=alice.client).serial.encode() in page.content


def test_A9_refusal_names_its_rule_never_a_bare_403(bob):
    """A page that needs a device, asked by a password-only (unenrolled) session."""

    @access.scope_required(access.FULL)
    def needs_device(request):  # pragma: no cover - must not run
        return HttpResponse("secret")

    request = RequestFactory().get("/withdrawals/")
    request.user = bob
    request.session = SessionStore()
    request.sls_scope = access.UNENROLLED
    response = needs_device(request)
    assert response.status_code == 403
    # A9: the rule in words; its ID is for the audit and the agents only.
    assert b"Enroll in the Secure Login System first" in response.content and b"secret" not in response.content
    assert b"D8" not in response.content and response.sls_rule == "D8"
    assert b"(203) 618-4006" in response.content  # A7/H2: the numbers to call


def test_A9_anonymous_is_sent_to_log_in_not_refused(db):
    @access.scope_required(access.FULL)
    def needs_device(request):  # pragma: no cover - must not run
        return HttpResponse("secret")

    request = RequestFactory().get("/withdrawals/")
    request.user = AnonymousUser()
    request.sls_scope = None
    response = needs_device(request)
    assert response.status_code == 302 and response.url == "/login/?next=/withdrawals/"


def test_D7_one_card_serves_every_username_of_the_client(client_factory, agent, clock):
    from django.test import Client as HttpClient
    from django.utils import timezone

    from devices.flows import issue_code_card

    person = client_factory("Dora", "Bianchi", "IT", username="dora1")
    User.objects.create_user(username="dora2", password=PASSWORD, client=person, email=person.email)
    card = issue_code_card(person, agent=agent, now=timezone.now())
    for username in ("dora1", "dora2"):
        http = HttpClient(enforce_csrf_checks=True)
        assert login_fully(http, User.objects.get(username=username)).url == "/"
    assert card.bindings.count() == 2


@pytest.mark.parametrize(
    ("country", "region", "address_line", "phone"),
    [
        ("US", "US and Canada", "2 Pickwick Plaza", "(203) 618-4006"),
        ("CA", "US and Canada", "Greenwich, CT 06830", "(203) 618-4006"),
        ("IT", "Europe", "CH-6301 Zug", "+41-41-726-9500"),
        ("HK", "Asia (outside Japan)", "Suite 1512, Two Pacific Place", "+852-2156-7907"),
        ("AU", "Australia", "225 George Street", "+61 (2) 8093-7300"),
        ("JP", "Japan", "〒103-0025 東京都中央区日本橋茅場町3-2-10 鉄鋼会館4階", "+852-2156-7907"),
    ],
)
def test_T2_country_maps_to_its_region_address_and_numbers(country, region, address_line, phone):
    found = regions.region_for_country(country)
    assert str(found.name) == region
    assert address_line in found.return_address
    assert phone in [p.number for p in found.phones]


def test_T2_unknown_country_is_refused():
    with pytest.raises(ValueError):
        regions.region_for_country("ZZ")
