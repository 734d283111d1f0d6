"""Print what a physical device displays now (DEBUG only: it shows login secrets)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.demo import require_debug
from devices import simulator


class Command(BaseCommand):
    help = (
        "Show what the device with this serial displays now: the current code of a time-based device, "
        "the response to --question of a challenge-response one, the codes at --question positions "
        "(for example 12,187) of a code card. With --client, the active device of that username."
    )

    def add_arguments(self, parser):
        parser.add_argument("serial", nargs="?", default="")
        parser.add_argument("--client", default="", help="a username: its active device instead of a serial")
        parser.add_argument("--question", default="", help="the challenge, or the card positions")

    def handle(self, *args, serial: str, client: str, question: str, **options):
        require_debug()
        if client:
            serial = simulator.active_serial_of(client)
            if serial is None:
                raise CommandError(f"The username {client!r} has no active device.")
        if not serial:
            raise CommandError("Give a device's serial, or --client USERNAME.")
        shown = simulator.displays(serial, now=timezone.now(), question=question)
        if shown is None:
            raise CommandError(f"No device has the serial {serial!r}.")
        device, lines = shown
        self.stdout.write(str(device))
        for line in lines:
            self.stdout.write(line)
