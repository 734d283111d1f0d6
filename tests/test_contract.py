"""The second-factor contract (ARCHITECTURE.md principle 7), run over every kind.

Each kind of factor that step 2 accepts must pass these tests unchanged:
a new kind adds one KindCase to KINDS below, nothing else. The flows are
called as the web and the API call them (tests.conftest's opener).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.access import FULL, FULL_NO_WITHDRAWALS
from accounts.models import User
from devices.factors import SecondFactor, load_factor, offered_to
from devices.models import DeviceStatus
from help.refusals import LoginRefusal
from login.models import LoginAttempt, PendingLogin
from tests.conftest import (
    PASSWORD,
    card_codes_for,
    check_code_step,
    check_password_step,
    give_online_card,
    give_passcode,
    online_card_codes,
    run_at_once,
)

IP = "198.51.100.77"


@dataclass(frozen=True)
class KindCase:
    kind: str
    # Gives the username a usable factor of this kind (alice has a card already).
    give: Callable[[User], None]
    # The right token for a challenge of this kind.
    right: Callable[[User, dict], str]
    wrong: str
    # A token that breaks the kind's L4 format rule.
    badly_formatted: str
    # Takes the factor away (the scope must then end).
    take_away: Callable[[User], None]
    # The scope a fresh login with it has (A1; A2 for a temporary passcode).
    scope: str = FULL


def _has_card(user: User) -> None:
    assert offered_to(user, timezone.now()), "alice has her Security Code Card"


def _card_answer(user: User, challenge: dict) -> str:
    return "".join(card_codes_for(user, challenge["positions"]))


def _revoke_card(user: User) -> None:
    from devices.models import SecurityDevice

    SecurityDevice.objects.filter(client=user.client).update(status=DeviceStatus.REVOKED)


def _gives(device_type: str, pin: str | None = None) -> Callable[[User], None]:
    """Gives the username's client an active device of this type, in place
    of alice's card (D5: one active device per client)."""

    def give(user: User) -> None:
        from devices.flows import issue_device

        _revoke_card(user)
        issue_device(user.client, device_type, now=timezone.now(), pin=pin)

    return give


def _device_of(user: User):
    from devices.models import active_binding_for

    return active_binding_for(user)


def _ocra_answer(user: User, challenge: dict) -> str:
    from devices import algorithms

    binding = _device_of(user)
    device = binding.security_device
    return algorithms.ocra_response(binding.ocra_suite, device.seed, challenge["question"], device.pin_digest)


def _totp_answer(user: User, challenge: dict) -> str:
    from devices import algorithms

    binding = _device_of(user)
    generator = algorithms.totp(binding.security_device.seed, digits=binding.code_length, period=binding.period)
    return generator.at(timezone.now())


def _gives_passcode(user: User) -> None:
    from devices.models import SecurityDevice

    device = SecurityDevice.objects.get(client=user.client, status=DeviceStatus.ACTIVE)
    _PASSCODES[user.pk] = give_passcode(user, device_status="lost")
    assert SecurityDevice.objects.get(pk=device.pk).status == DeviceStatus.LOST


_PASSCODES: dict[int, str] = {}


def _passcode_answer(user: User, challenge: dict) -> str:
    return _PASSCODES[user.pk]


def _end_passcode(user: User) -> None:
    from passcodes.models import TemporaryPasscode

    TemporaryPasscode.objects.filter(user=user).update(ended_at=timezone.now())


def _gives_online_card(user: User) -> None:
    _revoke_card(user)
    give_online_card(user)


def _online_card_answer(user: User, challenge: dict) -> str:
    from passcodes.models import OnlineCard

    return "".join(online_card_codes(OnlineCard.objects.get(user=user), challenge["positions"]))


def _end_online_card(user: User) -> None:
    from passcodes.models import OnlineCard

    OnlineCard.objects.filter(user=user).update(ended_at=timezone.now())


