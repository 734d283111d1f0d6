"""login.compiled: the login's hot queries, compiled once, give what the ORM gives."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from devices.models import active_binding_for
from login import flows as flow
from login.compiled import CompiledQuery, FixedUpdate, _name, _numbered, deferred_writes, insert, statement_of
from login.models import LoginGuard, PendingLogin
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
    pending = flow._PENDING_LOGIN.first(token_hash=flow._token_hash(step.token))
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
    with pytest.raises(TypeError):  # None only where the kind allows it
        query.first(username=None)
    nullable = CompiledQuery(lambda email: User.objects.filter(email=email), email=str | None)
    assert nullable.first(email=None) is None and nullable.first(email=alice.email).pk == alice.pk
    with pytest.raises(TypeError):
        query.first(name="alice")


@pytest.mark.django_db(transaction=True)
def test_compiled_query_for_update_needs_a_transaction(alice):
    query = CompiledQuery(
        lambda username: LoginGuard.objects.select_for_update().filter(username=username), username=str
    )
    LoginGuard.objects.create(username="alice")
    with transaction.atomic():
        assert query.first(username="alice").username == "alice"
    # Django's own check would run only at compile time; ours runs every time.
    with pytest.raises(TransactionManagementError):
        query.first(username="alice")


def test_compiled_query_datetime_placeholder(alice):
    query = CompiledQuery(
        lambda since: User.objects.filter(date_joined__gte=since, client__isnull=False), since=datetime
    )
    joined = alice.date_joined
    assert [user.pk for user in query.all(since=joined - timedelta(seconds=1))] == [alice.pk]
    assert query.all(since=joined + timedelta(seconds=1)) == []


def test_insert_writes_the_row_save_would(alice, clock):
    event = AuditEvent(
        action="login", username="alice", ip="2001:db8::1", client=alice.client, details={"scope": "full"}
    )
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


# --- FixedUpdate ---------------------------------------------------------------------------


def test_fixed_update_changes_only_the_matching_row(alice, clock):
    now = timezone.now()
    first = insert(PendingLogin(user=alice, created_at=now, expires_at=now, challenge={"n": 1}))
    other = insert(PendingLogin(user=alice, created_at=now, expires_at=now, challenge={"n": 1}))
    finish = FixedUpdate(PendingLogin, set=["challenge", "finished_at"], where=["pk", "finished_at__isnull"])
    assert finish.run(challenge={"n": 2}, finished_at=now, where_pk=first.pk) == 1
    assert finish.run(challenge={"n": 3}, finished_at=now, where_pk=first.pk) == 0  # finished already
    stored = PendingLogin.objects.get(pk=first.pk)
    assert stored.challenge == {"n": 2} and stored.finished_at == now
    assert PendingLogin.objects.get(pk=other.pk).finished_at is None


def test_fixed_update_checks_its_values(db):
    finish = FixedUpdate(PendingLogin, set=["finished_at"], where=["pk"])
    with pytest.raises(TypeError):
        finish.run(finished_at=None)
    with pytest.raises(ValueError):
        FixedUpdate(PendingLogin, set=["finished_at"], where=["pk__gt"])


# --- prepared statements on PostgreSQL -------------------------------------------------------


def test_numbered_placeholders():
    assert _numbered("SELECT %s, '100%%' WHERE a = %s") == ("SELECT $1, '100%' WHERE a = $2", 2)


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again(postgresql, alice):
    query = by_name()
    assert query.first(username="alice").pk == alice.pk
    connection.close()  # the server forgets the session's prepared statements
    assert query.first(username="alice").pk == alice.pk


def test_prepared_statements_can_be_turned_off(postgresql, alice, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as run:
        assert by_name().first(username="alice").pk == alice.pk
    assert run.captured_queries[0]["sql"].startswith("SELECT")


# --- deferred writes -------------------------------------------------------------------------------


def _event(username: str) -> AuditEvent:
    return AuditEvent(action="test.deferred", username=username)


def test_deferred_writes_survive_an_exception_the_caller_catches(postgresql, clock):
    with transaction.atomic():
        with pytest.raises(RuntimeError), deferred_writes():
            insert(_event("kept"), defer=True)
            raise RuntimeError("a refusal, caught by the view")
        assert AuditEvent.objects.filter(username="kept").exists()


def test_deferred_writes_keep_percent_signs_and_order(postgresql, alice, clock):
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(AuditEvent(action="test.deferred", username="100% sure; really", details={"x": "%s"}), defer=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM audit_auditevent WHERE username LIKE %s", ["100%%"])
            assert cursor.fetchone()[0] == 1
    stored = AuditEvent.objects.get(action="test.deferred")
    assert stored.username == "100% sure; really" and stored.details == {"x": "%s"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.django_db(transaction=True)
def test_deferred_writes_run_at_once_outside_a_block_and_on_sqlite(alice):
    """defer=True changes nothing without a block, or on SQLite: the row is there at once."""
    event = insert(_event("at-once"), defer=True)
    assert event.pk is not None and AuditEvent.objects.filter(pk=event.pk).exists()
    if connection.vendor == "sqlite":
        with transaction.atomic(), deferred_writes():
            event = insert(_event("sqlite"), defer=True)
            assert event.pk is not None and AuditEvent.objects.filter(pk=event.pk).exists()


def test_deferred_writes_keep_their_order_and_the_values_of_the_call(postgresql, alice, clock):
    first, second = timezone.now(), timezone.now() + timedelta(minutes=1)
    last_login = FixedUpdate(User, set=["last_login"], where=["pk"])
    details = {"step": 1}
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(AuditEvent(action="test.deferred", username="alice", details=details), defer=True)
        details["step"] = 2  # after the call: not what is written
        last_login.run(last_login=first, where_pk=alice.pk, defer=True)
        last_login.run(last_login=second, where_pk=alice.pk, defer=True)
    alice.refresh_from_db()
    assert alice.last_login == second
    assert AuditEvent.objects.get(action="test.deferred").details == {"step": 1}


def test_a_statement_behind_deferred_writes_keeps_its_own_row_count(postgresql, alice, clock):
    """Step 2's consume UPDATE decides who owns a challenge by its row count."""
    now = timezone.now()
    pending = insert(PendingLogin(user=alice, created_at=now, expires_at=now, challenge={}))
    consume = FixedUpdate(PendingLogin, set=["finished_at"], where=["pk", "finished_at__isnull"])
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(_event("a"), defer=True)
        insert(_event("b"), defer=True)
        assert consume.run(finished_at=now, where_pk=pending.pk) == 1
        insert(_event("c"), defer=True)
        assert consume.run(finished_at=now, where_pk=pending.pk) == 0


