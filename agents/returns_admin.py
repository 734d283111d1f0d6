"""Filters and inlines of the agents' admin for device returns and charges (T3, T5, T6).

The ModelAdmins are in agents/admin.py with the others (they share its
action and history mixins); the device's page (agents/device_admin.py) and
the client's page list a device's returns and charges with these inlines.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from help import regions
from returns.models import ChargeStatus, DeviceCharge, DeviceReturn, ReturnStatus

from .admin_site import ReadOnlyInline


class ReturnStatusFilter(admin.SimpleListFilter):
    """Started or received, from the timestamps and now (principle 1)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ReturnStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == ReturnStatus.RECEIVED:
            return queryset.filter(received_at__lte=now)
        if self.value() == ReturnStatus.STARTED:
            return queryset.filter(Q(received_at__isnull=True) | Q(received_at__gt=now))
        return queryset


class RegionFilter(admin.SimpleListFilter):
    """T2: the client's region, from the country of residence."""

    title = _("region")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return [(region.code, region.name) for region in regions.all_regions()]

    def queryset(self, request, queryset):
        if self.value() not in regions.REGIONS:
            return queryset
        countries = [code for code, (_name, region) in regions.COUNTRIES.items() if region == self.value()]
        return queryset.filter(client__country__in=countries)


class ChargeStatusFilter(admin.SimpleListFilter):
    """Charged or waived, from the timestamps and now (principle 1)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ChargeStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == ChargeStatus.WAIVED:
            return queryset.filter(waived_at__lte=now)
        if self.value() == ChargeStatus.CHARGED:
            return queryset.filter(Q(waived_at__isnull=True) | Q(waived_at__gt=now))
        return queryset


class ClientReturnInline(ReadOnlyInline):
    """The client's returns, on the client's page."""

    model = DeviceReturn
    fk_name = "client"
    fields = ("device", "started_at", "replacement_wanted", "received_at")


class DeviceReturnInline(ReadOnlyInline):
    """The device's return, on the device's page."""

    model = DeviceReturn
    fk_name = "device"
    fields = ("started_at", "reason", "replacement_wanted", "received_at")


class DeviceChargeInline(ReadOnlyInline):
    """The device's charge, on the device's page."""

    model = DeviceCharge
    fields = ("created_at", "account", "amount_usd", "reason", "waived_at")


def return_audit_events(obj: DeviceReturn) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(client=obj.client_id, details__return=obj.pk)


def charge_audit_events(obj: DeviceCharge) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(client=obj.account.client_id, details__charge=obj.pk)
