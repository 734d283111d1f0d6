"""Step 2's interim factors: this app's source for devices.factors.

Offered beside the permanent device (or alone, when it was reported lost):
the username's temporary passcode and its activated online card, while
they are not ended. An expired one is still offered for a while
(SLS INTERIM_RECOGNISED_AFTER_END), so that the client who types it is told
that it expired and what to do (A7), not a bare "Login Failed".

Step 1 of every login asks this source, so it reads with two statements
of fixed SQL (audit/rows.py: the login's hot path), each on an index of
the username.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.conf import settings
from django.db import connection

from audit import rows
from devices.factors import SecondFactor, register_source

from .models import OnlineCard, TemporaryPasscode


@cache
def _sql() -> tuple[str, str]:
    passcode_select, _c = rows.columns(TemporaryPasscode, "t")
    card_select, _c = rows.columns(OnlineCard, "t")
    passcodes = rows.quote(TemporaryPasscode._meta.db_table)
    cards = rows.quote(OnlineCard._meta.db_table)
    return (
        f"SELECT {passcode_select} FROM {passcodes} t WHERE t.user_id = %s AND t.ended_at IS NULL AND t.issued_at > %s",
        f"SELECT {card_select} FROM {cards} t WHERE t.user_id = %s AND t.ended_at IS NULL"
        " AND t.activated_at IS NOT NULL",
    )


def _fetch(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def interim_factors(user, now: datetime) -> list[SecondFactor]:
    """The username's temporary passcode and online card, as step 2 offers them."""
    passcode_sql, card_sql = _sql()
    recognised = (
        settings.SLS["PASSCODE_FULL_ACCESS"]
        + settings.SLS["PASSCODE_RESTRICTED_ACCESS"]
        + settings.SLS["INTERIM_RECOGNISED_AFTER_END"]
    )
    since = connection.ops.adapt_datetimefield_value(now - recognised)
    found: list[SecondFactor] = []
    # The card first: once activated it is the client's interim device (C3).
    found.extend(rows.instance(OnlineCard, "t", row) for row in _fetch(card_sql, [user.pk]))
    found.extend(rows.instance(TemporaryPasscode, "t", row) for row in _fetch(passcode_sql, [user.pk, since]))
    return found


register_source(interim_factors)
