"""What an agent does for a caller, after verifying who the caller is.

Each action that changes a client's access (unlock, reset link, ending
sessions, a new code card) needs an identity verification for that client
(L5, s371): one recorded in the same call, or one this agent recorded for
this client within SLS["IDENTITY_VERIFICATION_VALID"]. The verification,
the action and its audit event are one transaction, so a refused or failed
action leaves nothing behind (ARCHITECTURE.md principle 7).

The admin views only parse a form and call one function here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import changes, closure
from accounts.models import Account, ChangeRequest, Client, IdentityVerification, User
from audit import trail
from devices import flows as device_flows
from devices import orders as device_orders
from devices.models import DeviceOrder, DeviceStatus, SecurityDevice
from login import lockout
from passcodes import applicants
from passcodes import issuing as passcode_issuing
from passcodes.issuing import PasscodeRefused
from passcodes.models import EndReason, TemporaryPasscode
from returns import charges as return_charges
from returns import flows as return_flows
from returns.models import DeviceCharge, DeviceReturn


class VerificationRequired(Exception):
    """L5 (s371): the action needs a verified caller; the message names the rule."""

    def __init__(self) -> None:
        minutes = int(settings.SLS["IDENTITY_VERIFICATION_VALID"].total_seconds() // 60)
        super().__init__(
            _(
                "Verify the caller's identity first (L5): record how you verified it and the call "
                "reference, or use a verification you recorded for this client in the last %(minutes)d minutes."
            )
            % {"minutes": minutes}
        )


@dataclass(frozen=True)
class NewVerification:
    """What the agent typed into a form's identity-verification fields."""

    method: str
    reference: str
    notes: str = ""


def recent_verification(client: Client, *, agent: User, now: datetime) -> IdentityVerification | None:
    """The latest verification this agent recorded for this client that is still good."""
    since = now - settings.SLS["IDENTITY_VERIFICATION_VALID"]
    return (
        IdentityVerification.objects.filter(client=client, agent=agent, at__gt=since, at__lte=now)
        .order_by("-at", "-pk")
        .first()
    )


def record_verification(
    client: Client, new: NewVerification, *, agent: User, now: datetime, request: HttpRequest | None = None
) -> IdentityVerification:
    """L5 (s371): the agent's record that the caller proved to be the client."""
    with transaction.atomic():
        verification = IdentityVerification.objects.create(
            client=client, agent=agent, method=new.method, reference=new.reference, notes=new.notes, at=now
        )
        trail.record(
            "identity.verify",
            request=request,
            actor=agent,
            client=client,
            verification=verification,
            rule="L5",
            details={"method": verification.method},
            at=now,
        )
    return verification


def _verification_for(
    client: Client, new: NewVerification | None, *, agent: User, now: datetime, request: HttpRequest | None
) -> IdentityVerification:
    if new is not None:
        return record_verification(client, new, agent=agent, now=now, request=request)
    found = recent_verification(client, agent=agent, now=now)
    if found is None:
        raise VerificationRequired()
    return found


def _client_of(user: User) -> Client:
    if user.client_id is None:
        # Staff usernames are not handled through agent actions.
        raise ValueError("Agent actions apply to clients' usernames only.")
    return user.client


