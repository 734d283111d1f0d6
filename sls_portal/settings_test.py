"""Settings for the test suite: the real settings with test-only keys.

Production flags stay as they are (DEBUG off, secure cookies); only the
HTTPS redirect is off, since the test client speaks plain HTTP, and
Argon2 runs with small costs so the suite stays fast. It is still
Argon2id, with the same hasher class.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 50)
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-field-key-" + "y" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("PORTAL_URL", "https://portal.sls.example")

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CELERY_TASK_ALWAYS_EAGER = True

# Tasks run in-process unless a test sends them through the broker on
# purpose (tests/test_J_schedule.py); CI gives Redis, a developer's run uses
# kombu's in-memory transport.
if "CELERY_BROKER_URL" not in os.environ:
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
