"""J1 through a real broker: the beat's task reaches a worker and does its work.

In CI the broker is the machine's Redis (CELERY_BROKER_URL); elsewhere it is
kombu's in-memory transport. The worker runs in a thread of this process.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from login.models import LoginGuard
from login.tasks import lift_expired_lockouts
from sls_portal.celery import app


@pytest.fixture
def real_broker():
    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = True


def test_J1_beat_schedules_the_lockout_job():
    entry = settings.CELERY_BEAT_SCHEDULE["lift-expired-lockouts"]
    assert entry["task"] == lift_expired_lockouts.name
    assert entry["schedule"] <= timedelta(minutes=15)


@pytest.mark.django_db(transaction=True)
def test_J1_lockout_job_runs_through_the_broker(real_broker):
    """J1: the task sent through the broker records the lifted lock once."""
    now = timezone.now()
    LoginGuard.objects.create(username="carla", locked_until=now - timedelta(minutes=1))
    finished = threading.Event()

    def on_done(sender=None, **kwargs):
        if sender is not None and sender.name == lift_expired_lockouts.name:
            finished.set()

    task_postrun.connect(on_done, weak=False)
    try:
        with start_worker(real_broker, perform_ping_check=False, shutdown_timeout=30):
            lift_expired_lockouts.delay()
            assert finished.wait(timeout=30), "the worker did not run the task"
    finally:
        task_postrun.disconnect(on_done)
    assert AuditEvent.objects.filter(action="lockout.lifted", username="carla").count() == 1
