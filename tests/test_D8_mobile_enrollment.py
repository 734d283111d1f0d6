"""Enrolling the mobile authenticator (D8, s475): phone number validated by
a texted code (SEC11), QR code shown once, activated by the app's first code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from devices import algorithms, mobile, sms
from devices.models import DeviceStatus, PhoneValidation, SecurityDevice, active_binding_for
from tests.conftest import PASSWORD, csrf_post, login_fully

MOBILE_IT = "+39 347 123 4567"


@pytest.fixture(autouse=True)
def _texts_in_memory(settings):
    settings.SMS_BACKEND = "devices.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _texted_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def _secret(page: str) -> bytes:
    import base64

    letters = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    return base64.b32decode(letters)


@pytest.fixture
def bob_web(web, bob):
    login_fully(web, bob)
    return web


# --- the service functions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "Enter your mobile phone number"),
        ("hello", "not a phone number"),
        ("+39 347", "does not exist"),
        ("+1 999 555 0100", "does not exist"),
        ("+39 02 1234 5678", "not a mobile number"),
        ("+39\x00347", "not a phone number"),
        ("9" * 200, "not a phone number"),
    ],
)
def test_D8_bad_numbers_are_refused_saying_what_is_wrong(bob, raw, words):
    with pytest.raises(mobile.EnrollmentRefused, match=words):
        mobile.start(bob, raw, now=timezone.now())
    assert not PhoneValidation.objects.exists() and not sms.outbox


def test_D8_a_national_number_is_read_in_the_clients_country_and_stored_e164(alice):
    mobile.start(alice, "347 123 4567", now=timezone.now())
    assert PhoneValidation.objects.get().phone == "+393471234567" == sms.outbox[-1].to


def test_SEC10_the_texted_code_is_stored_only_as_a_keyed_hash(bob, clock):
    mobile.start(bob, MOBILE_IT, now=timezone.now())
    row = PhoneValidation.objects.values().get()
    assert _texted_code() not in " ".join(str(value) for value in row.values())


def test_SEC11_the_code_expires_after_ten_minutes(bob, clock):
    nonce = mobile.start(bob, MOBILE_IT, now=timezone.now())
    code = _texted_code()
    with pytest.raises(mobile.EnrollmentRefused, match="expired"):
        mobile.confirm(bob, nonce, code, now=timezone.now() + timedelta(minutes=10))
    assert mobile.confirm(bob, nonce, code, now=timezone.now() + timedelta(minutes=10, seconds=-1))


def test_SEC11_the_code_is_bound_to_the_session_that_asked(bob, clock):
    mobile.start(bob, MOBILE_IT, now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused):
        mobile.confirm(bob, "another-session's-nonce", _texted_code(), now=timezone.now())


def test_SEC9_a_used_code_is_refused(bob, clock):
    nonce = mobile.start(bob, MOBILE_IT, now=timezone.now())
    code = _texted_code()
    mobile.confirm(bob, nonce, code, now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused, match="already used"):
        mobile.confirm(bob, nonce, code, now=timezone.now())


def test_SEC9_five_tries_then_no_more(bob, clock):
    nonce = mobile.start(bob, MOBILE_IT, now=timezone.now())
    code = _texted_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(mobile.EnrollmentRefused, match="code is wrong. Check"):
            mobile.confirm(bob, nonce, wrong, now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused, match="no tries are left"):
        mobile.confirm(bob, nonce, wrong, now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused):
        mobile.confirm(bob, nonce, code, now=timezone.now())


def test_D8_a_new_code_ends_the_earlier_one(bob, clock):
    first = mobile.start(bob, MOBILE_IT, now=timezone.now())
    first_code = _texted_code()
    mobile.start(bob, MOBILE_IT, now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused):
        mobile.confirm(bob, first, first_code, now=timezone.now())


def test_D8_the_first_app_code_activates_and_is_not_a_login_code(bob, clock):
    nonce = mobile.start(bob, MOBILE_IT, now=timezone.now())
    seed = mobile.confirm(bob, nonce, _texted_code(), now=timezone.now())
    with pytest.raises(mobile.EnrollmentRefused, match="not the code"):
        mobile.activate(bob, nonce, "12 34 56", now=timezone.now())
    code = algorithms.totp(seed, digits=6, period=30).at(timezone.now())
    device = mobile.activate(bob, nonce, code, now=timezone.now())
    assert device.status == DeviceStatus.ACTIVE and device.seed == seed
    assert active_binding_for(bob).security_device == device
    assert device.totp_last_step == int(timezone.now().timestamp()) // 30
    assert not PhoneValidation.objects.get().seed_encrypted
    assert AuditEvent.objects.filter(action="device.mobile.activated", rule="D8").exists()
    with pytest.raises(mobile.EnrollmentRefused, match="expired"):
        mobile.activate(bob, nonce, code, now=timezone.now())


def test_D5_a_client_who_chooses_the_app_gives_up_the_card(alice, clock):
    card = active_binding_for(alice).security_device
    nonce = mobile.start(alice, "347 123 4567", now=timezone.now())
    seed = mobile.confirm(alice, nonce, _texted_code(), now=timezone.now())
    mobile.activate(alice, nonce, algorithms.totp(seed, digits=6, period=30).at(timezone.now()), now=timezone.now())
    assert SecurityDevice.objects.get(pk=card.pk).status == DeviceStatus.REVOKED
    assert SecurityDevice.objects.filter(client=alice.client, status=DeviceStatus.ACTIVE).count() == 1


def test_D8_provisioning_gives_a_totp_uri_and_a_qr_code(bob):
    shown = mobile.provisioning(bob, b"12345678901234567890")
    assert shown["uri"].startswith("otpauth://totp/") and "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" in shown["uri"]
    assert shown["qr"].startswith("data:image/svg+xml;base64,")


# --- the pages ---------------------------------------------------------------------------------


def test_D8_pages_need_a_login(web, db):
    assert web.get("/settings/security/sls/mobile/").status_code == 302


def test_D8_pages_enroll_step_by_step(bob_web, bob, clock):
    page = bob_web.get("/settings/security/sls/mobile/")
    assert page.status_code == 200 and b'<label for="id_phone">' in page.content
    bad = csrf_post(bob_web, "/settings/security/sls/mobile/", {"phone": "+39 02 1234 5678"})
    assert bad.status_code == 400 and b"not a mobile number" in bad.content
    assert b'aria-describedby="id_phone_error"' in bad.content
    sent = csrf_post(bob_web, "/settings/security/sls/mobile/", {"phone": "+1 415 555 2671"})
    assert sent.status_code == 302 and sent.url == "/settings/security/sls/mobile/code/"
    wrong = csrf_post(bob_web, "/settings/security/sls/mobile/code/", {"code": "99999x"})
    assert wrong.status_code == 400 and b"That code is wrong" in wrong.content
    shown = csrf_post(bob_web, "/settings/security/sls/mobile/code/", {"code": _texted_code()})
    assert shown.status_code == 200 and b"data:image/svg+xml;base64," in shown.content
    seed = _secret(shown.content.decode())
    again = bob_web.get("/settings/security/sls/mobile/code/")
    assert b'id="secret"' not in again.content, "the secret is shown once"
    refused = csrf_post(bob_web, "/settings/security/sls/mobile/activate/", {"code": "000000"})
    assert refused.status_code == 400 and b"not the code your authenticator" in refused.content
    code = algorithms.totp(seed, digits=6, period=30).at(timezone.now())
    token = bob_web.cookies["csrftoken"].value
    done = bob_web.post("/settings/security/sls/mobile/activate/", {"code": code, "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and b"Your mobile authenticator is active" in done.content


def test_SEC_pages_refuse_a_post_without_csrf(bob_web):
    assert bob_web.post("/settings/security/sls/mobile/", {"phone": MOBILE_IT}).status_code == 403


def test_D8_enrolled_then_logs_in_with_the_app(web, bob, clock):
    nonce = mobile.start(bob, MOBILE_IT, now=timezone.now())
    seed = mobile.confirm(bob, nonce, _texted_code(), now=timezone.now())
    mobile.activate(bob, nonce, algorithms.totp(seed, digits=6, period=30).at(timezone.now()), now=timezone.now())
    clock.shift(timedelta(seconds=30))
    first = csrf_post(web, "/login/", {"username": "bob", "password": PASSWORD})
    assert first.url == "/login/code/"
    page = web.get("/login/code/")
    assert b"authenticator app" in page.content
    code = algorithms.totp(seed, digits=6, period=30).at(timezone.now())
    assert csrf_post(web, "/login/code/", {"code": code}).status_code == 302