KINDS = [
    KindCase("code_card", _has_card, _card_answer, wrong="AAABBB", badly_formatted="AA BBB", take_away=_revoke_card),
    KindCase(
        "dsc_plus",
        _gives("dsc_plus", pin="2580"),
        _ocra_answer,
        wrong="00000000",
        badly_formatted="1234 5678",
        take_away=_revoke_card,
    ),
    KindCase(
        "platinum",
        _gives("platinum", pin="917364"),
        _ocra_answer,
        wrong="00000000",
        badly_formatted="1234 5678",
        take_away=_revoke_card,
    ),
    KindCase(
        "gold",
        _gives("gold", pin="4711"),
        _ocra_answer,
        wrong="000000",
        badly_formatted="123 456",
        take_away=_revoke_card,
    ),
    KindCase(
        "mobile", _gives("mobile"), _totp_answer, wrong="000000", badly_formatted="123 456", take_away=_revoke_card
    ),
    KindCase(
        "alpine", _gives("alpine"), _totp_answer, wrong="000000", badly_formatted="123 456", take_away=_revoke_card
    ),
    KindCase(
        "temporary_passcode",
        _gives_passcode,
        _passcode_answer,
        wrong="ZZZZZZZZZZZZ",
        badly_formatted="abcd2345efgh",
        take_away=_end_passcode,
        scope=FULL_NO_WITHDRAWALS,
    ),
    KindCase(
        "online_card",
        _gives_online_card,
        _online_card_answer,
        wrong="AAABBB",
        badly_formatted="AA BBB",
        take_away=_end_online_card,
    ),
]


@pytest.fixture(params=KINDS, ids=[case.kind for case in KINDS])
def kind(request, alice, clock) -> KindCase:
    """The username gets the kind's factor under the test's frozen clock."""
    case = request.param
    case.give(alice)
    return case


def _step_one():
    return check_password_step("alice", PASSWORD, ip=IP, channel="web", now=timezone.now())


def _offer(step) -> dict:
    return PendingLogin.objects.get(pk=step.pending.pk).offers[0]


def _answer(step, token: str):
    return check_code_step(step.token, token, ip=IP, channel="web", now=timezone.now())


def test_L2_contract_every_kind_is_a_second_factor(kind, alice):
    factors = offered_to(alice, timezone.now())
    assert factors and all(isinstance(factor, SecondFactor) for factor in factors)
    assert type(factors[0]).__name__ != "DeviceBinding", "each kind loads as its own class"


def test_L2_contract_step_two_shows_the_same_without_loading_the_factor(kind, alice, clock):
    """What a kind shows at step 2 depends only on its class and the
    challenge: the stand-in the page is built from (no query) shows what the
    loaded factor shows."""
    from devices.factors import presented

    offer = _offer(_step_one())
    loaded = load_factor(offer["device"])
    loaded.challenge = offer["challenge"]
    with CaptureQueriesContext(connection) as run:
        shown = presented(offer["device"], offer["challenge"])
        fields = {name: (str(field.label), field.widget.attrs) for name, field in shown.step_fields().items()}
        seen = (shown.step_instructions(), shown.describe_challenge(), shown.offer)
    assert run.captured_queries == []
    assert fields == {name: (str(f.label), f.widget.attrs) for name, f in loaded.step_fields().items()}
    assert seen == (loaded.step_instructions(), loaded.describe_challenge(), loaded.offer)


def test_L2_contract_right_answer_logs_in_with_full_scope(kind, alice, clock):
    step = _step_one()
    opened = _answer(step, kind.right(alice, _offer(step)["challenge"]))
    assert opened.user == alice
    assert opened.factor.access_scope(timezone.now()) == kind.scope


def test_L2_contract_an_answered_challenge_is_never_accepted_again(kind, alice, clock):
    """Single use (s457): the pending login that succeeded is spent."""
    step = _step_one()
    token = kind.right(alice, _offer(step)["challenge"])
    _answer(step, token)
    with pytest.raises(LoginRefusal) as refused:
        _answer(step, token)
    assert refused.value.code == "login_token_invalid"


