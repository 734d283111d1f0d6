from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.demo import require_debug
from accounts.models import User
from devices import codecard
from devices.factors import offered_to
from devices.kinds import CodeCardKind
from devices.models import active_binding_for


class Command(BaseCommand):
    help = "Demo only: print a username's Security Code Card, or the codes at the given numbers."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("positions", nargs="*", type=int)

    def handle(self, *args, username: str, positions: list[int], **options) -> None:
        require_debug()
        user = User.objects.filter(username=username).first()
        binding = active_binding_for(user) if user else None
        card = binding if isinstance(binding, CodeCardKind) else None
        if card is None and user is not None:
            # An online card (or any code card step 2 offers) when no permanent card is active.
            card = next((f for f in offered_to(user, timezone.now()) if isinstance(f, CodeCardKind)), None)
        if card is None:
            raise CommandError(f"{username} has no active security device with printed codes (a code card).")
        seed = card.card_seed()
        if positions:
            try:
                codes = [codecard.code_at(seed, p) for p in positions]
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            for position, code in zip(positions, codes, strict=True):
                self.stdout.write(f"Number {position:>3}: type {code} in its box")
            return
        codes = codecard.all_codes(seed)
        self.stdout.write(str(card.security_device) if binding is card else str(card))
        for start in range(0, len(codes), 8):
            self.stdout.write(
                "  ".join(f"{start + i + 1:>3} {code}" for i, code in enumerate(codes[start : start + 8]))
            )
