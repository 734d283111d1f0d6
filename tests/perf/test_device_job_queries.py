"""J1 for ordered devices (D3): the auto-activation job costs a constant
number of statements, whatever the number of due devices in a batch
(benchmarks/jobs.py measures it at 100,000 on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Client
from devices import jobs
from devices.models import DeviceOrder, DeviceStatus, DeviceType, Notice, SecurityDevice

BATCH = 1000
# One batch: one statement on PostgreSQL; a claim, the revocation, the
# activation and the notices elsewhere (SQLite). A batch not full ends the
# run. The receivers of devices_activated (the interim credentials ending
# with it, A6) add their own, set-based: counted apart.
STATEMENTS = {"postgresql": 1, "sqlite": 4}


def _counted(run: CaptureQueriesContext, *, own: bool = True) -> int:
    """The statements, without the savepoints of the test's own transaction;
    `own`: the job's own (on the devices' tables) only."""
    queries = [q["sql"] for q in run.captured_queries if "SAVEPOINT" not in q["sql"]]
    return len([q for q in queries if "devices_" in q]) if own else len(queries)


def _due(count: int, prefix: str, *, replacing: bool = False) -> None:
    """`count` clients each with an ordered device due an hour ago, in bulk;
    with `replacing`, each also has the active device it replaces."""
    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(
                first_name=f"{prefix}{i}",
                last_name="Due",
                email=f"{prefix}{i}@example.com",
                phone="+1",
                address="1 Main St",
                country="US",
            )
            for i in range(count)
        ]
    )
    devices = []
    for i, person in enumerate(clients):
        device = SecurityDevice(
            client=person,
            type=DeviceType.CODE_CARD,
            serial=f"{prefix}{i:08d}",
            status=DeviceStatus.ISSUED,
            auto_activates_at=now - timedelta(hours=1),
            seed_encrypted="x",
        )
        devices.append(device)
        if replacing:
            devices.append(
                SecurityDevice(
                    client=person,
                    type=DeviceType.CODE_CARD,
                    serial=f"{prefix}O{i:07d}",
                    status=DeviceStatus.ACTIVE,
                    seed_encrypted="x",
                )
            )
    devices = SecurityDevice.objects.bulk_create(devices)
    DeviceOrder.objects.bulk_create(
        [
            DeviceOrder(
                client=device.client,
                device_type=device.type,
                equity_usd=500,
                device=device,
                shipping_address="1 Main St",
                shipping_country="US",
                shipping_method="domestic_priority",
                requested_at=now - timedelta(days=6),
                finalised_at=now - timedelta(days=6),
                projected_ship_at=now - timedelta(days=5),
                shipped_at=now - timedelta(days=5),
                projected_delivery_at=now - timedelta(days=2, hours=1),
            )
            for device in devices
            if device.status == DeviceStatus.ISSUED
        ]
    )


def _statements(count: int, prefix: str, *, own: bool = True, **kw) -> int:
    _due(count, prefix, **kw)
    with CaptureQueriesContext(connection) as run:
        assert jobs.activate_due(timezone.now(), BATCH) == count
    return _counted(run, own=own)


@pytest.mark.django_db
def test_J1_D3_auto_activation_costs_the_same_statements_for_50_and_500_due():
    small = _statements(50, "s", own=False)
    large = _statements(500, "l", own=False)
    assert small == large, (small, large)  # the receivers' included
    assert _statements(50, "o") == STATEMENTS[connection.vendor]
    assert SecurityDevice.objects.filter(status=DeviceStatus.ACTIVE).count() == 600
    assert Notice.objects.filter(event=jobs.ACTIVATED).count() == 600


@pytest.mark.django_db
def test_J1_D3_replacements_cost_no_more_statements_and_revoke_what_they_replace():
    assert _statements(50, "r", replacing=True) == STATEMENTS[connection.vendor]
    assert SecurityDevice.objects.filter(status=DeviceStatus.REVOKED).count() == 50
    assert SecurityDevice.objects.filter(status=DeviceStatus.ACTIVE, serial__startswith="r0").count() == 50


@pytest.mark.django_db
def test_J1_D3_batches_cost_a_fixed_number_of_statements_each():
    _due(250, "b")
    with CaptureQueriesContext(connection) as run:
        assert jobs.activate_due(timezone.now(), 100) == 250
    assert _counted(run) == 3 * STATEMENTS[connection.vendor]  # 100, 100, 50
    assert _counted(run, own=False) % 3 == 0  # each batch the same, receivers included
    with CaptureQueriesContext(connection) as idle:
        assert jobs.activate_due(timezone.now(), 100) == 0
    assert _counted(idle) == 1  # nothing due: one claim
