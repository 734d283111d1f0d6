"""C5: open a new client's account: a username, an unfunded account and an
online security card, and the e-mail that tells the client how to choose a
password, log in, and print and activate the card."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from passcodes.applicants import OpeningRefused, open_account


class Command(BaseCommand):
    help = "Open a new applicant's account: username, unfunded account, online card, and the e-mail (C5)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", help="the new username: lower-case letters and digits")
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--email", required=True, help="the e-mail of record")
        parser.add_argument("--phone", required=True, help="the phone of record")
        parser.add_argument("--address", required=True, help="the address of record (\\n between lines)")
        parser.add_argument("--country", required=True, help="ISO country code of residence, e.g. IT")

    def handle(self, *args, **options) -> None:
        try:
            opened = open_account(
                first_name=options["first_name"],
                last_name=options["last_name"],
                email=options["email"],
                phone=options["phone"],
                address=options["address"].replace("\\n", "\n"),
                country=options["country"],
                username=options["username"],
                now=timezone.now(),
            )
        except OpeningRefused as refused:
            raise CommandError(refused.message) from None
        self.stdout.write(
            f"Opened account {opened.account.number} for {opened.client} with username {opened.user.username}; "
            f"the e-mail to {opened.client.email} is in the outbox."
        )
