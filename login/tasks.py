"""The login app's Celery tasks: each calls one plain function (STYLE.md)."""

from celery import shared_task
from django.utils import timezone

from . import jobs, retention


@shared_task(name="login.tasks.lift_expired_lockouts")
def lift_expired_lockouts() -> int:
    """J1: record the L3 locks whose 24 hours have passed."""
    return jobs.record_lifted_locks(timezone.now())


@shared_task(name="login.tasks.prune_login_records")
def prune_login_records() -> dict[str, int]:
    """Delete the pending logins, sessions and attempts past their retention."""
    return retention.prune(timezone.now())
