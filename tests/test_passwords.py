"""SECURITY.md 12 (NIST 800-63B 5.1.1.2): weak passwords are refused, with no
composition rules: not digits alone, not the username or built from it."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password",
    ["123456789012345", "alicealicealice", "alice-alice-alice", "ALICEALICE1234", "alice_2026_alice!"],
    ids=["digits-only", "username-thrice", "username-dashes", "username-capitals", "username-and-a-year"],
)
def test_SEC12_weak_password_refused(alice, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=alice)


def test_SEC12_long_passphrase_naming_the_user_is_allowed(alice):
    validate_password("a brand new passphrase for alice", user=alice)


def test_SEC12_username_doubled_refused(client_factory):
    """Django's similarity check lets "<username><username>" through (ratio 0.67 < 0.7)."""
    from accounts.models import User

    client_factory("Enrico", "Rossi", "IT", username="enrolled1")
    user = User.objects.get(username="enrolled1")
    with pytest.raises(ValidationError) as refused:
        validate_password("enrolled1enrolled1", user=user)
    assert "password_has_username" in {error.code for error in refused.value.error_list}


def test_SEC12_reset_page_refuses_a_numeric_password(alice, web):
    from tests.conftest import csrf_post

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    page = web.get(f"/password/reset/{uid}/{default_token_generator.make_token(alice)}/", follow=True)
    path = page.redirect_chain[-1][0]
    response = csrf_post(web, path, {"new_password1": "123456789012345", "new_password2": "123456789012345"})
    assert response.status_code == 200
    assert b"entirely numeric" in response.content
    alice.refresh_from_db()
    assert not alice.check_password("123456789012345")
