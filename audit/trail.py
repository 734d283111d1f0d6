"""The audit trail (ARCHITECTURE.md principle 7, SECURITY.md 20-21).

`record()` is the one way an event is written. Events go to the database
(append-only, read-only in the admin) and to the `sls.audit` logger as one
JSON object per line, so a username with a newline cannot forge a line.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.utils import timezone

from . import rows
from .models import AuditEvent

if TYPE_CHECKING:
    from accounts.models import Client, IdentityVerification, User

logger = logging.getLogger("sls.audit")


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address. A trusted proxy sets REMOTE_ADDR (see docs/operations.md)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    client: Client | None = None,
    client_id: int | None = None,
    username: str = "",
    verification: IdentityVerification | None = None,
    outcome: str = "ok",
    rule: str = "",
    details: dict[str, Any] | None = None,
    at=None,
) -> AuditEvent:
    user = getattr(request, "user", None)
    if actor is None and user is not None and user.is_authenticated and user.is_staff:
        actor = user
    event = AuditEvent(
        at=at or timezone.now(),
        action=action,
        outcome=outcome,
        actor=actor,
        client=client,
        username=username[:64],
        ip=client_ip(request),
        verification=verification,
        rule=rule,
        details=details or {},
    )
    # Append-only: one INSERT.
    if client is None and client_id is not None:
        event.client_id = client_id  # the login knows the id; loading the client would cost a query
    rows.insert(event)  # the ORM's INSERT, written once: every login writes events
    log(event)
    return event


def log(event: AuditEvent) -> None:
    logger.info(
        json.dumps(
            {
                "at": event.at.isoformat(),
                "action": event.action,
                "outcome": event.outcome,
                "actor": event.actor_id,
                "client": event.client_id,
                "username": event.username,
                "ip": event.ip,
                "verification": event.verification_id,
                "rule": event.rule,
            },
            ensure_ascii=True,
        )
    )
