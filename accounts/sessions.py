"""Database sessions without needless round trips at each login step.

Each login step rotates the session key (SECURITY.md 1), and Django's store
makes that costly: it inserts the new row at once and updates it again at
the end of the request, asks "is this random key taken?" before inserting
(the INSERT refuses a taken key anyway: CreateError, and create() draws
another), and loads a session before deleting it.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    def _get_new_session_key(self) -> str:
        # 32 characters of 36: a collision is caught by the INSERT anyway.
        return get_random_string(32, VALID_KEY_CHARS)

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=session_key).delete()

    def cycle_key(self) -> None:
        """A new key for the same data: the old row is deleted now, the new
        one is written once, when the session is saved at the end of the
        request (one INSERT instead of an INSERT and an UPDATE)."""
        data = self._session
        old_key = self.session_key
        self._session_key = None
        self._session_cache = data
        self.modified = True
        if old_key:
            self.delete(old_key)
