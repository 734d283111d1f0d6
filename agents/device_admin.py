"""The agents' admin for security devices (STYLE.md rule 7).

A device is read-only here: it is created by "Issue Security Code Card"
on the client's page, and its status changes only through explicit
actions. The seed is never a field, not even read-only (SECURITY.md 18).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Client, User
from devices.models import DeviceBinding, SecurityDevice
from returns.models import DeviceCharge

from . import views
from .admin_site import ReadOnlyInline, ReadOnlyMixin, admin_site
from .returns_admin import DeviceChargeInline, DeviceReturnInline

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

    def get_fields(self, request, obj=None):
        # D5: an active device can be reported from the client's page too.
        if request.user.has_perm(views.PERM_REPORT_DEVICE):
            return (*self.fields, "report_link")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description=_("lost, stolen or damaged"))
    def report_link(self, device: SecurityDevice) -> str:
        if not device.pk or not device.is_active:
            return ""
        return format_html('<a href="{}">{}</a>', report_url(device), _("Report"))


def report_url(device: SecurityDevice) -> str:
    return reverse("admin:devices_securitydevice_report", args=[device.pk])


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

    list_display = (
        "serial",
        "type",
        "status",
        "client",
        "activated_at",
        "deactivated_at",
        "issued_by",
        "printout_taken_at",
    )
    list_filter = ("type", "status")
    list_select_related = ("client", "issued_by")
    search_fields = ("serial__exact", "client__email__exact")
    search_help_text = _(
        "Exact serial number, or the client's exact e-mail of record, account number or username: "
        "lists that client's devices."
    )
    raw_id_fields = ("client",)
    show_full_result_count = False
    actions = None
    fields = DEVICE_FIELDS

    def get_search_results(self, request, queryset, search_term):
        # Each an exact lookup on a unique index, bounded; no join, no DISTINCT.
        term = search_term.strip()
        if not term:
            return queryset, False
        clients = list(Client.objects.filter(email=term).values_list("pk", flat=True)[:100])
        clients += Account.objects.filter(number=term).values_list("client_id", flat=True)[:1]
        clients += User.objects.filter(username=term, client__isnull=False).values_list("client_id", flat=True)[:1]
        return queryset.filter(Q(serial=term) | Q(client_id__in=clients)), False

    readonly_fields = DEVICE_FIELDS
    inlines = (BindingInline, DeviceReturnInline, DeviceChargeInline)
    change_form_template = "admin/agent_change_form.html"

    def get_urls(self) -> list[URLPattern]:
        def printout(request: HttpRequest, object_id: str) -> HttpResponse:
            return views.code_card_printout_view(request, self, object_id)

        return [
            path(
                "<path:object_id>/printout/",
                self.admin_site.admin_view(printout),
                name="devices_securitydevice_printout",
            ),
            *self._report_urls(),
            *self._charge_urls(),
            *super().get_urls(),
        ]

    # D5: "Report lost, stolen or damaged" on the device's page.

    def _report_urls(self) -> list[URLPattern]:
        def report(request: HttpRequest, object_id: str) -> HttpResponse:
            return views.report_device_view(request, self, object_id)

        return [
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(report),
                name="devices_securitydevice_report",
            )
        ]

    # T6: "Charge for this device" on the device's page.

    def _charge_urls(self) -> list[URLPattern]:
        def charge(request: HttpRequest, object_id: str) -> HttpResponse:
            return views.charge_device_view(request, self, object_id)

        return [
            path(
                "<path:object_id>/charge/",
                self.admin_site.admin_view(charge),
                name="devices_securitydevice_charge",
            )
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        device = self.get_object(request, unquote(object_id))
        links = list((extra_context or {}).get("agent_links", []))
        if device is not None and device.is_active and request.user.has_perm(views.PERM_REPORT_DEVICE):
            links.append({"label": _("Report lost, stolen or damaged"), "url": report_url(device)})
        if (
            device is not None
            and request.user.has_perm(views.PERM_CHARGE_DEVICE)
            and not DeviceCharge.objects.filter(device=device).exists()
        ):
            links.append(
                {
                    "label": _("Charge for this device"),
                    "url": reverse("admin:devices_securitydevice_charge", args=[device.pk]),
                }
            )
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "agent_links": links})
