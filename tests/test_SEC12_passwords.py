"""SECURITY.md 12 (NIST 800-63B 5.1.1.2): Argon2id; 12 to 128 characters or more;
common, numeric and username-built passwords refused; no composition rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hashers
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.conftest import (
    csrf_post,
)

pytestmark = pytest.mark.django_db


def test_SEC12_argon2id_is_the_first_hasher(alice):
    """ASVS 2.4.1, 5.0 V6.2; NIST 800-63B 5.1.1.2: Argon2id for every new hash."""
    from sls_portal import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert isinstance(get_hashers()[0], Argon2PasswordHasher)
    assert alice.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("qv7Lm2xT9rw", False),  # 11 characters
        ("qv7Lm2xT9rwZ", True),  # 12
        ("a" * 4 + "qv7Lm2xT9rwZ" * 10 + "b" * 4, True),  # 128
        ("a" * 5 + "qv7Lm2xT9rwZ" * 10 + "b" * 4, False),  # 129
        ("password1234", False),  # common
        ("correcthorsebatterystaple", True),  # lower-case letters only: no composition rule
        ("tramonto sul lago di como", True),  # spaces allowed
    ],
    ids=["11-chars", "12-chars", "128-chars", "129-chars", "common", "no-composition-rule", "passphrase"],
)
def test_SEC12_password_validators(alice, password, accepted):
    """ASVS 2.1.1-2.1.3, 2.1.7, 2.1.9; 5.0 V6.2.1-V6.2.5; NIST 800-63B 5.1.1.2."""
    if accepted:
        validate_password(password, user=alice)
    else:
        with pytest.raises(ValidationError):
            validate_password(password, user=alice)


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

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    page = web.get(f"/password/reset/{uid}/{default_token_generator.make_token(alice)}/", follow=True)
    path = page.redirect_chain[-1][0]
    response = csrf_post(web, path, {"new_password1": "123456789012345", "new_password2": "123456789012345"})
    assert response.status_code == 200
    assert b"entirely numeric" in response.content
    alice.refresh_from_db()
    assert not alice.check_password("123456789012345")
