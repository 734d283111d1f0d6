"""The agents' admin for temporary passcodes and online cards (SECURITY.md 18).

Read-only: a passcode is issued from the client's page and shown once
(agents/passcode_views.py); an online card is made by the client. Neither
the passcode's digest nor the card's seed is a field here, not even
read-only, so no agent ever sees a code after it was shown once. A live
passcode can be revoked, with an identity verification.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Client, User
from passcodes import windows
from passcodes.models import OnlineCard, Phase, TemporaryPasscode

from . import passcode_views
from .admin import AgentActionsMixin, AuditHistoryMixin, CappedPaginator
from .admin_site import ReadOnlyMixin, admin_site


def _clients_and_users(term: str) -> tuple[list[int], list[int]]:
    """Exact lookups on unique indexes, bounded: a username, an account number, an e-mail of record."""
    users = list(User.objects.filter(username=term, client__isnull=False).values_list("pk", flat=True)[:1])
    clients = list(Account.objects.filter(number=term).values_list("client_id", flat=True)[:1])
    clients += Client.objects.filter(email=term).values_list("pk", flat=True)[:100]
    return clients, users


class InterimSearchMixin:
    search_help_text = _("Exact username, account number or e-mail of record.")
    search_fields = ("user__username",)  # shows the box; the search is get_search_results

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        clients, users = _clients_and_users(term)
        return queryset.filter(user_id__in=users) | queryset.filter(client_id__in=clients), False


PASSCODE_FIELDS = (
    "user",
    "client",
    "issued_at",
    "issued_by",
    "verification",
    "device",
    "device_status",
    "phase_now",
    "full_until",
    "restricted_until",
    "ended_at",
    "ended_reason",
)


@admin.register(TemporaryPasscode, site=admin_site)
class TemporaryPasscodeAdmin(InterimSearchMixin, AuditHistoryMixin, AgentActionsMixin, ReadOnlyMixin, admin.ModelAdmin):
    """A2, A3: who issued it, for whom, its windows; never its code or digest."""

    list_display = ("user", "client", "issued_at", "phase_by_clock", "full_until", "restricted_until", "ended_reason")
    list_select_related = ("user", "client")
    list_filter = ("ended_reason", "device_status")
    raw_id_fields = ("client",)
    show_full_result_count = False
    paginator = CappedPaginator
    actions = None
    fields = PASSCODE_FIELDS
    readonly_fields = PASSCODE_FIELDS
    agent_actions = (
        (
            "revoke",
            "revoke",
            passcode_views.revoke_view,
            passcode_views.PERM_REVOKE_PASSCODE,
            _("Revoke this passcode"),
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[TemporaryPasscode]:
        return super().get_queryset(request).select_related("user", "client", "issued_by", "verification", "device")

    def has_agent_actions(self, obj: TemporaryPasscode) -> bool:
        return obj.ended_at is None

    def audit_events(self, obj: TemporaryPasscode):
        from audit.models import AuditEvent

        return AuditEvent.objects.filter(client=obj.client_id, username__in=["", obj.user.username]).filter(
            action__startswith="passcode."
        )

    @admin.display(description=_("phase by its windows"))
    def phase_by_clock(self, obj: TemporaryPasscode) -> str:
        # The list reads no other row: the windows from its own timestamps (A2, A3).
        return Phase(windows.passcode_phase(obj.issued_at, timezone.now(), ended_at=obj.ended_at)).label

    @admin.display(description=_("phase now"))
    def phase_now(self, obj: TemporaryPasscode) -> str:
        # The page of one passcode: superseded by a permanent device too (A6).
        return Phase(obj.current_phase(timezone.now())).label


CARD_FIELDS = (
    "user",
    "client",
    "created_at",
    "passcode",
    "applicant",
    "printed_at",
    "activated_at",
    "phase_now",
    "expires_now",
    "ended_at",
    "ended_reason",
)


@admin.register(OnlineCard, site=admin_site)
class OnlineCardAdmin(InterimSearchMixin, ReadOnlyMixin, admin.ModelAdmin):
    """C1-C6: when it was made, printed, activated, when it expires; never its seed or codes."""

    list_display = ("user", "client", "created_at", "printed_at", "activated_at", "ended_at", "ended_reason")
    list_select_related = ("user", "client")
    list_filter = ("applicant", "ended_reason")
    raw_id_fields = ("client", "passcode")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = None
    fields = CARD_FIELDS
    readonly_fields = CARD_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[OnlineCard]:
        return super().get_queryset(request).select_related("user", "client", "passcode")

    @admin.display(description=_("phase now"))
    def phase_now(self, obj: OnlineCard) -> str:
        return Phase(obj.window(timezone.now())[0]).label

    @admin.display(description=_("stops giving access at (UTC)"))
    def expires_now(self, obj: OnlineCard) -> str:
        expires_at = obj.window(timezone.now())[1]
        return f"{expires_at:%Y-%m-%d %H:%M}" if expires_at else "-"
