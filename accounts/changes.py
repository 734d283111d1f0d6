"""B2 and SECURITY.md 15: changes of banking instructions and of the e-mail address.

An enrolled client makes the change at once, after confirming the security
device again (accounts.access.fresh_factor_required); an unenrolled client's
change waits as a ChangeRequest for the Security team (agents' admin). Either
way the applied change is audited (rule B2) and the client is told by e-mail,
at the old address (and the new one, for an e-mail change), in the client's
language.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from audit import trail

from .models import BankingInstructions, ChangeRequest, Client, IdentityVerification, User, mask
from .money import Refusal


class ChangeConflict(Exception):
    """The change request cannot be decided (already decided); the message says why."""


def _describe(kind: str, value: dict) -> str:
    if kind == ChangeRequest.Kind.EMAIL:
        return value["email"]
    number = value.get("iban") or value.get("account_number", "")
    return f"{value['account_holder']}, {value['bank_name']}, {mask(number)}"


def apply_change(client: Client, kind: str, value: dict, now: datetime) -> str:
    """Make the change; returns the e-mail address of record before it."""
    old_email = client.email
    if kind == ChangeRequest.Kind.EMAIL:
        client.email = value["email"]
        Client.objects.filter(pk=client.pk).update(email=client.email)
        User.objects.filter(client=client).update(email=client.email)
    else:
        BankingInstructions.objects.select_for_update().filter(client=client, replaced_at__isnull=True).update(
            replaced_at=now
        )
        BankingInstructions.objects.create(client=client, created_at=now, **value)
    return old_email


def _send(client: Client, addresses: list[str], subject, body) -> None:
    with translation.override(client.language or settings.LANGUAGE_CODE):
        send_mail(subject=str(subject()), message=str(body()), from_email=None, recipient_list=addresses)


def _phone(client: Client) -> str:
    phones = client.region.phones
    return phones[0].number if phones else ""


def _what(kind: str) -> str:
    """The changed thing, as the middle of a sentence."""
    return _("banking instructions") if kind == ChangeRequest.Kind.BANKING else _("e-mail address")


def notify_changed(client: Client, kind: str, value: dict, old_email: str) -> None:
    """SECURITY.md 15: the old address hears of the change (and the new one of an e-mail change)."""
    recipients = [old_email]
    if kind == ChangeRequest.Kind.EMAIL and value["email"] != old_email:
        recipients.append(value["email"])

    def subject():
        if kind == ChangeRequest.Kind.BANKING:
            return _("Your banking instructions were changed")
        return _("Your e-mail address was changed")

    def body():
        return _(
            "Dear %(name)s,\n\nyour %(what)s in the SLS portal changed to: %(value)s.\n\nIf you did not make "
            "this change, call your regional Customer Service Center at once: %(phone)s.\n"
        ) % {"name": client.first_name, "what": _what(kind), "value": _describe(kind, value), "phone": _phone(client)}

    _send(client, recipients, subject, body)


def notify_submitted(client: Client, change: ChangeRequest) -> None:
    def subject():
        return _("We received your change request")

    def body():
        return _(
            "Dear %(name)s,\n\nwe received your request to change your %(what)s to: %(value)s. Our Security "
            "team will review it and write to you.\n\nIf you did not make this request, call your regional "
            "Customer Service Center at once: %(phone)s.\n"
        ) % {"name": client.first_name, "what": _what(change.kind), "value": change.summary(), "phone": _phone(client)}

    _send(client, [client.email], subject, body)


def notify_rejected(client: Client, change: ChangeRequest) -> None:
    def subject():
        return _("Your change request was not approved")

    def body():
        return _(
            "Dear %(name)s,\n\nour Security team did not approve your request to change your %(what)s.\n"
            "Reason: %(reason)s\n\nCall your regional Customer Service Center if you have questions: %(phone)s.\n"
        ) % {"name": client.first_name, "what": _what(change.kind), "reason": change.reason, "phone": _phone(client)}

    _send(client, [client.email], subject, body)


def change_now(user: User, kind: str, value: dict, *, now: datetime, request=None) -> None:
    """B2: an enrolled client's own change, after a fresh second factor (the view checked it)."""
    client = user.client
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=client.pk).first()
        old_email = apply_change(client, kind, value, now)
        trail.record(
            "change.apply",
            request=request,
            client=client,
            username=user.username,
            rule="B2",
            details={"kind": kind, "by": "client", "fresh_factor": True},
            at=now,
        )
        notify_changed(client, kind, value, old_email)


def pending_change(client: Client, kind: str) -> ChangeRequest | None:
    return ChangeRequest.objects.filter(client=client, kind=kind, status=ChangeRequest.Status.PENDING).first()


def submit_change(user: User, kind: str, value: dict, *, now: datetime, request=None) -> ChangeRequest | Refusal:
    """B2: an unenrolled client's change waits for the Security team; one pending change of each kind."""
    client = user.client
    refusal = Refusal(
        "B2",
        _(
            "You already asked for a change of this kind and it is waiting for our Security team. Wait for "
            "their answer by e-mail, or call your regional Customer Service Center to withdraw it."
        ),
    )
    if pending_change(client, kind) is not None:
        return refusal
    try:
        with transaction.atomic():
            change = ChangeRequest.objects.create(
                client=client, requested_by=user, kind=kind, new_value=value, requested_at=now
            )
            trail.record(
                "change.submit",
                request=request,
                client=client,
                username=user.username,
                rule="B2",
                details={"kind": kind, "change_request": change.pk},
                at=now,
            )
            notify_submitted(client, change)
    except IntegrityError:
        # A concurrent twin made the pending request first.
        return refusal
    return change


def decide(
    change_id: int,
    *,
    approve: bool,
    reason: str,
    agent: User,
    verification: IdentityVerification | None,
    now: datetime,
    request=None,
) -> ChangeRequest:
    """B2: the Security team approves (and applies) or rejects a pending change.

    Call inside the caller's transaction (the agents' action records the
    verification in the same one). Raises ChangeConflict when it was decided already."""
    change = ChangeRequest.objects.select_for_update().select_related("client").filter(pk=change_id).first()
    if change is None or change.status != ChangeRequest.Status.PENDING:
        raise ChangeConflict(_("This change request was already decided; nothing was changed (B2)."))
    change.status = ChangeRequest.Status.APPROVED if approve else ChangeRequest.Status.REJECTED
    change.decided_at, change.decided_by, change.reason = now, agent, reason
    change.save(update_fields=["status", "decided_at", "decided_by", "reason"])
    client = change.client
    trail.record(
        "change.approve" if approve else "change.reject",
        request=request,
        actor=agent,
        client=client,
        username=change.requested_by.username,
        verification=verification,
        rule="B2",
        details={"kind": change.kind, "change_request": change.pk},
        at=now,
    )
    if approve:
        old_email = apply_change(client, change.kind, change.new_value, now)
        notify_changed(client, change.kind, change.new_value, old_email)
    else:
        notify_rejected(client, change)
    return change