def test_deferred_writes_ride_with_a_statement_without_parameters(postgresql, clock):
    """A SAVEPOINT has no parameters: the queued values are not %-formatted then."""
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(AuditEvent(action="test.deferred", username="50%", details={"x": "%s %%"}), defer=True)
        with transaction.atomic():  # SAVEPOINT .. RELEASE
            pass
    stored = AuditEvent.objects.get(action="test.deferred")
    assert stored.username == "50%" and stored.details == {"x": "%s %%"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_deferred_write_is_never_committed_silently(postgresql, alice):
    """The caller catches its own exception and commits: the lost write must surface."""
    with pytest.raises(DatabaseError), transaction.atomic():
        LoginGuard.objects.create(username="written-before")
        with contextlib.suppress(RuntimeError), deferred_writes():
            insert(AuditEvent(action="test.deferred", rule="far too long for eight"), defer=True)
            raise RuntimeError("a refusal, caught by the view")
    assert not LoginGuard.objects.filter(username="written-before").exists()


def test_a_failing_deferred_write_fails_its_block(postgresql, clock):
    with pytest.raises(DatabaseError), transaction.atomic(), deferred_writes():
        insert(AuditEvent(action="test.deferred", rule="far too long for eight"), defer=True)


@pytest.mark.django_db(transaction=True)
def test_prepared_statements_forgotten_by_the_server_are_prepared_again(postgresql, alice):
    """A pooler or DISCARD ALL: outside a transaction the statement is retried at once."""
    query = by_name()
    assert query.first(username="alice").pk == alice.pk
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert query.first(username="alice").pk == alice.pk


@pytest.mark.django_db(transaction=True)
def test_statement_names_come_from_the_sql():
    """Every process gives one SQL the same name, and two SQLs two names."""
    assert _name("SELECT 1") == _name("SELECT 1") != _name("SELECT 2")
    assert statement_of(f"EXECUTE {_name('SELECT 1')}") == "SELECT 1"


def test_insert_refuses_an_instance_that_has_a_primary_key(alice, clock):
    now = timezone.now()
    pending = insert(PendingLogin(user=alice, created_at=now, expires_at=now))
    with pytest.raises(ValueError):
        insert(pending)


@pytest.mark.django_db(transaction=True)
def test_writes_queued_since_a_savepoint_are_undone_with_it(postgresql, clock):
    """Even when the savepoint's transaction failed meanwhile (a PREPARE that
    failed on the driver's own cursor, say): the queue is not sent in front
    of ROLLBACK TO SAVEPOINT, which would then fail too."""
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(_event("kept"), defer=True)
        with contextlib.suppress(DatabaseError), transaction.atomic():  # SAVEPOINT carries "kept"
            insert(_event("undone"), defer=True)
            with connection.wrap_database_errors, connection.connection.cursor() as raw:
                raw.execute("SELECT 1 / 0")  # not through Django's cursor: nothing rides along
    assert list(AuditEvent.objects.values_list("username", flat=True)) == ["kept"]


def test_only_stale_statement_errors_drop_the_prepared_statements(postgresql):
    from login.compiled import _forget_if_stale

    def error(code: str, message: str) -> DatabaseError:
        failure = DatabaseError(message)
        failure.__cause__ = type("PgError", (Exception,), {"pgcode": code, "pgerror": message})()
        return failure

    assert _forget_if_stale(connection, error("26000", "prepared statement does not exist"))
    assert _forget_if_stale(connection, error("0A000", "ERROR: cached plan must not change result type"))
    assert not _forget_if_stale(connection, error("0A000", "FOR UPDATE cannot be applied to the nullable side"))
    assert not _forget_if_stale(connection, error("23505", "duplicate key value"))


def test_insert_refuses_an_instance_inserted_already_even_deferred(postgresql, clock):
    event = _event("once")
    with transaction.atomic(savepoint=False), deferred_writes():
        insert(event, defer=True)
        with pytest.raises(ValueError):
            insert(event, defer=True)
    assert AuditEvent.objects.filter(username="once").count() == 1
