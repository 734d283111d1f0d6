"""J1, J2 for the interim credentials: the job persists what the windows say
(passcode full -> restricted -> expired, card warning and expiry), sends each
notice once, run twice or on three workers at once (PostgreSQL), in a constant
number of queries; and the windows hold to the second without it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account, Client, User
from devices import jobs as device_jobs
from devices import orders
from devices.models import DeviceStatus, Notice, SecurityDevice
from passcodes import jobs
from passcodes.models import OnlineCard, TemporaryPasscode
from passcodes.windows import Phase
from tests.conftest import PASSWORD, give_online_card, give_passcode

SECOND = timedelta(seconds=1)
FULL = timedelta(days=2)
TWELVE = timedelta(days=12)
CARD = timedelta(days=21)
WARNING = timedelta(days=3)


def _clients_with_passcodes(count: int, first: int = 0) -> list[User]:
    users = []
    for index in range(first, first + count):
        person = Client.objects.create(
            first_name=f"P{index}",
            last_name="Interim",
            email=f"p{index}@example.com",
            phone="+1 203 555 0100",
            address="1 Main St",
            country="US",
        )
        Account.objects.create(number=f"UP{person.pk:07d}", client=person, equity_usd="100.00")
        user = User.objects.create_user(username=f"interim{index}", password=PASSWORD, client=person)
        give_passcode(user)
        users.append(user)
    return users


def _send() -> int:
    return device_jobs.send_notices(timezone.now(), 100)


def _issued_at() -> timezone.datetime:
    return TemporaryPasscode.objects.order_by("issued_at").first().issued_at


def test_J1_passcode_phases_are_persisted_once_each_with_one_notice(db, agent, clock):
    _clients_with_passcodes(3)
    _send()  # the "issued" notices
    mail.outbox.clear()
    issued = _issued_at()
    clock.move_to(issued + FULL - SECOND)
    assert jobs.sweep(timezone.now())["passcodes_restricted"] == 0
    clock.move_to(issued + FULL)
    assert jobs.sweep(timezone.now())["passcodes_restricted"] == 3
    assert jobs.sweep(timezone.now())["passcodes_restricted"] == 0, "idempotent"
    assert _send() == 3 and _send() == 0
    assert all("only" in m.body for m in mail.outbox)
    clock.move_to(issued + TWELVE - SECOND)
    assert jobs.sweep(timezone.now())["passcodes_expired"] == 0
    clock.move_to(issued + TWELVE)
    assert jobs.sweep(timezone.now())["passcodes_expired"] == 3
    jobs.sweep(timezone.now())
    assert _send() == 3 and _send() == 0
    assert set(TemporaryPasscode.objects.values_list("phase", flat=True)) == {Phase.EXPIRED}
    assert len(mail.outbox) == 6


def test_J1_a_passcode_nobody_swept_gets_only_the_last_notice(db, agent, clock):
    _clients_with_passcodes(1)
    clock.move_to(_issued_at() + TWELVE)
    result = jobs.sweep(timezone.now())
    assert (result["passcodes_expired"], result["passcodes_restricted"]) == (1, 0)
    assert list(Notice.objects.exclude(event="passcode.issued").values_list("event", flat=True)) == [
        jobs.PASSCODE_EXPIRED
    ]


def test_J2_the_recorded_phase_never_decides(db, agent, clock):
    """A phase column left behind (no job for a week) changes nothing: the
    scope comes from the timestamps."""
    users = _clients_with_passcodes(1)
    clock.move_to(_issued_at() + FULL)
    passcode = TemporaryPasscode.objects.get(user=users[0])
    assert passcode.phase == Phase.FULL
    assert passcode.access_scope(timezone.now()) == "restricted_card_only"


def test_J1_card_warning_then_expiry_once_each(alice, clock):
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.LOST)
    card = give_online_card(alice)
    start = card.activated_at
    clock.move_to(start + CARD - WARNING - SECOND)
    assert jobs.sweep(timezone.now())["cards_warned"] == 0
    clock.move_to(start + CARD - WARNING)
    assert jobs.sweep(timezone.now())["cards_warned"] == 1
    jobs.sweep(timezone.now())
    assert _send() == 1 and _send() == 0
    with translation.override(alice.client.language):
        assert mail.outbox[-1].subject == _("Your online security card expires soon")
    clock.move_to(start + CARD - SECOND)
    assert jobs.sweep(timezone.now())["cards_expired"] == 0
    assert OnlineCard.objects.get(pk=card.pk).access_scope(timezone.now()) == "full"
    clock.move_to(start + CARD)
    assert OnlineCard.objects.get(pk=card.pk).access_scope(timezone.now()) is None, "J2: before the job"
    assert jobs.sweep(timezone.now())["cards_expired"] == 1
    assert jobs.sweep(timezone.now())["cards_expired"] == 0
    assert _send() == 1 and _send() == 0
    assert OnlineCard.objects.get(pk=card.pk).phase == Phase.EXPIRED


def test_C6_the_sql_expiry_is_the_python_window_with_a_replacement_on_its_way(alice, clock):
    """The job's expiry expression and OnlineCard.window agree: a replacement
    ordered while the card runs moves its expiry to the auto-activation."""
    SecurityDevice.objects.filter(client=alice.client).update(status=DeviceStatus.LOST)
    card = give_online_card(alice)
    clock.shift(timedelta(days=15))
    placed = orders.place(alice.client, now=timezone.now()).order
    if placed.device_id is None:
        placed = orders.set_pin(placed, "2580", now=timezone.now())
    auto = SecurityDevice.objects.get(pk=placed.device_id).auto_activates_at
    assert auto > card.activated_at + CARD, "the replacement arrives after the card's 21 days"
    for moment in (card.activated_at + CARD, auto - SECOND, auto):
        clock.move_to(moment)
        now = timezone.now()
        row = jobs.cards_with_expiry(now).get(pk=card.pk)
        loaded = OnlineCard.objects.get(pk=card.pk)
        assert (loaded.expires_at(now), loaded.access_scope(now) is None) == (row.expiry, row.superseded), moment
    clock.move_to(auto - SECOND)
    assert OnlineCard.objects.get(pk=card.pk).access_scope(timezone.now()) == "full"
    clock.move_to(auto)
    assert OnlineCard.objects.get(pk=card.pk).access_scope(timezone.now()) is None


def test_C5_the_sql_expiry_of_an_applicant_follows_funding(client_factory, clock):
    person = client_factory("Nina", "Nuova", "IT", username="nina", funded_at=None)
    user = User.objects.get(username="nina")
    card = give_online_card(user, applicant=True)
    now = timezone.now()
    assert jobs.cards_with_expiry(now).get(pk=card.pk).expiry is None
    assert OnlineCard.objects.get(pk=card.pk).expires_at(now) is None
    Account.objects.filter(client=person).update(funded_at=now)
    assert jobs.cards_with_expiry(now).get(pk=card.pk).expiry == now + CARD
    assert OnlineCard.objects.get(pk=card.pk).expires_at(now) == now + CARD


def test_J1_interim_job_query_count_is_constant(db, agent, clock, django_assert_max_num_queries):
    _clients_with_passcodes(2)
    clock.move_to(_issued_at() + FULL)
    with django_assert_max_num_queries(40) as small:
        jobs.sweep(timezone.now(), batch_size=50)
    _clients_with_passcodes(8, first=2)
    clock.move_to(_issued_at() + FULL + timedelta(days=2))
    TemporaryPasscode.objects.update(phase=Phase.FULL)
    with django_assert_max_num_queries(40) as large:
        jobs.sweep(timezone.now(), batch_size=50)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_J1_beat_schedules_the_interim_job():
    from passcodes.tasks import sweep_interim_access

    assert settings.CELERY_BEAT_SCHEDULE["interim-access-sweep"]["task"] == sweep_interim_access.name


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_J1_three_workers_at_once_move_each_passcode_once_and_mail_once(postgresql, agent, clock):
    from tests.conftest import run_at_once

    _clients_with_passcodes(9)
    Notice.objects.all().delete()
    mail.outbox.clear()
    clock.move_to(_issued_at() + FULL)
    results = run_at_once(3, lambda _i: jobs.sweep(timezone.now(), batch_size=2))
    assert not [r for r in results if isinstance(r, BaseException)], results
    jobs.sweep(timezone.now(), batch_size=2)
    assert sum(r["passcodes_restricted"] for r in results) <= 9
    assert TemporaryPasscode.objects.filter(phase=Phase.RESTRICTED).count() == 9
    results = run_at_once(3, lambda _i: device_jobs.send_notices(timezone.now(), 2))
    assert sum(results) == 9
    assert len(mail.outbox) == 9
