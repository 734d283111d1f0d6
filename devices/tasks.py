"""The devices app's Celery tasks: each calls one plain function (STYLE.md)."""

from celery import shared_task
from django.utils import timezone

from . import jobs


@shared_task(name="devices.tasks.sweep_device_orders")
def sweep_device_orders() -> dict[str, int]:
    """J1, D3: delivery-day reminders, auto-activations, and the outbox."""
    return jobs.sweep(timezone.now())


@shared_task(name="devices.tasks.send_outbox")
def send_outbox() -> int:
    """The outbox alone, asked for when a notice must go at once."""
    from django.conf import settings

    return jobs.send_notices(timezone.now(), settings.SLS["JOB_BATCH_SIZE"])
