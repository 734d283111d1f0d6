from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Security devices")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deploy checks)
