"""Give an agent the TOTP authenticator the admin requires (SECURITY.md 18).

The secret is shown once, as an otpauth:// URI and a QR code for the
agent's authenticator app; no admin page shows it afterwards.
"""

from __future__ import annotations

import io

import qrcode
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit import trail


class Command(BaseCommand):
    help = "Create (or replace) an agent's TOTP authenticator and show its secret once as a QR code."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--replace", action="store_true", help="remove the agent's existing authenticators first")

    def handle(self, *args, username: str, replace: bool, **options) -> None:
        user = User.objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"{username} is not a staff user.")
        with transaction.atomic():
            existing = TOTPDevice.objects.filter(user=user)
            if existing.exists() and not replace:
                raise CommandError(f"{username} already has an authenticator; pass --replace to issue a new one.")
            existing.delete()
            device = TOTPDevice.objects.create(user=user, name="Agent authenticator", confirmed=True)
            trail.record("agent.authenticator", username=username, details={"replaced": replace})
        uri = device.config_url
        code = qrcode.QRCode(border=1)
        code.add_data(uri)
        buffer = io.StringIO()
        code.print_ascii(out=buffer, invert=True)
        self.stdout.write(buffer.getvalue())
        self.stdout.write(uri)
        self.stdout.write(
            self.style.WARNING("Shown once: scan it now. It is not stored anywhere you can read it again.")
        )
