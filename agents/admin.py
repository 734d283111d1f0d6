"""The agents' admin for people, logins and the audit trail (STYLE.md rule 7).

Agents look things up and act through explicit action pages
(accounts/views.py); credentials are never free edits. No page
shows a password hash, and the audit log is read-only for everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, ChangeRequest, Client, IdentityVerification, User, open_accounts
from agents.device_admin import SecurityDeviceInline
from audit import trail
from audit.models import AuditEvent
from devices.models import DeviceOrder, OrderStatus, SecurityDevice
from login.models import LoginGuard
from returns.models import DeviceCharge, DeviceReturn

from . import actions, passcode_views, timeline, views
from .admin_site import ReadOnlyInline, ReadOnlyMixin, admin_site
from .returns_admin import (
    ChargeStatusFilter,
    ClientReturnInline,
    RegionFilter,
    ReturnStatusFilter,
    charge_audit_events,
    return_audit_events,
)

AgentView = Callable[[HttpRequest, admin.ModelAdmin, str], HttpResponse]


class AgentActionsMixin:
    """Action pages under <object>/<slug>/, linked from the change page's object tools.

    `agent_actions` lists (slug, url name suffix, view, permission, label).
    """

    change_form_template = "admin/agent_change_form.html"
    agent_actions: tuple[tuple[str, str, AgentView, str, str], ...] = ()

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(f"<path:object_id>/{slug}/", self._wrap(view), name="%s_%s_" % info + suffix)
            for slug, suffix, view, _perm, _label in self.agent_actions
        ]
        return own + super().get_urls()

    def _wrap(self, view: AgentView):
        def bound(request: HttpRequest, object_id: str) -> HttpResponse:
            return view(request, self, object_id)

        return self.admin_site.admin_view(bound)

    def has_agent_actions(self, obj: Any) -> bool:
        return True

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        links = []
        if obj is not None and self.has_agent_actions(obj):
            info = self.opts.app_label, self.opts.model_name
            links = [
                {"label": label, "url": reverse("admin:%s_%s_" % info + suffix, args=[obj.pk])}
                for _slug, suffix, _view, perm, label in self.agent_actions
                if request.user.has_perm(perm)
            ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "agent_links": links})


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows (an index walk that stops), never COUNT(*) over a million.

    Past the cap the list says "more than 1000": agents search, they do not page through a million rows."""

    COUNT_CAP = 1000

    @cached_property
    def count(self) -> int:
        counted = self.object_list.values("pk")[: self.COUNT_CAP + 1].count()
        self.capped = counted > self.COUNT_CAP
        return min(counted, self.COUNT_CAP)

    capped = False


def _exact_ids(queryset: QuerySet, column: str, **lookup: str) -> list[int]:
    """A few ids found by an exact, indexed lookup (a unique column: at most a handful)."""
    return list(queryset.filter(**lookup).values_list(column, flat=True)[:100])


# A search shows at most this many matches of each kind (name, e-mail ...):
# one page. "Rossi" among a million clients is a thousand; the agent types
# more of the name (search_help_text says so).
SEARCH_LIMIT = 100


def name_or_email_prefixes(term: str) -> list[Q]:
    """Case-insensitive prefix on first name, last name, e-mail; "Alice Ros" matches both names.
    Each is served by an index on UPPER(column) (accounts/migrations/0002_search_indexes.py)."""
    conditions = [Q(first_name__istartswith=term), Q(last_name__istartswith=term), Q(email__istartswith=term)]
    first, _space, rest = term.partition(" ")
    if rest.strip():
        conditions.append(Q(first_name__istartswith=first, last_name__istartswith=rest.strip()))
    return conditions


def matching_client_ids(term: str) -> list[int]:
    """Clients whose name or e-mail begins with the term: each condition on its own index, bounded."""
    ids: list[int] = []
    for condition in name_or_email_prefixes(term):
        ids += Client.objects.filter(condition).order_by().values_list("pk", flat=True)[:SEARCH_LIMIT]
    return ids


