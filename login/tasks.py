from celery import shared_task
from django.utils import timezone

from . import lockout


@shared_task(name="login.tasks.lift_expired_lockouts")
def lift_expired_lockouts() -> int:
    """J1: record the L3 locks whose 24 hours have passed."""
    return lockout.record_lifted_locks(timezone.now())
