"""The algorithms of the electronic devices: OCRA (RFC 6287) and TOTP (RFC 6238).

OCRA's computation is the `oath` package's (checked against RFC 6287's
vectors in tests/test_D_ocra_vectors.py); TOTP's is pyotp's (RFC 6238's
vectors in tests/test_D_totp_vectors.py). What is ours: questions drawn
with `secrets` (oath's own `compute_challenge` uses `random`), comparisons
with `hmac.compare_digest` (oath's `compare_digest` stops at the first
difference, and its server object returns, not raises, a StateException,
which is truthy), and the replay window of TOTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

import pyotp
from oath._ocra import str2ocrasuite


def new_seed(length: int = 32) -> bytes:
    return secrets.token_bytes(length)


# --- OCRA ------------------------------------------------------------------------


class _PinHash:
    """oath 1.4.5 reads `digest_size` off the suite's P hash to take a
    precomputed PIN digest (P_digest), but keeps hashlib's constructor there,
    which has none (AttributeError). This is that constructor with its size."""

    def __init__(self, algo):
        self.algo = algo
        self.digest_size = algo().digest_size

    def __call__(self, data: bytes = b""):
        return self.algo(data)


@lru_cache(maxsize=8)
def _suite(description: str):
    suite = str2ocrasuite(description)
    if not suite.data_input.Q or suite.data_input.Q[0] != "N":
        raise ValueError(f"{description}: our devices take a numeric question")
    if suite.data_input.P is not None:
        suite.data_input.P = _PinHash(suite.data_input.P)
    return suite


def question_length(description: str) -> int:
    return _suite(description).data_input.Q[1]


def response_length(description: str) -> int:
    return _suite(description).crypto_function.truncation_length


def pin_digest(description: str, pin: str) -> bytes:
    """What the suite's P input consumes: the digest of the PIN (PSHA1: SHA-1)."""
    algo = _suite(description).data_input.P
    if algo is None:
        return b""
    return algo(pin.encode("ascii")).digest()


def new_question(description: str) -> str:
    """A random numeric question of the suite's length (QN08: 8 digits), from a CSPRNG."""
    length = question_length(description)
    return f"{secrets.randbelow(10**length):0{length}d}"


def ocra_response(description: str, key: bytes, question: str, pin_digest: bytes = b"") -> str:
    kwargs = {"P_digest": pin_digest} if _suite(description).data_input.P else {}
    return _suite(description)(key, Q=question, **kwargs)


def ocra_verify(description: str, key: bytes, question: str, response: str, pin_digest: bytes = b"") -> bool:
    if not (
        isinstance(question, str)
        and question.isascii()
        and question.isdigit()
        and len(question) == question_length(description)
    ):
        return False
    expected = ocra_response(description, key, question, pin_digest)
    return hmac.compare_digest(expected.encode(), response.encode("utf-8", "replace"))


# --- TOTP ------------------------------------------------------------------------


def totp(seed: bytes, *, digits: int, period: int, digest=hashlib.sha1) -> pyotp.TOTP:
    return pyotp.TOTP(base64.b32encode(seed).decode("ascii"), digits=digits, interval=period, digest=digest)


def time_step(unix_time: float, period: int) -> int:
    return int(unix_time) // period


def totp_match(seed: bytes, token: str, *, unix_time: float, digits: int, period: int, drift: int, after: int | None):
    """The time step whose code `token` is, within `drift` steps of now and
    later than `after` (the last step accepted: a replay), or None.

    Every candidate step is compared, in constant time each."""
    generator = totp(seed, digits=digits, period=period)
    now_step = time_step(unix_time, period)
    found = None
    typed = token.encode("utf-8", "replace")
    for step in range(now_step - drift, now_step + drift + 1):
        if hmac.compare_digest(generator.generate_otp(step).encode(), typed) and (after is None or step > after):
            found = step if found is None else found
    return found


def provisioning_uri(seed: bytes, *, name: str, issuer: str, digits: int, period: int) -> str:
    return totp(seed, digits=digits, period=period).provisioning_uri(name=name, issuer_name=issuer)