class AuditHistoryMixin:
    """The object's "History" lists its audit events (agent actions are audit
    events, not admin log entries)."""

    object_history_template = "admin/audit_history.html"
    HISTORY_EVENTS = 100

    def audit_events(self, obj) -> QuerySet[AuditEvent]:
        raise NotImplementedError

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        events = []
        if obj is not None:
            events = list(self.audit_events(obj).select_related("actor")[: self.HISTORY_EVENTS])
        return super().history_view(request, object_id, {**(extra_context or {}), "audit_events": events})


class AccountInline(ReadOnlyInline):
    model = Account
    fields = ("number", "equity_usd", "funded_at", "closed_at")


class UsernameInline(ReadOnlyInline):
    model = User
    fields = ("username", "email", "is_active", "last_login")
    verbose_name = _("username")
    verbose_name_plural = _("usernames")


class VerificationInline(ReadOnlyInline):
    model = IdentityVerification
    fields = ("at", "agent", "method", "reference")
    ordering = ("-at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")


@admin.register(Client, site=admin_site)
class ClientAdmin(AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    list_display = ("__str__", "email", "country", "created_at")
    list_filter = ("country",)
    # The search itself is get_search_results (no join, no DISTINCT); this
    # only shows the search box.
    search_fields = ("last_name",)
    search_help_text = _(
        "Beginning of a first or last name or of the e-mail of record (any case); "
        "or an exact account number, username or device serial. At most 100 matches of each kind: "
        "type more to narrow."
    )
    readonly_fields = ("created_at",)
    show_full_result_count = False
    paginator = CappedPaginator

    def audit_events(self, obj: Client) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(client=obj)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each lookup on its own index (exact ones on unique indexes), bounded;
        # the page is then read by primary key: no join, no DISTINCT.
        ids = _exact_ids(Account.objects, "client_id", number=term)
        ids += _exact_ids(User.objects, "client_id", username=term, client__isnull=False)
        ids += _exact_ids(SecurityDevice.objects, "client_id", serial=term)
        return queryset.filter(pk__in=ids + matching_client_ids(term)), False

    inlines = (AccountInline, UsernameInline, SecurityDeviceInline, ClientReturnInline, VerificationInline)
    agent_actions = (
        (
            "verify-identity",
            "verify_identity",
            views.verify_identity_view,
            views.PERM_VERIFY,
            _("Record identity verification"),
        ),
        (
            "issue-code-card",
            "issue_code_card",
            views.issue_code_card_view,
            views.PERM_ISSUE_CARD,
            _("Issue Security Code Card"),
        ),
        (
            "order-device",
            "order_device",
            views.order_device_view,
            views.PERM_ISSUE_CARD,
            _("Order a replacement device"),
        ),
        (
            "issue-passcode",
            "issue_passcode",
            passcode_views.issue_for_client_view,
            passcode_views.PERM_ISSUE_PASSCODE,
            _("Issue a temporary passcode"),
        ),
        ("timeline", "timeline", timeline.timeline_view, timeline.PERM_TIMELINE, _("Security timeline")),
        ("open-account", "open_account", views.open_account_view, views.PERM_OPEN_ACCOUNT, _("Open the account")),
        ("fund-account", "fund_account", views.fund_account_view, views.PERM_OPEN_ACCOUNT, _("Record funding")),
    )


@admin.register(User, site=admin_site)
class UserAdmin(AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    """Usernames. The password is never a field here, not even read-only (SECURITY.md 18)."""

    list_display = ("username", "client", "email", "is_active", "is_staff", "lock_status")
    list_filter = ("is_active", "is_staff")
    list_select_related = ("client",)
    search_fields = ("username",)  # shows the box; the search is get_search_results
    search_help_text = _(
        "Exact username; or the beginning of an e-mail or of the client's first or last name (any case). "
        "At most 100 matches of each kind: type more to narrow."
    )
    raw_id_fields = ("client",)
    show_full_result_count = False
    paginator = CappedPaginator

    def audit_events(self, obj: User) -> QuerySet[AuditEvent]:
        # What happened to this username, and what it did as an agent.
        return AuditEvent.objects.filter(Q(username=obj.username) | Q(actor=obj))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each lookup on its own index, bounded; then the page is read by
        # primary key (an OR with a long list of client ids made PostgreSQL
        # walk the whole primary key backwards at a million rows).
        clients = matching_client_ids(term)
        ids = _exact_ids(User.objects, "pk", username=term)
        ids += User.objects.filter(email__istartswith=term).order_by().values_list("pk", flat=True)[:SEARCH_LIMIT]
        ids += User.objects.filter(client_id__in=clients).order_by().values_list("pk", flat=True)[:SEARCH_LIMIT]
        return queryset.filter(pk__in=ids), False

    filter_horizontal = ("groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("username", "client", "email", "first_name", "last_name", "is_active")}),
        (_("Login state"), {"fields": ("lock_status", "sessions_valid_after", "last_login", "date_joined")}),
        (_("Staff"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    _STAFF_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")
    agent_actions = (
        ("unlock", "unlock", views.unlock_view, views.PERM_UNLOCK, _("Unlock username")),
        (
            "send-password-reset",
            "send_password_reset",
            views.send_password_reset_view,
            views.PERM_RESET,
            _("Send password-reset link"),
        ),
        ("end-sessions", "end_sessions", views.end_sessions_view, views.PERM_END_SESSIONS, _("End all sessions")),
        (
            "issue-passcode",
            "issue_passcode",
            passcode_views.issue_for_user_view,
            passcode_views.PERM_ISSUE_PASSCODE,
            _("Issue a temporary passcode"),
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        # One subquery per page instead of one lookup per row.
        guard = LoginGuard.objects.filter(username=OuterRef("username")).values("locked_until")[:1]
        return super().get_queryset(request).annotate(guard_locked_until=Subquery(guard))

    @admin.display(description=_("lock (L3)"))
    def lock_status(self, obj: User) -> str:
        until = getattr(obj, "guard_locked_until", None)
        if until is not None and timezone.now() < until:
            return _("locked until %(when)s UTC") % {"when": f"{until:%Y-%m-%d %H:%M}"}
        return _("not locked")

    def get_readonly_fields(self, request, obj=None):
        readonly = ["lock_status", "sessions_valid_after", "last_login", "date_joined"]
        if not request.user.is_superuser:
            # Only superusers make staff or hand out permissions.
            readonly += self._STAFF_FIELDS
        return readonly

    def has_agent_actions(self, obj: User) -> bool:
        return obj.client_id is not None

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_staff and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_staff and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        if not change:
            # A password is only ever chosen by its owner, through a reset link (L5).
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)


class AccountStatusFilter(admin.SimpleListFilter):
    """A8: open or closed now, from closed_at (principle 1): the closures."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("closed", _("Closed"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "open":
            return queryset.filter(open_accounts(now))
        if self.value() == "closed":
            return queryset.filter(closed_at__lte=now)
        return queryset


# A8: a closure is written by its action only (reason, agent, verification, audited).
CLOSURE_FIELDS = ("closed_at", "closure_reason", "closed_by", "closure_verification")


@admin.register(Account, site=admin_site)
class AccountAdmin(AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    list_display = ("number", "client", "equity_usd", "funded_at", "closed_at", "closed_by")
    list_filter = (AccountStatusFilter,)
    list_select_related = ("client", "closed_by")
    search_fields = ("number__exact",)
    search_help_text = _("Exact account number.")
    raw_id_fields = ("client",)
    readonly_fields = CLOSURE_FIELDS
    show_full_result_count = False
    paginator = CappedPaginator
    agent_actions = (("close", "close", views.close_account_view, views.PERM_CLOSE_ACCOUNT, _("Close account")),)

    def has_agent_actions(self, obj: Account) -> bool:
        return obj.closed_at is None

    def audit_events(self, obj: Account) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(client=obj.client_id, details__account=obj.number)


@admin.register(IdentityVerification, site=admin_site)
class IdentityVerificationAdmin(admin.ModelAdmin):
    """L5 (s371): recorded once, never changed or deleted."""

    list_display = ("at", "client", "agent", "method", "reference")
    list_filter = ("method",)
    list_select_related = ("client", "agent")
    search_fields = ("reference__exact", "client__email__exact")
    raw_id_fields = ("client",)
    show_full_result_count = False
    fields = ("client", "method", "reference", "notes", "agent", "at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return self.fields
        return ("agent", "at")

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: IdentityVerification, form, change: bool) -> None:
        # The one way a verification is written, audit event included.
        created = actions.record_verification(
            obj.client,
            actions.NewVerification(obj.method, obj.reference, obj.notes),
            agent=request.user,
            now=timezone.now(),
            request=request,
        )
        obj.pk, obj.agent, obj.at = created.pk, created.agent, created.at
        obj._state.adding = False


class AuditOutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"
    OUTCOMES = ("ok", "passed", "failed", "replayed", "refused", "locked", "rate_limited")

    def lookups(self, request, model_admin):
        return [(outcome, outcome) for outcome in self.OUTCOMES]

    def queryset(self, request, queryset):
        return queryset.filter(outcome=self.value()) if self.value() else queryset


@admin.register(AuditEvent, site=admin_site)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """SECURITY.md 21, principle 7: append-only; nobody adds, changes or deletes here."""

    # Few, short columns: the list fits 1280 px; everything else is on the event's page.
    list_display = ("when", "action", "outcome", "rule", "actor", "who", "username", "ip", "short_details")
    list_display_links = ("when",)
    # Fixed choices: no SELECT DISTINCT over the whole log on every page.
    # Filtering by action works from the search box or the URL (?action=...).
    list_filter = (AuditOutcomeFilter,)
    list_select_related = ("actor", "client")
    search_fields = ("username__exact", "action__exact")
    search_help_text = _("Exact username.")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = None
    fields = ("at", "action", "outcome", "rule", "actor", "client", "username", "ip", "verification", "details")
    readonly_fields = fields
    DETAILS_SHOWN = 40

    @admin.display(description=_("when (UTC)"), ordering="at")
    def when(self, event: AuditEvent) -> str:
        return f"{event.at:%Y-%m-%d %H:%M:%S}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        # A failed password records no client (no enumeration in what it
        # stores); the list shows the client that holds the username typed,
        # one subquery per page.
        holder = User.objects.filter(username=OuterRef("username"), client__isnull=False)
        name = Concat("client__first_name", Value(" "), "client__last_name", output_field=CharField())
        return (
            super().get_queryset(request).annotate(holder_name=Subquery(holder.annotate(name=name).values("name")[:1]))
        )

    @admin.display(description=_("client"))
    def who(self, event: AuditEvent) -> str:
        if event.client_id:
            return str(event.client)
        holder = getattr(event, "holder_name", None)
        return _("%(client)s (by username)") % {"client": holder} if holder else ""

    @admin.display(description=_("details"))
    def short_details(self, event: AuditEvent) -> str:
        if not event.details:
            return ""
        text = ", ".join(f"{key}={value}" for key, value in event.details.items())
        return text if len(text) <= self.DETAILS_SHOWN else text[: self.DETAILS_SHOWN - 1] + "…"


class ChangeStatusFilter(admin.SimpleListFilter):
    """B2's queue: pending requests unless the agent asks for others."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*ChangeRequest.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or ChangeRequest.Status.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or ChangeRequest.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(ChangeRequest, site=admin_site)
class ChangeRequestAdmin(ReadOnlyMixin, AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    """B2: the approvals queue, oldest first; approve or reject on the request's page."""

    list_display = ("requested_at", "age", "client", "kind", "new_value_shown", "status", "decided_by")
    list_filter = (ChangeStatusFilter, "kind")
    list_select_related = ("client", "decided_by")
    ordering = ("requested_at", "id")
    show_full_result_count = False
    paginator = CappedPaginator
    fields = (
        "client",
        "requested_by",
        "kind",
        "new_value_shown",
        "status",
        "requested_at",
        "decided_at",
        "decided_by",
        "reason",
    )
    readonly_fields = fields
    agent_actions = (
        ("approve", "approve", views.approve_change_view, views.PERM_DECIDE_CHANGE, _("Approve change")),
        ("reject", "reject", views.reject_change_view, views.PERM_DECIDE_CHANGE, _("Reject change")),
    )

    @admin.display(description=_("waiting"))
    def age(self, obj: ChangeRequest) -> str:
        end = obj.decided_at or timezone.now()
        hours = int((end - obj.requested_at).total_seconds() // 3600)
        return _("%(days)d d %(hours)d h") % {"days": hours // 24, "hours": hours % 24}

    @admin.display(description=_("new value"))
    def new_value_shown(self, obj: ChangeRequest) -> str:
        return obj.summary()

    def has_agent_actions(self, obj: ChangeRequest) -> bool:
        return obj.status == ChangeRequest.Status.PENDING

    def audit_events(self, obj: ChangeRequest) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(client=obj.client_id, details__change_request=obj.pk)


class OrderStatusFilter(admin.SimpleListFilter):
    """D1: the order's status, derived from its timestamps and now (principle 1)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return OrderStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        auto = now - settings.SLS["AUTO_ACTIVATION_AFTER_DELIVERY"]
        live = Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=now)
        not_activated = (Q(activated_at__isnull=True) | Q(activated_at__gt=now)) & Q(projected_delivery_at__gt=auto)
        final = Q(finalised_at__isnull=False)
        conditions = {
            OrderStatus.CANCELLED: ~live,
            OrderStatus.AWAITING_PIN: live & ~final,
            OrderStatus.ACTIVATED: live & final & ~not_activated,
            OrderStatus.DELIVERED: live
            & final
            & not_activated
            & Q(shipped_at__isnull=False, projected_delivery_at__lte=now),
            OrderStatus.SHIPPED: live & final & not_activated & Q(shipped_at__lte=now, projected_delivery_at__gt=now),
            OrderStatus.REQUESTED: live & final & not_activated & (Q(shipped_at__isnull=True) | Q(shipped_at__gt=now)),
        }
        condition = conditions.get(self.value())
        return queryset.filter(condition) if condition is not None else queryset


ORDER_FIELDS = (
    "client",
    "device_type",
    "equity_usd",
    "device",
    "replaces",
    "shipping_address",
    "shipping_country",
    "shipping_method",
    "requested_at",
    "finalised_at",
    "projected_ship_at",
    "shipped_at",
    "projected_delivery_at",
    "activated_at",
    "cancelled_at",
    "ordered_by",
    "verification",
)


@admin.register(DeviceOrder, site=admin_site)
class DeviceOrderAdmin(AgentActionsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """D1: orders by status and projected date; they change only through actions."""

    list_display = ("__str__", "client", "status_now", "projected_ship_at", "projected_delivery_at", "shipped_at")
    list_filter = (OrderStatusFilter, "device_type")
    list_select_related = ("client",)
    date_hierarchy = "projected_delivery_at"
    ordering = ("projected_delivery_at", "id")
    raw_id_fields = ("client",)
    show_full_result_count = False
    actions = None
    fields = ORDER_FIELDS
    readonly_fields = ORDER_FIELDS
    agent_actions = (
        ("mark-shipped", "mark_shipped", views.mark_shipped_view, views.PERM_ISSUE_CARD, _("Mark shipped")),
        ("cancel", "cancel", views.cancel_order_view, views.PERM_ISSUE_CARD, _("Cancel order")),
    )

    def has_agent_actions(self, obj: DeviceOrder) -> bool:
        return obj.is_open(timezone.now())

    # Whoever sees the devices sees their orders (no new permission to grant).
    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("devices.view_securitydevice")

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm("devices.view_securitydevice")

    @admin.display(description=_("status"))
    def status_now(self, obj: DeviceOrder) -> str:
        return obj.status_label(timezone.now())


# --- Returns and charges (T3, T5, T6) ------------------------------------------

RETURN_FIELDS = (
    "client",
    "device",
    "reason",
    "replacement_wanted",
    "started_at",
    "started_by",
    "received_at",
    "received_by",
    "receipt_verification",
)


@admin.register(DeviceReturn, site=admin_site)
class DeviceReturnAdmin(AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    """T3: the returns agents expect, and those received, by status and
    region; the receipt is an action; only the notes are edited here
    (audited); nobody adds or deletes a return."""

    list_display = ("started_at", "client", "device", "region", "status_now", "replacement_wanted", "received_at")
    list_filter = (ReturnStatusFilter, RegionFilter, "device__type", "replacement_wanted")
    list_select_related = ("client", "device")
    search_fields = ("device__serial__exact",)
    search_help_text = _("Exact serial number.")
    ordering = ("-started_at", "-id")
    raw_id_fields = ("client", "device")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = None
    fields = (*RETURN_FIELDS, "agent_notes")
    readonly_fields = RETURN_FIELDS
    agent_actions = (("receive", "receive", views.receipt_view, views.PERM_RECORD_RECEIPT, _("Record receipt")),)

    @admin.display(description=_("status"))
    def status_now(self, obj: DeviceReturn) -> str:
        return obj.status_label(timezone.now())

    @admin.display(description=_("region"))
    def region(self, obj: DeviceReturn) -> str:
        return str(obj.client.region.name)

    def has_agent_actions(self, obj: DeviceReturn) -> bool:
        return obj.received_at is None

    def audit_events(self, obj: DeviceReturn) -> QuerySet[AuditEvent]:
        return return_audit_events(obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: DeviceReturn, form, change: bool) -> None:
        # Only the notes change here, and the change is audited.
        super().save_model(request, obj, form, change)
        if "agent_notes" in form.changed_data:
            trail.record(
                "device.return.notes",
                request=request,
                actor=request.user,
                client_id=obj.client_id,
                rule="T3",
                details={"return": obj.pk, "serial": obj.device.serial},
            )

    def log_change(self, request, obj, message):
        # Agent actions are audit events (save_model), not admin log entries.
        return None


CHARGE_FIELDS = (
    "account",
    "device",
    "device_type",
    "amount_usd",
    "reason",
    "created_at",
    "created_by",
    "verification",
    "waived_at",
    "waived_by",
    "waive_reason",
    "waive_verification",
)


@admin.register(DeviceCharge, site=admin_site)
class DeviceChargeAdmin(ReadOnlyMixin, AuditHistoryMixin, AgentActionsMixin, admin.ModelAdmin):
    """T6: charges by status, reason and type; created on a device's page,
    waived on the charge's page (or from the list), each audited."""

    list_display = ("created_at", "account", "device", "device_type", "reason", "amount_usd", "status_now", "waived_at")
    list_filter = (ChargeStatusFilter, "reason", "device_type")
    list_select_related = ("account", "device")
    search_fields = ("device__serial__exact", "account__number__exact")
    search_help_text = _("Exact serial number or account number.")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["waive_selected"]
    fields = CHARGE_FIELDS
    readonly_fields = CHARGE_FIELDS
    agent_actions = (("waive", "waive", views.waive_charge_view, views.PERM_WAIVE_CHARGE, _("Waive charge")),)

    @admin.display(description=_("status"))
    def status_now(self, obj: DeviceCharge) -> str:
        return obj.status_label(timezone.now())

    def has_agent_actions(self, obj: DeviceCharge) -> bool:
        return obj.waived_at is None

    def audit_events(self, obj: DeviceCharge) -> QuerySet[AuditEvent]:
        return charge_audit_events(obj)

    def has_waive_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(views.PERM_WAIVE_CHARGE)

    @admin.action(description=_("Waive the selected charge"), permissions=["waive"])
    def waive_selected(self, request: HttpRequest, queryset: QuerySet[DeviceCharge]):
        # Each waiver has its own reason (and, on a call, its verification).
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, _("Choose one charge: each waiver needs its own reason."), messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:returns_devicecharge_waive", args=[chosen[0]]))


# The passcodes' and online cards' pages use the mixins above.
from . import passcode_admin  # noqa: E402, F401
