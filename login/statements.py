"""The rows the two login steps read and write, as SQL written once
(audit/rows.py says why): the user, the pending login with its user, the
consumption of a pending login's challenges, whether the user's client has
only closed accounts (A8). The attempts and the pending login's INSERT use
rows.insert and rows.update."""

from __future__ import annotations

from django.db import connection

from accounts.models import Account, User
from audit.rows import columns, insert, instance, quote, update

from .models import PendingLogin

__all__ = ["all_accounts_closed", "consume", "insert", "pending_with_user", "update", "user_for_login"]


def user_for_login(username: str) -> User | None:
    """The active user of this username, or None."""
    select, _converters = columns(User, "u")
    sql = f"SELECT {select} FROM {quote(User._meta.db_table)} u WHERE u.username = %s AND u.is_active"
    with connection.cursor() as cursor:
        cursor.execute(sql, [username])
        row = cursor.fetchone()
    return instance(User, "u", row) if row else None


def pending_with_user(token_hash: str) -> PendingLogin | None:
    """The pending login of this token's hash, with its user, in one query."""
    pending_select, pending_converters = columns(PendingLogin, "p")
    user_select, _user_converters = columns(User, "u")
    sql = (
        f"SELECT {pending_select}, {user_select} FROM {quote(PendingLogin._meta.db_table)} p"
        f" JOIN {quote(User._meta.db_table)} u ON u.id = p.user_id WHERE p.token_hash = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(pending_converters)
    pending = instance(PendingLogin, "p", row[:split])
    pending.user = instance(User, "u", row[split:])
    return pending


def consume(pending: PendingLogin, *, offers: list, finished_at) -> int:
    """Step 2 consumes the challenges it answers: only the attempt whose
    UPDATE finds the serial unchanged and the login unfinished owns them."""
    meta = PendingLogin._meta
    offers_field, finished_field = meta.get_field("offers"), meta.get_field("finished_at")
    sql = (
        f"UPDATE {quote(meta.db_table)} SET offers = %s, challenge_serial = challenge_serial + 1, finished_at = %s"
        " WHERE id = %s AND challenge_serial = %s AND finished_at IS NULL"
    )
    params = [
        offers_field.get_db_prep_save(offers, connection),
        finished_field.get_db_prep_save(finished_at, connection),
        pending.pk,
        pending.challenge_serial,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def all_accounts_closed(client_id: int, now) -> bool:
    """A8, in one statement: the client holds accounts and none is open at
    `now`. The SQL twin of accounts.models.all_accounts_closed (both are
    tested against each other)."""
    table = quote(Account._meta.db_table)
    client, closed = quote(Account._meta.get_field("client").column), quote(Account._meta.get_field("closed_at").column)
    sql = (
        f"SELECT EXISTS(SELECT 1 FROM {table} WHERE {client} = %s)"
        f" AND NOT EXISTS(SELECT 1 FROM {table} WHERE {client} = %s AND ({closed} IS NULL OR {closed} > %s))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [client_id, client_id, connection.ops.adapt_datetimefield_value(now)])
        return bool(cursor.fetchone()[0])