def unlock_username(
    user: User,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> bool:
    """L3 (s371): lift the lock early and reset the count. True if it was locked."""
    client = _client_of(user)
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        was_locked = lockout.unlock(user.username, now)
        trail.record(
            "lockout.unlock",
            request=request,
            actor=agent,
            client=client,
            username=user.username,
            verification=verification,
            rule="L3",
            details={"was_locked": was_locked},
            at=now,
        )
    return was_locked


def password_reset_link(user: User) -> str:
    """A single-use link (the token changes with the password), valid PASSWORD_RESET_TIMEOUT.

    On the portal's public address (PORTAL_URL), never the host the agent's
    browser used for the admin."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password-reset-confirm", kwargs={"uidb64": uidb64, "token": token})
    return settings.PORTAL_URL + path


def send_password_reset(
    user: User,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest,
    new_verification: NewVerification | None = None,
) -> None:
    """L5: e-mail a password-reset link to the client's e-mail of record, never another address."""
    client = _client_of(user)
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        # The audit event first: if the mail cannot be sent, both roll back.
        # The link itself is a secret and is never recorded (SECURITY.md 20).
        trail.record(
            "password_reset.send",
            request=request,
            actor=agent,
            client=client,
            username=user.username,
            verification=verification,
            rule="L5",
            at=now,
        )
        context = {
            "client": client,
            "username": user.username,
            "link": password_reset_link(user),
            "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        }
        # In the client's language, not the agent's.
        with translation.override(client.language or settings.LANGUAGE_CODE):
            send_mail(
                subject=_("Your password-reset link"),
                message=render_to_string("admin/accounts/password_reset_email.txt", context),
                from_email=None,
                recipient_list=[client.email],
            )


def end_all_sessions(
    user: User,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> None:
    """SECURITY.md 5: every session of this username stops at its next request."""
    client = _client_of(user)
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        user.end_all_sessions(now)
        trail.record(
            "sessions.end_all",
            request=request,
            actor=agent,
            client=client,
            username=user.username,
            verification=verification,
            at=now,
        )


def close_account(
    account: Account,
    *,
    reason: str,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> Account:
    """A8: close an account for a verified caller, with the reason, audited.
    Raises accounts.closure.ClosureRefused (and records nothing, not even the
    verification) when it is closed already or the reason is missing."""
    closure.refuse_if_closed(account)
    closure.clean_reason(reason)
    with transaction.atomic():
        verification = _verification_for(account.client, new_verification, agent=agent, now=now, request=request)
        return closure.close(account, reason=reason, agent=agent, verification=verification, now=now, request=request)


def _has_open_account(client: Client, now: datetime) -> bool:
    """A8: a client whose every account is closed is a closed account's holder."""
    return client.accounts.filter(Q(closed_at__isnull=True) | Q(closed_at__gt=now)).exists()


def issue_code_card(
    client: Client,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> SecurityDevice:
    """D5: a new Security Code Card for a verified caller.

    Raises devices.flows.DeviceConflict (and records nothing) when the
    client already has an active device, or has no open account (A8).
    """
    if not _has_open_account(client, now):
        raise device_flows.DeviceConflict(
            _(
                "All of this client's accounts are closed: a closed account logs in with its username and "
                "password only, to view and print its statements and tax forms (A8). No card is issued."
            )
        )
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        return device_flows.issue_code_card(client, agent=agent, now=now, request=request, verification=verification)


def decide_change_request(
    change: ChangeRequest,
    *,
    approve: bool,
    reason: str,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> ChangeRequest:
    """B2: approve (and apply) or reject a client's pending change, audited,
    with the identity verification of the call-back (L5). Raises
    accounts.changes.ChangeConflict (and records nothing) when it was decided already."""
    with transaction.atomic():
        verification = _verification_for(change.client, new_verification, agent=agent, now=now, request=request)
        return changes.decide(
            change.pk, approve=approve, reason=reason, agent=agent, verification=verification, now=now, request=request
        )


def _reported_sentence(status: str, device: SecurityDevice) -> str:
    """The e-mail's first sentence: what the client told us (one sentence per
    reason, so that each language can agree its words)."""
    values = {"device": device.get_type_display(), "serial": device.serial}
    if status == DeviceStatus.LOST:
        return _("As you told our Customer Service, your %(device)s with serial number %(serial)s is lost.") % values
    if status == DeviceStatus.STOLEN:
        return _("As you told our Customer Service, your %(device)s with serial number %(serial)s was stolen.") % values
    if status == DeviceStatus.UNAVAILABLE:
        return (
            _(
                "As you told our Customer Service, your %(device)s with serial number %(serial)s is not with you "
                "for a while."
            )
            % values
        )
    return _("As you told our Customer Service, your %(device)s with serial number %(serial)s is damaged.") % values


def report_device(
    device: SecurityDevice,
    status: str,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> list[str]:
    """D5, T6, SECURITY.md 5: a verified caller reports their device lost,
    stolen or damaged. The device stops working, the sessions that rode on
    it end, the client is told by e-mail what to do next; one transaction
    with its audit event. Raises devices.flows.DeviceConflict (and records
    nothing) for a device that is not active."""
    client = device.client
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        usernames = device_flows.report_device(
            device, status, agent=agent, now=now, verification=verification, request=request
        )
        # In the client's language, not the agent's; if the mail cannot be
        # sent, the report rolls back with it.
        with translation.override(client.language or settings.LANGUAGE_CODE):
            context = {
                "client": client,
                "reported": _reported_sentence(status, device),
                "phones": client.region.phones,
            }
            send_mail(
                subject=_("Your security device no longer works"),
                message=render_to_string("admin/devices/device_reported_email.txt", context),
                from_email=None,
                recipient_list=[client.email],
            )
    return usernames


def order_device(
    client: Client,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> DeviceOrder:
    """D1-D6: order the device the client's equity gets (a replacement of a
    device reported lost, stolen or damaged, or one for a return), for a
    verified caller. Raises OrderRefused (and records nothing) when a rule
    forbids it."""
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        return device_orders.place(client, now=now, agent=agent, verification=verification, request=request).order


def mark_order_shipped(
    order: DeviceOrder,
    *,
    serial: str,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> DeviceOrder:
    """D1: record the shipment, with the serial number read off the device."""
    with transaction.atomic():
        verification = _verification_for(order.client, new_verification, agent=agent, now=now, request=request)
        return device_orders.mark_shipped(
            order, serial=serial, now=now, agent=agent, verification=verification, request=request
        )


def record_return_receipt(
    device_return: DeviceReturn,
    *,
    agent: User,
    now: datetime,
    notes: str = "",
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> return_flows.Receipt:
    """T3, T5: the returned device has arrived; the replacement follows by
    type and equity (D5, D6). Raises ReturnRefused (and records nothing)
    when its receipt is recorded already."""
    with transaction.atomic():
        verification = _verification_for(device_return.client, new_verification, agent=agent, now=now, request=request)
        return return_flows.record_receipt(
            device_return, agent=agent, verification=verification, now=now, notes=notes, request=request
        )


def _verification_if_on_call(
    client: Client,
    new: NewVerification | None,
    *,
    on_call: bool,
    agent: User,
    now: datetime,
    request: HttpRequest | None,
) -> IdentityVerification | None:
    """A charge is the agent's decision; acting for a caller on the phone
    needs the caller verified (L5), like every other action for a caller."""
    if new is None and not on_call:
        return None
    return _verification_for(client, new, agent=agent, now=now, request=request)


def charge_device(
    device: SecurityDevice,
    reason: str,
    *,
    agent: User,
    now: datetime,
    on_call: bool,
    account=None,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> DeviceCharge:
    """T6: charge a device's cost to its client's account. Raises
    ChargeRefused (and records nothing) for a device charged already or a
    type without a charge."""
    with transaction.atomic():
        verification = _verification_if_on_call(
            device.client, new_verification, on_call=on_call, agent=agent, now=now, request=request
        )
        return return_charges.create_charge(
            device, reason, agent=agent, now=now, account=account, verification=verification, request=request
        )


def waive_device_charge(
    charge: DeviceCharge,
    *,
    reason: str,
    agent: User,
    now: datetime,
    on_call: bool,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> DeviceCharge:
    """T6: waive a charge with a reason. Raises ChargeRefused (and records
    nothing) when it is waived already or the reason is missing."""
    with transaction.atomic():
        verification = _verification_if_on_call(
            charge.account.client, new_verification, on_call=on_call, agent=agent, now=now, request=request
        )
        return return_charges.waive_charge(
            charge, reason=reason, agent=agent, now=now, verification=verification, request=request
        )


PASSCODE_REVOKED = "passcode.revoked"


class PasscodeAlreadyShown(Exception):
    """Principle 4: the form was submitted again (a reload, the back button,
    a double click) after it issued a passcode, which was shown once. Nothing
    is issued and the code is not shown again."""

    def __init__(self, passcode: TemporaryPasscode) -> None:
        super().__init__(passcode.pk)
        self.passcode = passcode


def issue_temporary_passcode(
    client: Client,
    users: list[User],
    *,
    device_status: str,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
    form_opened_at: datetime | None = None,
) -> passcode_issuing.Issued:
    """A2, L4, SECURITY.md 14-15: a temporary passcode for the chosen usernames
    of a verified caller, after recording what became of the permanent device.

    The clear code is in the result only, for the agent to read out once.
    Raises (and records nothing) VerificationRequired, PasscodeRefused (a
    username not the client's, a closed account) or PasscodeAlreadyShown
    (this agent issued one for this client since `form_opened_at`)."""
    if not _has_open_account(client, now):
        raise PasscodeRefused(
            _(
                "All of this client's accounts are closed: a closed account logs in with its username and "
                "password only, to view and print its statements and tax forms (A8). No passcode is issued."
            )
        )
    with transaction.atomic():
        # Two submissions of one form take turns; the second finds the first's passcode.
        Client.objects.select_for_update().filter(pk=client.pk).exists()
        if form_opened_at is not None:
            earlier = (
                TemporaryPasscode.objects.filter(client=client, issued_by=agent, issued_at__gte=form_opened_at)
                .order_by("-issued_at", "-pk")
                .first()
            )
            if earlier is not None:
                raise PasscodeAlreadyShown(earlier)
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        return passcode_issuing.issue(
            client,
            users,
            device_status=device_status,
            agent=agent,
            verification=verification,
            now=now,
            request=request,
        )


def revoke_passcode(
    passcode: TemporaryPasscode,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> None:
    """SECURITY.md 5: end a temporary passcode before its time, for a verified
    caller. It opens nothing from now on, and a session that rode on it ends
    at its next request (its access scope is derived from `ended_at`).
    Raises PasscodeRefused (and records nothing) when it had ended already."""
    with transaction.atomic():
        verification = _verification_for(passcode.client, new_verification, agent=agent, now=now, request=request)
        ended = TemporaryPasscode.objects.filter(pk=passcode.pk, ended_at__isnull=True).update(
            ended_at=now, ended_reason=EndReason.REVOKED
        )
        if not ended:
            raise PasscodeRefused(_("This temporary passcode has ended already: there is nothing to revoke."))
        trail.record(
            PASSCODE_REVOKED,
            request=request,
            actor=agent,
            client=passcode.client,
            username=passcode.user.username,
            verification=verification,
            rule="SEC5",
            details={"passcode": passcode.pk},
            at=now,
        )


def open_account(
    client: Client,
    *,
    username: str,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
):
    """C5: open the account of a verified applicant on file: a username, an
    unfunded account, an online card and the e-mail telling how to use it.
    Raises OpeningRefused (nothing written) when the username will not do."""
    with transaction.atomic():
        verification = _verification_for(client, new_verification, agent=agent, now=now, request=request)
        return applicants.open_account_for(
            client, username=username, now=now, agent=agent, verification=verification, request=request
        )


def fund_account(account, equity_usd, *, agent: User, now: datetime, request: HttpRequest | None = None):
    """C5, D8: record the account's first funding; a new applicant's device is ordered."""
    return applicants.fund_account(account, equity_usd, now=now, agent=agent, request=request)


def cancel_order(
    order: DeviceOrder,
    *,
    agent: User,
    now: datetime,
    request: HttpRequest | None = None,
    new_verification: NewVerification | None = None,
) -> DeviceOrder:
    """Cancel a device order for a verified caller, until its device is
    activated; the device never activates (it is revoked in the same
    transaction). Raises OrderRefused (and records nothing) when it cannot."""
    with transaction.atomic():
        verification = _verification_for(order.client, new_verification, agent=agent, now=now, request=request)
        return device_orders.cancel(order, now=now, agent=agent, verification=verification, request=request)
