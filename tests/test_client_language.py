"""What we send a client is in the client's language, not the agent's: the
stored preference (from the country, then the client's own choice while
logged in), and times in the client's time zone."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from accounts.models import Client
from tests.conftest import VERIFIED, client_url, csrf_post, login_fully, user_url

pytestmark = pytest.mark.django_db


def test_language_defaults_from_the_country(client_factory):
    assert client_factory("Alice", "Rossi", "IT").language == "it"
    assert client_factory("Bob", "Smith", "US").language == "en"
    assert client_factory("Hiro", "Sato", "JP").language == "ja"
    assert client_factory("Ana", "Ruiz", "ES").language == "es"
    assert client_factory("Diego", "Hernandez", "MX").language == "es"
    # A country whose language the portal does not speak gets English.
    assert client_factory("Hans", "Maier", "DE").language == "en"


def test_L5_italian_client_gets_an_italian_reset_email_from_an_english_agent(desk, alice, mailoutbox, clock):
    desk.cookies["django_language"] = "en"
    response = csrf_post(desk, user_url(alice, "send-password-reset"), VERIFIED)
    assert response.status_code == 302
    mail = mailoutbox[0]
    assert mail.subject == "Il suo link per reimpostare la password"
    assert "Gentile Alice" in mail.body


def test_L5_spanish_client_gets_a_spanish_reset_email_from_an_english_agent(desk, client_factory, mailoutbox, clock):
    from accounts.models import User

    client_factory("Lucia", "Garcia", "ES", username="lucia")
    desk.cookies["django_language"] = "en"
    response = csrf_post(desk, user_url(User.objects.get(username="lucia"), "send-password-reset"), VERIFIED)
    assert response.status_code == 302
    mail = mailoutbox[0]
    assert mail.subject == "Su enlace para restablecer la contraseña"
    assert mail.body.startswith("Estimado/a Lucia:")
    assert "para el nombre de usuario lucia:" in mail.body


def test_L5_english_client_gets_an_english_email_from_an_italian_agent(desk, bob, mailoutbox, clock):
    desk.cookies["django_language"] = "it"
    csrf_post(desk, user_url(bob, "send-password-reset"), VERIFIED)
    assert mailoutbox[0].subject == "Your password-reset link"


def test_printed_card_is_in_the_clients_language(desk, client_factory, clock, monkeypatch):
    from devices import printing

    seen = []
    real = printing._code_card_pdf

    def spy(device):
        from django.utils.translation import get_language, gettext

        seen.append((get_language(), gettext("Security Code Card")))
        return real(device)

    monkeypatch.setattr(printing, "_code_card_pdf", spy)
    person = client_factory("Marco", "Bianchi", "IT", username="marco")
    desk.cookies["django_language"] = "en"
    from accounts.models import User

    marco = User.objects.get(username="marco")
    printout = csrf_post(desk, client_url(marco, "issue-code-card"), VERIFIED).url
    assert csrf_post(desk, printout, {})["Content-Type"] == "application/pdf"
    assert seen == [("it", "Carta con codici di sicurezza")], seen
    assert person.language == "it"


def set_language(http: HttpClient, language: str, page: str):
    http.get(page)
    token = http.cookies["csrftoken"].value
    return http.post("/i18n/setlang/", {"language": language, "next": page, "csrfmiddlewaretoken": token})


def test_switching_language_while_logged_in_is_stored(bob, clock):
    http = HttpClient(enforce_csrf_checks=True)
    login_fully(http, bob)
    response = set_language(http, "it", "/")
    assert response.status_code == 302
    assert Client.objects.get(pk=bob.client_id).language == "it"
    assert "Le diamo il benvenuto" in http.get("/").content.decode()


def test_switching_language_before_login_stores_nothing(bob):
    http = HttpClient(enforce_csrf_checks=True)
    assert set_language(http, "it", "/login/").status_code == 302
    assert Client.objects.get(pk=bob.client_id).language == "en"
