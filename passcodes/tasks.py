"""The passcodes app's Celery task: one plain function (STYLE.md)."""

from celery import shared_task
from django.utils import timezone

from . import jobs


@shared_task(name="passcodes.tasks.sweep_interim_access")
def sweep_interim_access() -> dict[str, int]:
    """J1: passcodes full -> restricted -> expired, card warnings and expiry."""
    return jobs.sweep(timezone.now())
