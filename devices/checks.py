"""Deploy checks for the key that encrypts device seeds (SECURITY.md 22).

`manage.py check --deploy` fails when FIELD_ENCRYPTION_KEY is short or is
SECRET_KEY itself: a leaked SECRET_KEY alone must not reveal the seeds.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

MIN_KEY_LENGTH = 32


@register(Tags.security, deploy=True)
def field_encryption_key(app_configs=None, **kwargs) -> list[Error]:
    key = getattr(settings, "FIELD_ENCRYPTION_KEY", None) or ""
    errors = []
    if len(key) < MIN_KEY_LENGTH:
        errors.append(
            Error(
                f"FIELD_ENCRYPTION_KEY has {len(key)} characters; it needs at least {MIN_KEY_LENGTH}.",
                hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                id="sls.E001",
            )
        )
    if key and key == settings.SECRET_KEY:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEY is the same as SECRET_KEY.",
                hint="Give the seeds' key on its own, so a leaked SECRET_KEY alone does not reveal them.",
                id="sls.E002",
            )
        )
    return errors
