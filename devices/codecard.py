"""The Security Code Card: 224 printed codes, two asked at each login.

Each code is derived from the card's secret seed with HMAC-SHA256 over its
position, so the database holds only the encrypted seed, and the printed
card and the verifier agree without storing 224 codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def _rules() -> tuple[int, int, str, int]:
    sls = settings.SLS
    return (
        sls["CODE_CARD_SIZE"],
        sls["CODE_CARD_CODE_LENGTH"],
        sls["CODE_CARD_ALPHABET"],
        sls["CODE_CARD_POSITIONS_ASKED"],
    )


def new_seed() -> bytes:
    return secrets.token_bytes(32)


def code_at(seed: bytes, position: int) -> str:
    size, length, alphabet, _asked = _rules()
    if not 1 <= position <= size:
        raise ValueError(f"card positions run from 1 to {size}")
    digest = hmac.new(seed, f"code-card:{position}".encode(), hashlib.sha256).digest()
    # 32 symbols = 5 bits each: the first bytes give an unbiased choice.
    value = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(length):
        value, index = divmod(value, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def all_codes(seed: bytes) -> list[str]:
    size = _rules()[0]
    return [code_at(seed, position) for position in range(1, size + 1)]


def new_challenge() -> list[int]:
    """Distinct random positions, in ascending order, chosen with a CSPRNG."""
    size, _length, _alphabet, asked = _rules()
    chosen: set[int] = set()
    while len(chosen) < asked:
        chosen.add(secrets.randbelow(size) + 1)
    return sorted(chosen)


def expected_response(seed: bytes, positions: list[int]) -> str:
    return "".join(code_at(seed, position) for position in positions)


def verify(seed: bytes, positions: list[int], response: str) -> bool:
    """Constant-time comparison of the typed codes with the card's."""
    expected = expected_response(seed, positions)
    return hmac.compare_digest(expected.encode(), response.upper().encode())
