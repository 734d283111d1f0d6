"""sls_portal.compiled: the login's hot queries, compiled once, give what the ORM gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import login as flow
from accounts.models import AuditEvent, LoginGuard, PendingLogin, User
from devices.models import active_binding_for
from sls_portal.compiled import CompiledQuery, insert
from tests.conftest import PASSWORD


def by_name():
    return CompiledQuery(lambda username: User.objects.filter(username=username).select_related("client"), username=str)


def test_compiled_query_builds_what_the_orm_builds(alice, bob, clock):
    """Fields, select_related objects and annotations, as ModelIterable makes them."""
    compiled = flow._USER_FOR_LOGIN.first(username="alice")
    orm = flow._user_for_login("alice").first()
    assert compiled.pk == orm.pk == alice.pk
    assert compiled.password == orm.password
    assert compiled.client == orm.client and compiled.client.email == alice.client.email
    assert compiled.binding_id == orm.binding_id == active_binding_for(alice).pk
    assert compiled.device_type == orm.device_type == "code_card"
    assert compiled._state.adding is False and compiled._state.db == "default"
    # The same compiled SQL with another value finds another row; bob has no device.
    other = flow._USER_FOR_LOGIN.first(username="bob")
    assert other.pk == bob.pk and other.binding_id is None
    assert flow._USER_FOR_LOGIN.first(username="nobody") is None


def test_compiled_query_applies_field_converters(alice, clock):
    """JSON, aware datetimes (strings on SQLite) and the encrypted seed come back as Python values."""
    step = flow.check_password_step("alice", PASSWORD, ip="192.0.2.1", channel="web", now=timezone.now())
    pending = flow._PENDING_LOGIN.first(pk=step.pending.pk)
    assert pending.challenge == step.pending.challenge and isinstance(pending.challenge["positions"], list)
    assert pending.expires_at == step.pending.expires_at and pending.expires_at.tzinfo is not None
    assert pending.finished_at is None
    assert pending.user.client.pk == alice.client_id
    device = pending.binding.security_device
    assert device.seed == active_binding_for(alice).security_device.seed


def test_compiled_query_compiles_once_per_connection(alice, bob):
    query = by_name()
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as as_sql:
        assert query.first(username="alice").pk == alice.pk
        assert as_sql.call_count == 1
        with CaptureQueriesContext(connection) as run:
            assert query.first(username="bob").pk == bob.pk
        assert as_sql.call_count == 1
    assert len(run.captured_queries) == 1


def test_compiled_query_refuses_a_placeholder_it_does_not_use(db):
    query = CompiledQuery(lambda username, pk: User.objects.filter(username=username), username=str, pk=int)
    with pytest.raises(ValueError, match="pk"):
        query.first(username="alice", pk=1)


def test_compiled_query_checks_its_parameters(alice):
    query = by_name()
    with pytest.raises(TypeError):
        query.first(username=7)
    with pytest.raises(TypeError):
        query.first(name="alice")


@pytest.mark.django_db(transaction=True)
def test_compiled_query_for_update_needs_a_transaction(alice):
    query = CompiledQuery(lambda username: LoginGuard.objects.select_for_update().filter(username=username), username=str)
    LoginGuard.objects.create(username="alice")
    with transaction.atomic():
        assert query.first(username="alice").username == "alice"
    # Django's own check would run only at compile time; ours runs every time.
    with pytest.raises(TransactionManagementError):
        query.first(username="alice")


def test_compiled_query_datetime_placeholder(alice):
    query = CompiledQuery(lambda since: User.objects.filter(date_joined__gte=since, client__isnull=False), since=datetime)
    joined = alice.date_joined
    assert [user.pk for user in query.all(since=joined - timedelta(seconds=1))] == [alice.pk]
    assert query.all(since=joined + timedelta(seconds=1)) == []


def test_insert_writes_the_row_save_would(alice, clock):
    event = AuditEvent(action="login", username="alice", ip="2001:db8::1", client=alice.client, details={"scope": "full"})
    with CaptureQueriesContext(connection) as run:
        insert(event)
    assert len(run.captured_queries) == 1
    assert event.pk is not None and event._state.adding is False
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.at == timezone.now()  # the field's default, as save() fills it
    assert stored.details == {"scope": "full"} and stored.ip == "2001:db8::1"
    assert stored.client_id == alice.client_id and stored.outcome == "ok"


def test_insert_sets_each_new_primary_key(alice, clock):
    now = timezone.now()
    first = insert(PendingLogin(user=alice, created_at=now, expires_at=now, challenge={"a": 1}))
    second = insert(PendingLogin(user=alice, created_at=now, expires_at=now, challenge={"a": 2}))
    assert second.pk != first.pk
    assert PendingLogin.objects.get(pk=second.pk).challenge == {"a": 2}
