"""The agents' admin for security devices (STYLE.md rule 7).

A device is read-only here: it is created by "Issue Security Code Card"
on the client's page, and its status changes only through explicit
actions. The seed is never a field, not even read-only (SECURITY.md 18).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from devices.models import DeviceBinding, SecurityDevice

from . import views
from .admin_site import ReadOnlyInline, ReadOnlyMixin, admin_site

DEVICE_FIELDS = (
    "client",
    "type",
    "serial",
    "status",
    "created_at",
    "activated_at",
    "deactivated_at",
    "issued_by",
    "printout_taken_at",
)


class SecurityDeviceInline(ReadOnlyInline):
    """The client's devices, on the client's page."""

    model = SecurityDevice
    fields = ("serial", "type", "status", "activated_at", "deactivated_at")


class BindingInline(ReadOnlyInline):
    """D7: the usernames that log in with this device."""

    model = DeviceBinding
    fields = ("user", "confirmed")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(SecurityDevice, site=admin_site)
class SecurityDeviceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Devices are issued through the client's page, with a verification (L5)."""

    list_display = ("serial", "type", "status", "client", "activated_at", "issued_by", "printout_taken_at")
    list_filter = ("type", "status")
    list_select_related = ("client", "issued_by")
    search_fields = ("serial__exact", "client__email__exact")
    search_help_text = _("Exact serial number or client's e-mail of record.")
    raw_id_fields = ("client",)
    show_full_result_count = False
    actions = None
    fields = DEVICE_FIELDS
    readonly_fields = DEVICE_FIELDS
    inlines = (BindingInline,)

    def get_urls(self) -> list[URLPattern]:
        def printout(request: HttpRequest, object_id: str) -> HttpResponse:
            return views.code_card_printout_view(request, self, object_id)

        return [
            path(
                "<path:object_id>/printout/",
                self.admin_site.admin_view(printout),
                name="devices_securitydevice_printout",
            ),
            *super().get_urls(),
        ]
