"""Database sessions in one statement per operation.

Each login step rotates the session key (SECURITY.md 1), and Django's
database store makes that costly: it deletes the old row at once, inserts
the new one inside its own transaction (a second commit), asks "is this
random key taken?" before inserting, and compiles every statement anew.
This store keeps Django's table, data format and semantics, with fixed SQL:

- load: one SELECT of a live (unexpired) row;
- a new session: one INSERT .. ON CONFLICT DO NOTHING; a taken key (never
  seen in practice: 32 random characters of 36) inserts nothing and
  another key is drawn;
- a rotated key: the row is moved to its new key when the session is
  saved, by the same UPDATE that writes its data, so the old key stops
  working in that statement; if the old row is gone, the new one is
  inserted;
- a save: one UPDATE; a row deleted meanwhile (logout elsewhere) raises
  UpdateError, as Django's store does;
- delete: one DELETE, at once (logout, flush).

Inside a caller's transaction the save commits with it, so a login step
that saves its session in its own transaction pays for a single commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, SessionBase, UpdateError
from django.db import connections, router
from django.utils import timezone

from sls_portal.compiled import execute


def _model():
    from django.contrib.sessions.models import Session

    return Session


@cache
def _statements() -> dict[str, str]:
    meta = _model()._meta
    table = meta.db_table
    key, data, expiry = (meta.get_field(name).column for name in ("session_key", "session_data", "expire_date"))
    return {
        "load": f"SELECT {data} FROM {table} WHERE {key} = %s AND {expiry} > %s",
        "insert": f"INSERT INTO {table} ({key}, {data}, {expiry}) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        "update": f"UPDATE {table} SET {key} = %s, {data} = %s, {expiry} = %s WHERE {key} = %s",
        "delete": f"DELETE FROM {table} WHERE {key} = %s",
    }


def _run(statement: str, params: list, *, write: bool) -> tuple[int, tuple | None]:
    """Runs one statement; returns the rows it changed and, for a read, its row."""
    model = _model()
    connection = connections[router.db_for_write(model) if write else router.db_for_read(model)]
    params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p for p in params]
    with connection.cursor() as cursor:
        execute(cursor, _statements()[statement], params)
        return cursor.rowcount, (None if write else cursor.fetchone())


class SessionStore(SessionBase):
    def __init__(self, session_key: str | None = None):
        super().__init__(session_key)
        # The key under which this session's row is stored, if it is.
        self._stored_key: str | None = None
        # Saved in this request and not modified since: a second save (the
        # middleware's, with SESSION_SAVE_EVERY_REQUEST) has nothing to write.
        self._clean = False

    @classmethod
    def get_model_class(cls):
        return _model()

    def load(self) -> dict:
        _count, row = _run("load", [self.session_key, timezone.now()], write=False)
        if row is None:
            self._session_key = None
            return {}
        self._stored_key = self.session_key
        return self.decode(row[0])

    def exists(self, session_key: str) -> bool:
        return _run("load", [session_key, timezone.now()], write=False)[1] is not None

    def _get_new_session_key(self) -> str:
        """32 characters of VALID_KEY_CHARS, as Django draws them, from one
        read of the CSPRNG instead of one per character: 256 random bits
        give 32 base-36 digits (165 bits) with no bias worth the name. A
        taken key is caught by the INSERT anyway."""
        value = int.from_bytes(secrets.token_bytes(32), "big")
        key = []
        for _ in range(32):
            value, digit = divmod(value, len(VALID_KEY_CHARS))
            key.append(VALID_KEY_CHARS[digit])
        return "".join(key)

    def create(self) -> None:
        self._session_key = None
        self._session_cache = {}
        self.save(must_create=True)
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self._clean and not self.modified and not must_create:
            return
        # Loading may find the key dead and forget it: a new row then.
        session = self._get_session(no_load=must_create)
        data, expiry = self.encode(session), self.get_expiry_date()
        if self.session_key is not None and not must_create:
            if not _run("update", [self.session_key, data, expiry, self.session_key], write=True)[0]:
                raise UpdateError  # deleted meanwhile (logged out elsewhere)
        elif not self._move(data, expiry, must_create):
            self._insert(data, expiry, must_create)
        self._stored_key = self.session_key
        self.modified = False
        self._clean = True

    def _move(self, data: str, expiry: datetime, must_create: bool) -> bool:
        """A rotated key: move the stored row to a new key. False if there
        is no stored row to move."""
        if must_create or self.session_key is not None or self._stored_key is None:
            return False
        self._session_key = self._get_new_session_key()
        return bool(_run("update", [self.session_key, data, expiry, self._stored_key], write=True)[0])

    def _insert(self, data: str, expiry: datetime, must_create: bool) -> None:
        drawn = self.session_key is None
        while True:
            if drawn:
                self._session_key = self._get_new_session_key()
            if _run("insert", [self.session_key, data, expiry], write=True)[0]:
                return
            if not drawn and must_create:
                raise CreateError  # the caller's key is taken
            drawn = True

    def cycle_key(self) -> None:
        """A new key for the same data; the row moves to it when saved, in
        the statement that writes the data (the old key then stops working)."""
        data = self._session
        self._session_key = None
        self._session_cache = data
        self.modified = True

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        _run("delete", [session_key], write=True)
        if session_key == self._stored_key:
            self._stored_key = None

    @classmethod
    def clear_expired(cls) -> None:
        _model().objects.filter(expire_date__lt=timezone.now()).delete()
