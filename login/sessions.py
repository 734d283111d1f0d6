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
  working in that statement;
- a save: one UPDATE; a row deleted meanwhile (logout elsewhere) raises
  UpdateError, as Django's store does, and so does the move of a deleted
  row: a session ended elsewhere is never written back under a new key;
- delete: one DELETE, at once (logout, flush).

Inside a caller's transaction the save commits with it, so a login step
that saves its session in its own transaction pays for a single commit;
the middleware's save at the end of that request then finds nothing new
to write and skips it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, SessionBase, UpdateError
from django.db import connections, router
from django.utils import timezone

_KEY_CHARS = frozenset(VALID_KEY_CHARS)


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
        cursor.execute(_statements()[statement], params)
        return cursor.rowcount, (None if write else cursor.fetchone())


class SessionStore(SessionBase):
    def __init__(self, session_key: str | None = None):
        super().__init__(session_key)
        # The key under which this session's row is stored, if it is.
        self._stored_key: str | None = None
        # What the last save in this request wrote (key, serialized data): the
        # same save again (the middleware's, with SESSION_SAVE_EVERY_REQUEST)
        # is skipped.
        self._written: tuple[str | None, bytes] | None = None

    @classmethod
    def get_model_class(cls):
        return _model()

    def _validate_session_key(self, key: str | None) -> bool:
        """A key we could have drawn: 8 to 40 characters of VALID_KEY_CHARS.

        Anything else (a NUL byte, capitals, a megabyte) is no key at all,
        so it never reaches the database (PostgreSQL refuses a NUL in text):
        the request simply gets a new session."""
        return bool(key) and 8 <= len(key) <= 40 and not set(key) - _KEY_CHARS

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
        # Loading may find the key dead and forget it: a new row then.
        session = self._get_session(no_load=must_create)
        # What was written is compared as data, not as the signed string,
        # which embeds a timestamp: two saves a second apart are the same.
        snapshot = (self.session_key, self.serializer().dumps(session))
        if not must_create and self.session_key is not None and self._written == snapshot:
            return  # written by this request already, as it is
        data = self.encode(session)
        expiry = self.get_expiry_date()
        if self.session_key is not None and not must_create:
            if not _run("update", [self.session_key, data, expiry, self.session_key], write=True)[0]:
                raise UpdateError  # deleted meanwhile (logged out elsewhere)
        elif self._stored_key is not None and not must_create:
            self._move(data, expiry)
        else:
            self._insert(data, expiry, must_create)
        self._stored_key = self.session_key
        self._written = (self.session_key, snapshot[1])

    def _move(self, data: str, expiry: datetime) -> None:
        """A rotated key: the stored row moves to a new key, so the old key
        stops working in the statement that writes the data. A row deleted
        meanwhile (logged out elsewhere) is not brought back: UpdateError,
        as for any save of a deleted session."""
        new_key = self._get_new_session_key()
        if not _run("update", [new_key, data, expiry, self._stored_key], write=True)[0]:
            self._stored_key = None
            raise UpdateError
        self._session_key = new_key

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

    def save_as_new(self) -> None:
        """Store the session as a new row under a new key, whatever became
        of the row it was loaded from."""
        self._stored_key = None
        self._session_key = None
        self.save(must_create=True)

    def cycle_key(self) -> None:
        """A new key for the same data, drawn and stored when the session is saved."""
        data = self._session
        self._session_key = None
        self._session_cache = data
        self.modified = True

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            # After cycle_key() the row is still under its old key.
            session_key = self.session_key or self._stored_key
            if session_key is None:
                return
        _run("delete", [session_key], write=True)
        if session_key == self._stored_key:
            self._stored_key = None
        self._written = None

    @classmethod
    def clear_expired(cls) -> None:
        _model().objects.filter(expire_date__lt=timezone.now()).delete()
