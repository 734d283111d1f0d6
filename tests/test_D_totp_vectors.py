"""TOTP (RFC 6238) through pyotp, against the RFC's Appendix B vectors, and
the drift window and replay rule of our time-based kinds (SEC8)."""

from __future__ import annotations

import pytest

from devices import algorithms

SEED = b"12345678901234567890"  # RFC 6238 Appendix B, SHA-1

RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_6238_SHA1)
def test_totp_meets_rfc_6238_vectors(unix_time, expected):
    assert algorithms.totp(SEED, digits=8, period=30).at(unix_time) == expected
    step = algorithms.totp_match(SEED, expected, unix_time=unix_time, digits=8, period=30, drift=0, after=None)
    assert step == unix_time // 30


def _code(unix_time, period=30):
    return algorithms.totp(SEED, digits=6, period=period).at(unix_time)


def test_SEC8_totp_one_step_of_drift_either_way_and_no_more():
    now = 1_800_000_000
    match = lambda code: algorithms.totp_match(  # noqa: E731
        SEED, code, unix_time=now, digits=6, period=30, drift=1, after=None
    )
    assert match(_code(now - 30)) == now // 30 - 1
    assert match(_code(now + 30)) == now // 30 + 1
    assert match(_code(now - 60)) is None
    assert match(_code(now + 60)) is None


def test_SEC8_totp_a_step_already_accepted_is_refused():
    now = 1_800_000_000
    step = now // 30
    kwargs = {"unix_time": now, "digits": 6, "period": 30, "drift": 1}
    assert algorithms.totp_match(SEED, _code(now), after=step - 1, **kwargs) == step
    assert algorithms.totp_match(SEED, _code(now), after=step, **kwargs) is None
    assert algorithms.totp_match(SEED, _code(now - 30), after=step, **kwargs) is None


def test_totp_alpine_period_is_60_seconds():
    assert algorithms.totp(SEED, digits=6, period=60).at(119) == algorithms.totp(SEED, digits=6, period=60).at(60)
