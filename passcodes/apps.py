from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PasscodesConfig(AppConfig):
    name = "passcodes"
    verbose_name = _("Temporary passcodes and online cards")

    def ready(self) -> None:
        from accounts.standing import register_pending_step
        from devices.signals import devices_activated

        from . import notices, sources  # noqa: F401  (step 2's source, the outbox's wordings)
        from .cards import applicant_step

        register_pending_step(applicant_step)
        from .issuing import end_for_clients
        from .models import EndReason

        def _end_interim(sender, client_ids, now, **kwargs):
            # A6, C5: a permanent device activated ends the clients' interim credentials.
            end_for_clients(client_ids, reason=EndReason.DEVICE_ACTIVATED, now=now)

        devices_activated.connect(_end_interim, dispatch_uid="passcodes.end_interim", weak=False)
