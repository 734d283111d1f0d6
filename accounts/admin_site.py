"""The agents' admin: every page behind a TOTP second factor (SECURITY.md 18)."""

from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite


class AgentAdminSite(OTPAdminSite):
    site_header = _("SLS customer service")
    site_title = _("SLS customer service")
    index_title = _("Clients, logins and devices")


admin_site = AgentAdminSite(name="admin")
