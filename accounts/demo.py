"""Shared guard for the demo commands: they print secrets, so never in production."""

from django.conf import settings
from django.core.management.base import CommandError


def require_debug() -> None:
    if not settings.DEBUG:
        raise CommandError("Demo commands print login secrets and run only with DEBUG=1.")
