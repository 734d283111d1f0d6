"""The client's security timeline, for an agent on the phone (issue item 9).

At the top, for each username, what the client can do now and until when
(the factor each could log in with now, the windows of a live passcode or
online card, a lock); below, newest first, one list merged from the
client's devices, device orders, passcodes and their windows, online
cards, locks and audit events (with their rule IDs: agents see them,
clients never do). Every moment is shown in UTC and in the client's zone.

Its cost does not grow with the history: one query per kind of row, the
audit events capped (`SLS["AGENT_TIMELINE_EVENTS"]`, the rest in the audit
log), and at most one or two queries more per username for the windows of
its live passcode and online card (principle 1: they are computed now).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.admin import ModelAdmin
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import FULL, FULL_NO_WITHDRAWALS, RESTRICTED_CARD_ONLY
from accounts.models import Client, User
from audit.models import AuditEvent
from devices.models import DeviceOrder, DeviceStatus, SecurityDevice
from login.models import LoginGuard
from passcodes.models import OnlineCard, TemporaryPasscode
from passcodes.windows import Phase

from .clock import Moment, both, moment
from .views import _page, _require, object_pk

PERM_TIMELINE = "accounts.view_client"
TEMPLATE = "admin/client_timeline.html"


@dataclass
class Entry:
    """One line of the timeline."""

    at: datetime
    when: Moment
    source: str
    text: str
    username: str = ""
    rule: str = ""
    agent: str = ""
    outcome: str = ""
    url: str = ""
    scheduled: bool = False


@dataclass
class UsernameNow:
    """What one username can do now and until when."""

    username: str
    log_in_with: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    locked: str = ""


@dataclass
class Timeline:
    client: Client
    now: Moment
    usernames: list[UsernameNow]
    entries: list[Entry]
    events_shown: int
    events_capped: bool


def _scope_words(scope: str) -> str:
    return {
        FULL: _("full access, withdrawals included"),
        FULL_NO_WITHDRAWALS: _("full access except withdrawals and changes of banking instructions"),
        RESTRICTED_CARD_ONLY: _("only the pages to print and activate the online card (no trading platform)"),
    }.get(scope, scope)


class _Builder:
    def __init__(self, client: Client, now: datetime) -> None:
        self.client, self.now = client, now
        self.entries: list[Entry] = []

    def when(self, at: datetime) -> Moment:
        return moment(at, self.client)

    def add(self, at: datetime | None, source: str, text: str, **extra) -> None:
        if at is None:
            return
        self.entries.append(
            Entry(at=at, when=self.when(at), source=source, text=text, scheduled=at > self.now, **extra)
        )

    # --- rows of each kind ------------------------------------------------------------

    def device(self, device: SecurityDevice) -> None:
        source = _("device")
        url = reverse("admin:devices_securitydevice_change", args=[device.pk])
        name = str(device)
        agent = device.issued_by.username if device.issued_by_id else ""
        self.add(device.created_at, source, _("%(device)s issued") % {"device": name}, agent=agent, rule="D5", url=url)
        if device.activated_at is not None:
            self.add(device.activated_at, source, _("%(device)s active") % {"device": name}, url=url)
        elif device.status == DeviceStatus.ISSUED and device.auto_activates_at is not None:
            self.add(
                device.auto_activates_at,
                source,
                _("%(device)s activates itself unless activated earlier") % {"device": name},
                rule="D3",
                url=url,
            )
        if device.deactivated_at is not None:
            self.add(
                device.deactivated_at,
                source,
                _("%(device)s: %(status)s") % {"device": name, "status": device.get_status_display()},
                rule="D5",
                url=url,
            )

    def order(self, order: DeviceOrder) -> None:
        source = _("order")
        url = reverse("admin:devices_deviceorder_change", args=[order.pk])
        name = str(order)
        agent = order.ordered_by.username if order.ordered_by_id else ""
        status = order.status_label(self.now)
        if order.replaces_id:
            text = _("%(order)s requested to replace %(serial)s; now: %(status)s") % {
                "order": name,
                "serial": order.replaces.serial,
                "status": status,
            }
        else:
            text = _("%(order)s requested; now: %(status)s") % {"order": name, "status": status}
        self.add(
            order.requested_at,
            source,
            text,
            agent=agent,
            rule="D1",
            url=url,
        )
        self.add(order.shipped_at, source, _("%(order)s shipped") % {"order": name}, rule="D1", url=url)
        if order.cancelled_at is None and order.activated_at is None:
            self.add(
                order.projected_delivery_at,
                source,
                _("%(order)s projected delivery") % {"order": name},
                rule="D4",
                url=url,
            )
        self.add(order.activated_at, source, _("%(order)s activated") % {"order": name}, rule="R1", url=url)
        self.add(order.cancelled_at, source, _("%(order)s cancelled") % {"order": name}, url=url)

    def passcode(self, passcode: TemporaryPasscode) -> None:
        source = _("temporary passcode")
        url = reverse("admin:passcodes_temporarypasscode_change", args=[passcode.pk])
        username = passcode.user.username
        self.add(
            passcode.issued_at,
            source,
            _("Temporary passcode issued; permanent device: %(status)s")
            % {"status": passcode.get_device_status_display()},
            username=username,
            agent=passcode.issued_by.username if passcode.issued_by_id else "",
            rule="A2",
            url=url,
        )
        ended = passcode.ended_at
        if ended is None or ended > passcode.full_until:
            self.add(
                passcode.full_until,
                source,
                _("Full access ends: only the pages of the online card from here"),
                username=username,
                rule="A3",
                url=url,
            )
        if ended is None or ended > passcode.restricted_until:
            self.add(
                passcode.restricted_until,
                source,
                _("Temporary passcode expires: it opens nothing from here"),
                username=username,
                rule="A7",
                url=url,
            )
        if ended is not None:
            self.add(
                ended,
                source,
                _("Temporary passcode ended: %(reason)s") % {"reason": passcode.get_ended_reason_display()},
                username=username,
                url=url,
            )

    def card(self, card: OnlineCard) -> None:
        source = _("online card")
        url = reverse("admin:passcodes_onlinecard_change", args=[card.pk])
        username = card.user.username
        self.add(card.created_at, source, _("Online card made"), username=username, rule="C1", url=url)
        self.add(card.printed_at, source, _("Online card printed or saved"), username=username, rule="C1", url=url)
        self.add(card.activated_at, source, _("Online card activated"), username=username, rule="C2", url=url)
        if card.ended_at is None:
            # The live card of a username (one at most): its expiry is computed now.
            _phase, expires_at = card.window(self.now)
            self.add(expires_at, source, _("Online card expires"), username=username, rule="A4", url=url)
        else:
            self.add(
                card.ended_at,
                source,
                _("Online card ended: %(reason)s") % {"reason": card.get_ended_reason_display()},
                username=username,
                url=url,
            )

    def guard(self, guard: LoginGuard) -> None:
        if guard.locked_until is None:
            return
        self.add(
            guard.locked_until,
            _("lock"),
            _("Lock after 10 failed attempts ends (each refused attempt moves it)"),
            username=guard.username,
            rule="L3",
        )

    def event(self, event: AuditEvent) -> None:
        details = ", ".join(f"{key}={value}" for key, value in (event.details or {}).items())
        text = event.action + (f" ({details})" if details else "")
        if event.verification_id:
            text += " · " + _("verification %(reference)s") % {"reference": event.verification.reference}
        self.add(
            event.at,
            _("audit"),
            text,
            username=event.username,
            rule=event.rule,
            agent=event.actor.username if event.actor_id else "",
            outcome=event.outcome,
            url=reverse("admin:audit_auditevent_change", args=[event.pk]),
        )


def _now_for(
    user: User,
    *,
    now: datetime,
    client: Client,
    devices: list[SecurityDevice],
    passcode: TemporaryPasscode | None,
    card: OnlineCard | None,
    guard: LoginGuard | None,
) -> UsernameNow:
    state = UsernameNow(username=user.username)
    bound = [
        device
        for device in devices
        if any(binding.user_id == user.pk and binding.confirmed for binding in device.bindings.all())
    ]
    live = [device for device in bound if device.is_active_at(now)]
    if live:
        device = live[0]
        state.log_in_with.append(str(device))
        state.details.append(
            _("%(device)s is active: %(scope)s (A1).") % {"device": device, "scope": _scope_words(FULL)}
        )
    for device in bound:
        if device.status == DeviceStatus.ISSUED and device.auto_activates_at and device.auto_activates_at > now:
            state.details.append(
                _("%(device)s is on its way: it activates itself at %(when)s unless activated earlier (D3, R1).")
                % {"device": device, "when": both(moment(device.auto_activates_at, client))}
            )
    if passcode is not None:
        allowance = passcode.allowance(now)
        if allowance is not None:
            state.log_in_with.append(_("temporary passcode"))
            text = _("Temporary passcode: %(scope)s until %(until)s") % {
                "scope": _scope_words(allowance.scope),
                "until": both(moment(allowance.until, client)),
            }
            if allowance.then_scope:
                text += _("; then %(scope)s until %(until)s") % {
                    "scope": _scope_words(allowance.then_scope),
                    "until": both(moment(allowance.then_until, client)),
                }
            state.details.append(text + " (A2, A3, A5).")
        elif passcode.current_phase(now) == Phase.EXPIRED:
            state.details.append(
                _("Temporary passcode expired at %(when)s (A7).")
                % {"when": both(moment(passcode.restricted_until, client))}
            )
        else:
            state.details.append(_("Temporary passcode ended: a permanent device became active (A6)."))
    if card is not None:
        phase, expires_at = card.window(now)
        if phase == Phase.FULL:
            state.log_in_with.append(_("online card"))
            until = both(moment(expires_at, client)) if expires_at else _("the account is funded, then 21 days")
            state.details.append(
                _("Online card: %(scope)s until %(until)s (A4, C5, C6).")
                % {"scope": _scope_words(FULL), "until": until}
            )
        elif phase == Phase.PENDING:
            state.details.append(
                _("Online card made at %(when)s, not activated yet (C2).")
                % {"when": both(moment(card.created_at, client))}
            )
        elif phase == Phase.EXPIRED:
            state.details.append(
                _("Online card expired at %(when)s (A4).") % {"when": both(moment(expires_at, client))}
            )
        else:
            state.details.append(_("Online card ended: a permanent device became active (A6)."))
    if not state.log_in_with and not bound and passcode is None and card is None:
        state.log_in_with.append(_("password only (no security device)"))
    if guard is not None and guard.is_locked(now):
        state.locked = _(
            "Locked until %(when)s after 10 failed attempts (L3): no login at all until then, unless you unlock it "
            "after verifying the caller."
        ) % {"when": both(moment(guard.locked_until, client))}
    return state


def client_timeline(client: Client, now: datetime) -> Timeline:
    """Everything the page shows, in a fixed number of queries (plus the windows of live credentials)."""
    cap = settings.SLS["AGENT_TIMELINE_EVENTS"]
    users = list(User.objects.filter(client=client).order_by("username"))
    usernames = [user.username for user in users]
    devices = list(
        SecurityDevice.objects.filter(client=client)
        .select_related("issued_by")
        .prefetch_related("bindings")
        .order_by("-created_at", "-pk")
    )
    orders = list(DeviceOrder.objects.filter(client=client).select_related("replaces", "ordered_by"))
    passcodes = list(TemporaryPasscode.objects.filter(client=client).select_related("user", "issued_by"))
    cards = list(OnlineCard.objects.filter(client=client).select_related("user"))
    guards = {guard.username: guard for guard in LoginGuard.objects.filter(username__in=usernames)}
    events = list(
        AuditEvent.objects.filter(Q(client=client) | Q(username__in=usernames))
        .select_related("actor", "verification")
        .order_by("-at", "-pk")[: cap + 1]
    )
    capped = len(events) > cap
    events = events[:cap]

    builder = _Builder(client, now)
    for device in devices:
        builder.device(device)
    for order in orders:
        builder.order(order)
    for passcode in passcodes:
        builder.passcode(passcode)
    for card in cards:
        builder.card(card)
    for guard in guards.values():
        builder.guard(guard)
    for event in events:
        builder.event(event)
    entries = sorted(builder.entries, key=lambda entry: entry.at, reverse=True)

    live_passcodes = {p.user_id: p for p in passcodes if p.ended_at is None}
    live_cards = {c.user_id: c for c in cards if c.ended_at is None}
    states = [
        _now_for(
            user,
            now=now,
            client=client,
            devices=devices,
            passcode=live_passcodes.get(user.pk),
            card=live_cards.get(user.pk),
            guard=guards.get(user.username),
        )
        for user in users
    ]
    return Timeline(
        client=client,
        now=moment(now, client),
        usernames=states,
        entries=entries,
        events_shown=len(events),
        events_capped=capped,
    )


def timeline_view(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    """The client's security state at a glance, then its history, newest first."""
    _require(request, PERM_TIMELINE)
    client = get_object_or_404(Client, pk=object_pk(object_id))
    timeline = client_timeline(client, timezone.now())
    return _page(
        request,
        model_admin,
        TEMPLATE,
        {
            "title": _("Security timeline"),
            "original": client,
            "timeline": timeline,
            "audit_log_url": reverse("admin:audit_auditevent_changelist") + f"?client__id__exact={client.pk}",
        },
    )
