"""Encryption of device seeds at rest (ARCHITECTURE.md principle 4, SECURITY.md 10)."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sls-portal device seeds").derive(
        key_material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: bytes) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(secret).decode("ascii")


def decrypt(token: str) -> bytes:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode("ascii"))
