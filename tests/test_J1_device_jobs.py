"""J1, J2 for ordered devices: the job is idempotent, safe on three workers
at once (PostgreSQL), and costs a constant number of queries per batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import Account, Client
from devices import jobs, orders
from devices.models import DeviceOrder, DeviceStatus, Notice, SecurityDevice


def _due_orders(count: int, *, shipped: bool = True) -> list[DeviceOrder]:
    made = []
    now = timezone.now()
    for index in range(count):
        person = Client.objects.create(
            first_name=f"C{index}",
            last_name="Due",
            email=f"c{index}@example.com",
            phone="+1 203 555 0100",
            address="1 Main St",
            country="US",
        )
        Account.objects.create(number=f"UD{person.pk:07d}", client=person, equity_usd="100.00", funded_at=now)
        order = orders.place(person, now=now).order
        if shipped:
            DeviceOrder.objects.filter(pk=order.pk).update(shipped_at=now)
        made.append(order)
    return made


def test_J1_job_run_twice_activates_and_mails_once(db, clock):
    made = _due_orders(3)
    clock.move_to(made[0].auto_activates_at - timedelta(days=2))  # delivery day
    first = jobs.sweep(timezone.now())
    assert first == {"reminders": 3, "activated": 0, "sent": 3}
    assert jobs.sweep(timezone.now()) == {"reminders": 0, "activated": 0, "sent": 0}
    clock.move_to(made[0].auto_activates_at)
    assert jobs.sweep(timezone.now()) == {"reminders": 0, "activated": 3, "sent": 3}
    assert jobs.sweep(timezone.now()) == {"reminders": 0, "activated": 0, "sent": 0}
    assert len(mail.outbox) == 6
    assert sorted(m.to[0] for m in mail.outbox) == sorted([f"c{i}@example.com" for i in range(3)] * 2)
    assert SecurityDevice.objects.filter(status=DeviceStatus.ACTIVE).count() == 3


def test_J1_batches_cover_every_row(db, clock):
    made = _due_orders(5)
    clock.move_to(made[0].auto_activates_at)
    assert jobs.sweep(timezone.now(), batch_size=2)["activated"] == 5
    assert Notice.objects.filter(sent_at__isnull=True).count() == 0


def test_J1_job_query_count_is_constant(db, clock, django_assert_max_num_queries):
    """With a batch of 2, 2 and 6 due devices cost the same (a ceiling per run
    of batches, each a fixed number of statements): the count does not grow
    with the rows inside a batch."""
    made = _due_orders(2)
    clock.move_to(made[0].auto_activates_at)
    with django_assert_max_num_queries(20) as small:
        jobs.sweep(timezone.now(), batch_size=10)
    made = _due_orders(8)
    clock.move_to(made[0].auto_activates_at)
    with django_assert_max_num_queries(20) as large:
        jobs.sweep(timezone.now(), batch_size=10)
    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(9):
        jobs.sweep(timezone.now(), batch_size=10)  # nothing due


def test_J1_beat_schedules_the_device_job():
    entry = settings.CELERY_BEAT_SCHEDULE["device-order-sweep"]
    assert entry["task"] == "devices.tasks.sweep_device_orders"
    from devices.tasks import sweep_device_orders

    assert sweep_device_orders.name == entry["task"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_J1_three_workers_at_once_activate_each_once_and_mail_once(postgresql, clock):
    from tests.conftest import run_at_once

    made = _due_orders(12)
    clock.move_to(made[0].auto_activates_at - timedelta(days=2))
    results = run_at_once(3, lambda _i: jobs.sweep(timezone.now(), batch_size=3))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r["reminders"] for r in results) == 12
    clock.move_to(made[0].auto_activates_at)
    results = run_at_once(3, lambda _i: jobs.sweep(timezone.now(), batch_size=3))
    assert not [r for r in results if isinstance(r, BaseException)], results
    jobs.sweep(timezone.now(), batch_size=3)  # whatever a worker left for the next run
    assert SecurityDevice.objects.filter(status=DeviceStatus.ACTIVE).count() == 12
    assert Notice.objects.count() == 24
    assert len(mail.outbox) == 24
    to = sorted(m.to[0] for m in mail.outbox)
    assert to == sorted([f"c{i}@example.com" for i in range(12)] * 2)


def test_J1_only_the_due_devices_activate(db, clock):
    made = _due_orders(2)
    clock.shift(timedelta(days=1))
    later = _due_orders(1)[0]  # due a day after the others
    clock.move_to(made[0].auto_activates_at)
    assert jobs.activate_due(timezone.now(), 10) == 2
    assert SecurityDevice.objects.get(pk=later.device_id).status == DeviceStatus.ISSUED
    assert not Notice.objects.filter(object_key=f"device:{later.device_id}").exists()
    clock.move_to(later.auto_activates_at - timedelta(seconds=1))
    assert jobs.activate_due(timezone.now(), 10) == 0
    clock.move_to(later.auto_activates_at)
    assert jobs.activate_due(timezone.now(), 10) == 1