def test_L2_contract_a_new_challenge_after_each_attempt(kind, alice, clock, monkeypatch):
    """Whatever the outcome, the attempt consumes the challenge: the next one
    is freshly generated and is the one stored for the next answer."""
    step = _step_one()
    serial = PendingLogin.objects.get(pk=step.pending.pk).challenge_serial
    factor_class = type(load_factor(_offer(step)["device"]))
    made = []
    real = factor_class.generate_challenge

    def generate(self):
        made.append(real(self))
        return made[-1]

    monkeypatch.setattr(factor_class, "generate_challenge", generate)
    with pytest.raises(LoginRefusal):
        _answer(step, kind.wrong)
    assert len(made) == 1 and _offer(step)["challenge"] == made[0]
    assert PendingLogin.objects.get(pk=step.pending.pk).challenge_serial == serial + 1


def test_L3_contract_a_wrong_answer_counts_toward_the_limit(kind, alice, clock):
    step = _step_one()
    with pytest.raises(LoginRefusal) as refused:
        _answer(step, kind.wrong)
    assert (refused.value.code, refused.value.rule) == ("login_failed", "L2")
    assert LoginAttempt.objects.filter(guard__username="alice", step="code", outcome="failed").count() == 1


def test_L4_contract_a_badly_formatted_answer_gets_the_hint_and_counts(kind, alice, clock):
    step = _step_one()
    with pytest.raises(LoginRefusal) as refused:
        _answer(step, kind.badly_formatted)
    assert refused.value.rule == "L4" and refused.value.hint
    assert LoginAttempt.objects.filter(guard__username="alice", step="code", outcome="failed").count() == 1


def test_L4_contract_whitespace_around_a_pasted_answer_is_trimmed(kind, alice, clock):
    step = _step_one()
    opened = _answer(step, "  " + kind.right(alice, _offer(step)["challenge"]) + "\n")
    assert opened.user == alice


def test_L2_contract_device_throttling_delays_the_next_check(kind, alice, clock):
    """django-otp's ThrottlingMixin on top of L3: after a failure the device
    waits; the refusal says until when; after the delay the right answer works."""
    step = _step_one()
    with pytest.raises(LoginRefusal):
        _answer(step, kind.wrong)
    with pytest.raises(LoginRefusal) as throttled:
        _answer(step, kind.right(alice, _offer(step)["challenge"]))
    retry_at = throttled.value.extra["retry_at"]
    assert retry_at > timezone.now()
    clock.move_to(retry_at)
    assert _answer(step, kind.right(alice, _offer(step)["challenge"])).user == alice


def test_A1_contract_the_scope_ends_when_the_factor_is_taken_away(kind, alice, clock):
    step = _step_one()
    factor = _answer(step, kind.right(alice, _offer(step)["challenge"])).factor
    kind.take_away(alice)
    assert load_factor(factor.persistent_id).access_scope(timezone.now()) is None


def test_L2_contract_verification_locks_the_factor(kind, alice, postgresql):
    """verify_token runs on a factor loaded for_verify (SELECT .. FOR UPDATE)."""
    persistent_id = offered_to(alice, timezone.now())[0].persistent_id
    with transaction.atomic(), CaptureQueriesContext(connection) as run:
        load_factor(persistent_id, for_verify=True)
    assert "FOR UPDATE" in run.captured_queries[-1]["sql"]


@pytest.mark.django_db(transaction=True)
def test_SEC9_contract_one_challenge_answered_by_many_threads_succeeds_once(kind, alice, postgresql):
    """ASVS 2.6.1: N threads with the right answer to one challenge, one logs in;
    the others are twins of that login or failures, and none is a 500."""
    step = _step_one()
    token = kind.right(alice, _offer(step)["challenge"])

    def answer(_index: int) -> str:
        try:
            opened = _answer(step, token)
        except LoginRefusal as refusal:
            return refusal.code
        return "twin" if opened.already else "logged in"

    results = run_at_once(8, answer)
    assert results.count("logged in") == 1, results
    assert set(results) <= {"logged in", "twin", "login_failed", "login_token_invalid"}, results
