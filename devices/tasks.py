"""The devices app's Celery tasks: each calls one plain function (STYLE.md)."""

from celery import shared_task
from django.utils import timezone

from . import jobs


@shared_task(name="devices.tasks.sweep_device_orders")
def sweep_device_orders() -> dict[str, int]:
    """J1, D3: delivery-day reminders, auto-activations, and the outbox."""
    return jobs.sweep(timezone.now())
