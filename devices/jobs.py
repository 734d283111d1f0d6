"""J1: the job of ordered devices (D3) and its outbox.

Logins never wait for it (J2): a device whose `auto_activates_at` has
passed is offered at step 2 from that instant (`live_device`). The job only
persists what that rule already says, and sends the notices:

1. the reminder on the projected delivery date, for each shipped order whose
   device is still waiting (D3): one `Notice` row per order;
2. the auto-activation: each due ISSUED device becomes ACTIVE (the client's
   earlier active device is revoked first, in the same transaction, so
   `one_active_device_per_client` holds), and one `Notice` row per device;
   its order is activated by its timestamps already (`DeviceOrder.status`),
   and the apps above hear of it (`devices_activated`) in the same transaction;
3. the outbox: unsent notices are claimed, e-mailed and marked sent; among
   them the two the returns app queues when a returned device is received
   (D5's Platinum invitation, D6's replacement ordered), written here.

Set-based and safe on several workers (ARCHITECTURE.md principle 5): every
step works in batches of a fixed size; a batch claims its rows with
SELECT .. FOR UPDATE SKIP LOCKED (two workers take different rows), writes
them with conditional UPDATEs (`WHERE status = 'issued'`), and the notices
carry a unique key (event, object), written with ON CONFLICT DO NOTHING, so
a second run, or three workers at once, activate each device once and send
each notice once. A batch costs a fixed number of statements, whatever its
size (an auto-activation batch is one statement on PostgreSQL). An e-mail is sent inside its batch's transaction, before the mark
commits: a crash between the two can repeat that one e-mail, never lose it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _

from .models import DeviceOrder, DeviceStatus, Notice, SecurityDevice
from .signals import devices_activated

REMINDER = "device.delivery_reminder"
ACTIVATED = "device.auto_activated"
# Queued when an agent records the receipt of a returned device (T5, the
# returns app): D5's invitation to request a Platinum replacement in the
# portal (object: the returned device), or D6's replacement ordered without
# a web step (object: the order).
INVITATION = "device.replacement_invitation"
REPLACEMENT_ORDERED = "device.replacement_ordered"


def _reminders_sql(now: datetime, batch_size: int) -> tuple[str, list]:
    """One INSERT .. SELECT of the next batch of due reminders (PostgreSQL and SQLite)."""
    notice, order, device = Notice._meta.db_table, DeviceOrder._meta.db_table, SecurityDevice._meta.db_table
    statement = f"""
        INSERT INTO {notice} (event, object_key, client_id, created_at, sent_at)
        SELECT %s, 'order:' || o.id, o.client_id, %s, NULL
        FROM {order} AS o JOIN {device} AS d ON d.id = o.device_id
        WHERE d.status = %s AND d.auto_activates_at IS NOT NULL AND d.auto_activates_at > %s
          AND o.shipped_at IS NOT NULL AND o.projected_delivery_at <= %s
          AND o.cancelled_at IS NULL AND o.activated_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM {notice} AS n WHERE n.event = %s AND n.object_key = 'order:' || o.id
          )
        ORDER BY o.projected_delivery_at
        LIMIT %s
        ON CONFLICT (event, object_key) DO NOTHING
    """  # noqa: S608 (table names from the models, values as parameters)
    return statement, [REMINDER, now, DeviceStatus.ISSUED, now, now, REMINDER, batch_size]


def queue_reminders(now: datetime, batch_size: int) -> int:
    """D3: one reminder per shipped order whose projected delivery date has come."""
    queued = 0
    while True:
        statement, params = _reminders_sql(now, batch_size)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
            written = cursor.rowcount
        queued += written
        if written < batch_size:
            return queued


def _due_devices(now: datetime):
    # The partial index device_auto_activation_due's own predicate: the
    # claim reads only the ordered devices still waiting, oldest first.
    return SecurityDevice.objects.filter(
        status=DeviceStatus.ISSUED, auto_activates_at__isnull=False, auto_activates_at__lte=now
    ).order_by("auto_activates_at")


def activation_batch_sql(now: datetime, batch_size: int) -> tuple[str, list]:
    """PostgreSQL: one batch of auto-activations as ONE statement, returning
    how many devices it claimed. The claim is the ORM's own SQL for
    `_due_devices` with FOR UPDATE SKIP LOCKED; the revocation of the
    devices they replace runs to its end before the first activation (the
    activation's condition reads its count), so one_active_device_per_client
    holds; the notices are inserted from the devices activated. Every
    column is named with its table: an unqualified name missing from a CTE
    would silently mean the outer row's."""
    claim, claim_params = _due_devices(now).values("pk", "client_id")[:batch_size].query.sql_with_params()
    device, notice = SecurityDevice._meta.db_table, Notice._meta.db_table
    statement = f"""
        WITH claimed AS ({claim} FOR UPDATE SKIP LOCKED),
        revoked AS (
            UPDATE {device} AS old SET status = %s, deactivated_at = %s
            WHERE old.client_id = ANY(ARRAY(SELECT claimed.client_id FROM claimed)) AND old.status = %s
            RETURNING old.id
        ),
        activated AS (
            UPDATE {device} AS new SET status = %s, activated_at = %s
            WHERE new.id = ANY(ARRAY(SELECT claimed.pk FROM claimed)) AND new.status = %s
              AND (SELECT count(*) FROM revoked) >= 0
            RETURNING new.id, new.client_id
        ),
        noticed AS (
            INSERT INTO {notice} (event, object_key, client_id, created_at, sent_at)
            SELECT %s, 'device:' || activated.id, activated.client_id, %s, NULL FROM activated
            ON CONFLICT (event, object_key) DO NOTHING
        )
        SELECT (SELECT count(*) FROM claimed), ARRAY(SELECT activated.client_id FROM activated)
    """  # noqa: S608 (table names from the models, the claim from the ORM, values as parameters)
    params = [
        *claim_params,
        DeviceStatus.REVOKED,
        now,
        DeviceStatus.ACTIVE,
        DeviceStatus.ACTIVE,
        now,
        DeviceStatus.ISSUED,
        ACTIVATED,
        now,
    ]
    return statement, params


def _activate_batch_sql(now: datetime, batch_size: int) -> tuple[int, list[int]]:
    statement, params = activation_batch_sql(now, batch_size)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        claimed, clients = cursor.fetchone()
    return claimed, list(clients)


def _activate_batch_orm(now: datetime, batch_size: int) -> tuple[int, list[int]]:
    """The same batch where there are no data-modifying CTEs (SQLite, the
    demo database, which serialises writers): four statements, inside
    activate_due's transaction."""
    claimed = list(_due_devices(now).select_for_update(skip_locked=True).values_list("pk", "client_id")[:batch_size])
    if not claimed:
        return 0, []
    ids = [pk for pk, _client in claimed]
    # The device it replaces stops first (D5; the constraint holds).
    SecurityDevice.objects.filter(
        client_id__in={client for _pk, client in claimed}, status=DeviceStatus.ACTIVE
    ).exclude(pk__in=ids).update(status=DeviceStatus.REVOKED, deactivated_at=now)
    SecurityDevice.objects.filter(pk__in=ids, status=DeviceStatus.ISSUED).update(
        status=DeviceStatus.ACTIVE, activated_at=now
    )
    marks = ", ".join(["%s"] * len(ids))
    statement = f"""
        INSERT INTO {Notice._meta.db_table} (event, object_key, client_id, created_at, sent_at)
        SELECT %s, 'device:' || id, client_id, %s, NULL FROM {SecurityDevice._meta.db_table}
        WHERE id IN ({marks}) AND status = %s
        ON CONFLICT (event, object_key) DO NOTHING
    """  # noqa: S608 (table names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(statement, [ACTIVATED, now, *ids, DeviceStatus.ACTIVE])
    # SQLite serialises writers: every device claimed was activated.
    return len(claimed), [client for _pk, client in claimed]


def activate_due(now: datetime, batch_size: int) -> int:
    """D3: persist the auto-activation of every device whose time has come.

    Only the device's status is written (the login reads it, J2) with its
    notice; the order is not: `DeviceOrder.status(now)` derives "activated"
    from `auto_activates_at` (principle 1), and the order's `activated_at`
    records the client's own activation (R1). Each batch is its own
    transaction: one statement on PostgreSQL, four elsewhere, then the
    receivers of `devices_activated` (set-based: a fixed number each)."""
    activate_batch = _activate_batch_sql if connection.vendor == "postgresql" else _activate_batch_orm
    activated = 0
    while True:
        with transaction.atomic():
            claimed, clients = activate_batch(now, batch_size)
            if clients:
                # A6, C5: the interim credentials of these clients end with it.
                devices_activated.send(sender=SecurityDevice, client_ids=sorted(set(clients)), now=now)
        activated += len(clients)
        if claimed < batch_size:
            return activated


def _message(notice: Notice, order: DeviceOrder | None, device: SecurityDevice | None) -> tuple[str, str]:
    client = notice.client
    device_name = device.get_type_display() if device else ""
    serial = device.serial if device else ""
    if notice.event == INVITATION:
        subject = _("Request your new Platinum token")
        body = _(
            "Dear %(name)s,\n\nwe have received your %(device)s (serial number %(serial)s) back. The equity of "
            "your accounts still qualifies for a Platinum token: log in to Account Management and request it at "
            "Settings > Security > Secure Login System.\n\n"
            "The confirmation page then shows the PIN and the passphrase that activate your new token. They are "
            "shown only once: print the page and keep it until the new token is active."
        ) % {"name": client.first_name, "device": device_name, "serial": serial}
        return str(subject), str(body)
    if notice.event == REPLACEMENT_ORDERED and order is not None:
        returned = order.replaces
        subject = _("Your replacement security device is ordered")
        body = _(
            "Dear %(name)s,\n\nwe have received your %(returned)s (serial number %(serial)s) back and ordered a "
            "%(device)s for you, the device the equity of your accounts gets. It is sent to your address of "
            "record; its projected delivery date is %(date)s."
        ) % {
            "name": client.first_name,
            "returned": returned.get_type_display() if returned else "",
            "serial": returned.serial if returned else "",
            "device": order.get_device_type_display(),
            "date": formats.date_format(order.projected_delivery_at, "DATE_FORMAT"),
        }
        if order.finalised_at is None:
            body += "\n\n" + _(
                "To finish the order, log in to Account Management and create the PIN of your new device at "
                "Settings > Security > Secure Login System."
            )
        return str(subject), str(body)
    if notice.event == REMINDER and order is not None:
        subject = _("Your security device should arrive today")
        body = _(
            "Dear %(name)s,\n\nyour %(device)s (serial number %(serial)s) should be delivered today. "
            "When it arrives, log in and open Settings > Security > Secure Login System > "
            '"Activate my new/current secure login device".\n\n'
            "If you do not activate it, it activates itself on %(date)s; from then on it is asked at every login."
        ) % {
            "name": client.first_name,
            "device": device_name,
            "serial": serial,
            "date": formats.date_format(order.auto_activates_at, "DATE_FORMAT"),
        }
    else:
        subject = _("Your security device is now active")
        body = _(
            "Dear %(name)s,\n\nyour %(device)s (serial number %(serial)s) has activated itself: from now on it "
            "is asked at every login.\n\nIf you have not received it, call our Customer Service at once."
        ) % {"name": client.first_name, "device": device_name, "serial": serial}
    return str(subject), str(body)


# The outbox serves every app: an app above this one registers, for each of
# its events, how to load the objects of a batch of notices at once
# (object keys -> objects) and how to word one notice. The devices' own
# events are registered below.
Loader = Callable[[list[str]], dict]
Wording = Callable[[Notice, object], tuple[str, str]]
_wordings: dict[str, tuple[Loader, Wording]] = {}


def register_notice(event: str, *, load: Loader, word: Wording) -> None:
    _wordings[event] = (load, word)


def _load_orders_and_devices(keys: list[str]) -> dict:
    order_ids = [int(key.split(":")[1]) for key in keys if key.startswith("order:")]
    device_ids = [int(key.split(":")[1]) for key in keys if key.startswith("device:")]
    found = {
        f"order:{order.pk}": order
        for order in DeviceOrder.objects.filter(pk__in=order_ids).select_related("device", "replaces")
    }
    found.update({f"device:{device.pk}": device for device in SecurityDevice.objects.filter(pk__in=device_ids)})
    return found


def _word_device_notice(notice: Notice, found) -> tuple[str, str]:
    order = found if isinstance(found, DeviceOrder) else None
    device = order.device if order is not None else found
    return _message(notice, order, device)


for _event in (REMINDER, ACTIVATED, INVITATION, REPLACEMENT_ORDERED):
    register_notice(_event, load=_load_orders_and_devices, word=_word_device_notice)


def send_notices(now: datetime, batch_size: int) -> int:
    """The outbox: each unsent notice is e-mailed once, in the client's
    language; each event's objects are loaded once per batch."""
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                Notice.objects.filter(sent_at__isnull=True)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("client")
                .order_by("created_at", "id")[:batch_size]
            )
            if batch:
                loaded: dict[str, dict] = {}
                for event in {notice.event for notice in batch}:
                    if event in _wordings:
                        keys = [notice.object_key for notice in batch if notice.event == event]
                        loaded[event] = _wordings[event][0](keys)
                done = []
                for notice in batch:
                    if notice.event not in _wordings:
                        continue  # an event nobody words (yet): left unsent, never lost
                    found = loaded[notice.event].get(notice.object_key)
                    with translation.override(notice.client.language or settings.LANGUAGE_CODE):
                        subject, body = _wordings[notice.event][1](notice, found)
                    send_mail(subject=subject, message=body, from_email=None, recipient_list=[notice.client.email])
                    done.append(notice.pk)
                sent += Notice.objects.filter(pk__in=done, sent_at__isnull=True).update(sent_at=now)
        if len(batch) < batch_size:
            return sent


def send_soon() -> None:
    """After the current transaction commits, ask a worker to send the
    outbox now (a notice that must go at once, SECURITY.md 15). The
    scheduled sweep sends it anyway if no worker takes this."""
    from .tasks import send_outbox

    transaction.on_commit(lambda: send_outbox.delay())


def sweep(now: datetime, batch_size: int | None = None) -> dict[str, int]:
    """J1 for ordered devices: reminders, auto-activations, then the outbox."""
    batch_size = batch_size or settings.SLS["JOB_BATCH_SIZE"]
    return {
        "reminders": queue_reminders(now, batch_size),
        "activated": activate_due(now, batch_size),
        "sent": send_notices(now, batch_size),
    }
