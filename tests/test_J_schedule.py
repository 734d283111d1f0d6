"""J1: the beat schedules the lockout job and it runs through a real broker
(CI: the machine's Redis; elsewhere kombu's memory transport, the worker in a
thread). J2: a lock lifts by the clock, whether or not the job ran."""

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
from tests.conftest import (
    PASSWORD,
    assert_logs_in,
    attempt,
    fail,
)


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


def test_J2_expired_lock_is_lifted_for_logins_without_the_job(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=24))
    assert_logs_in(web, alice)
    assert LoginGuard.objects.get(username="alice").lift_recorded_for is None
    assert not AuditEvent.objects.filter(action="lockout.lifted").exists()


def test_J2_lock_still_holds_just_before_its_end_without_the_job(web, alice, clock):
    fail(web, "alice", 10)
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    assert attempt(web, "alice", PASSWORD).status_code == 403
