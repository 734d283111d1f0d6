"""A8: an agent closes an account.

The closure is one transaction: the account's row (locked, so two agents
closing it at once close it once), the `account_closed` signal's receivers
(accounts/signals.py) and the audit event. A closed account stays: its
records make its statements and tax forms, which its client can still log
in to see (login/scopes.py derives the narrowed scope from closed_at and
now on every request).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from audit import trail

from .models import Account, IdentityVerification, User, open_accounts
from .signals import account_closed


class ClosureRefused(Exception):
    """The account cannot be closed (already closed, no reason); the message
    says why, and nothing was written."""


def clean_reason(reason: str) -> str:
    """The agent's reason for the closure: required, bounded."""
    reason = (reason or "").strip()
    limit = settings.SLS["CLOSURE_REASON_MAX_LENGTH"]
    if not reason:
        raise ClosureRefused(_("Give the reason for the closure, for example: the client asked to close it."))
    if len(reason) > limit:
        raise ClosureRefused(
            _("The reason is too long: at most %(limit)d characters (it has %(length)d).")
            % {"limit": limit, "length": len(reason)}
        )
    return reason


def refuse_if_closed(account: Account) -> None:
    """A closed account is not closed again: the message says when it was."""
    if account.closed_at is not None:
        raise ClosureRefused(
            _("Account %(number)s was already closed on %(when)s. Nothing was written.")
            % {"number": account.number, "when": f"{account.closed_at:%Y-%m-%d %H:%M} UTC"}
        )


def close(
    account: Account,
    *,
    reason: str,
    agent: User,
    verification: IdentityVerification,
    now: datetime,
    request: HttpRequest | None = None,
) -> Account:
    """Close `account` at `now`. Raises ClosureRefused (and writes nothing,
    inside the caller's transaction too) when it is closed already."""
    reason = clean_reason(reason)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        refuse_if_closed(locked)
        locked.closed_at, locked.closure_reason = now, reason
        locked.closed_by, locked.closure_verification = agent, verification
        locked.save(update_fields=["closed_at", "closure_reason", "closed_by", "closure_verification"])
        client_closed = not Account.objects.filter(open_accounts(now), client_id=locked.client_id).exists()
        account_closed.send(
            sender=Account,
            account=locked,
            client_closed=client_closed,
            agent=agent,
            verification=verification,
            now=now,
            request=request,
        )
        trail.record(
            "account.closed",
            request=request,
            actor=agent,
            client_id=locked.client_id,
            verification=verification,
            rule="A8",
            details={"account": locked.number, "reason": reason, "client_closed": client_closed},
            at=now,
        )
    return locked
