"""The session store (login.sessions): Django's table and format, one
statement per operation, nothing revived, nothing written twice."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from login.sessions import SessionStore as LeanStore


def _statements(run) -> list[str]:
    return [query["sql"].split(None, 1)[0].upper() for query in run.captured_queries]


def exists(key: str) -> bool:
    return SessionStore().exists(key)


def loaded(key: str) -> LeanStore:
    """That session, loaded by the request at hand."""
    store = LeanStore(key)
    assert store.keys()  # reading it loads it
    return store


def saved(**data) -> str:
    """The key of a session saved by an earlier request."""
    store = LeanStore()
    store.update(data)
    store.save()
    return store.session_key


def test_SEC1_store_new_session_is_one_insert_readable_by_djangos_store(db):
    store = LeanStore()
    store["visited"] = True
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert _statements(run) == ["INSERT"]
    assert SessionStore(store.session_key).load() == {"visited": True}


def test_SEC1_store_rotation_moves_the_row_in_one_update(db):
    """The old key stops working in the statement that writes the new one."""
    old = saved(visited=True)
    again = loaded(old)
    again.cycle_key()
    again["step"] = 1
    with CaptureQueriesContext(connection) as run:
        again.save()
    assert _statements(run) == ["UPDATE"]
    assert again.session_key != old
    assert not exists(old)
    assert SessionStore(again.session_key).load() == {"visited": True, "step": 1}


def test_SEC2_store_rotation_does_not_revive_a_session_ended_meanwhile(db):
    """A logout in another tab deleted the row: the rotation must not write it back."""
    old = saved(visited=True)
    again = loaded(old)
    SessionStore(old).delete()
    again.cycle_key()
    with pytest.raises(UpdateError):
        again.save()
    assert Session.objects.count() == 0


def test_SEC2_store_flush_after_rotation_deletes_the_stored_row(db):
    """cycle_key() then flush() (a login, then a logout, in one request)."""
    old = saved(user="alice")
    again = loaded(old)
    again.cycle_key()
    again.flush()
    assert not exists(old) and Session.objects.count() == 0


def test_store_second_save_in_a_request_writes_nothing_unless_changed(db):
    store = LeanStore()
    store["a"] = {"n": 1}
    store.save()
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert run.captured_queries == []
    store["a"]["n"] = 2  # changed in place: Django's `modified` does not see it
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert _statements(run) == ["UPDATE"]
    assert SessionStore(store.session_key).load() == {"a": {"n": 2}}


def test_store_second_save_a_second_later_writes_nothing(db, clock):
    """The signed data embeds a timestamp; a login whose two saves straddle
    a second (the step's and the middleware's) must still write once."""
    store = LeanStore()
    store["a"] = 1
    store.save()
    clock.shift(timedelta(seconds=1))
    with CaptureQueriesContext(connection) as run:
        store.save()
    assert run.captured_queries == []


def test_SEC2_store_session_deleted_meanwhile_is_not_revived(db):
    """Django's contract: the save raises UpdateError (the middleware answers 400)."""
    key = saved(a=1)
    again = loaded(key)
    again["b"] = 2
    SessionStore(key).delete()
    with pytest.raises(UpdateError):
        again.save()
    assert not exists(key)


def test_SEC3_store_does_not_load_an_expired_session(db, clock):
    key = saved(a=1)
    clock.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE + 1))
    stale = LeanStore(key)
    assert stale.load() == {} and stale.session_key is None
    stale["b"] = 2
    stale.save()
    assert stale.session_key != key


def test_SEC1_store_draws_another_key_when_one_is_taken(db):
    taken = saved(a=1)
    store = LeanStore()
    store["b"] = 2
    keys = iter([taken, "k" * 32])
    with mock.patch.object(LeanStore, "_get_new_session_key", lambda self: next(keys)):
        store.save()
    assert store.session_key == "k" * 32
    assert SessionStore(taken).load() == {"a": 1}  # untouched


def test_store_must_create_with_a_taken_key_raises_create_error(db):
    taken = saved(a=1)
    store = LeanStore(taken)
    store._session_cache = {"b": 2}
    with pytest.raises(CreateError):
        store.save(must_create=True)
    assert SessionStore(taken).load() == {"a": 1}


def test_store_create_and_delete(db):
    store = LeanStore()
    store.create()
    assert store.session_key and exists(store.session_key)
    with CaptureQueriesContext(connection) as run:
        store.delete()
    assert _statements(run) == ["DELETE"]
    assert not exists(store.session_key)


def test_SEC1_store_keys_are_32_random_characters_of_djangos_alphabet(db):
    """ASVS 3.2.2: at least 64 bits of entropy, every character equally likely
    (a chi-square test over 96,000 characters: a bias of a few percent on a
    handful of characters fails it; a fair draw fails once in 10,000 runs)."""
    from collections import Counter

    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    keys = [LeanStore()._get_new_session_key() for _ in range(3000)]
    assert len(set(keys)) == len(keys)
    assert all(len(key) == 32 and set(key) <= set(VALID_KEY_CHARS) for key in keys)
    counts = Counter("".join(keys))
    expected = 32 * len(keys) / len(VALID_KEY_CHARS)
    chi_square = sum((counts[char] - expected) ** 2 / expected for char in VALID_KEY_CHARS)
    assert chi_square < 68.0  # 35 degrees of freedom, p = 0.0008
