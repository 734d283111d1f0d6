from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = _("Device returns and charges")

    def ready(self) -> None:
        # The font check, and D5's check on every device order.
        from . import checks, flows  # noqa: F401
