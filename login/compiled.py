"""ORM queries compiled once per connection and run many times.

The ORM turns a QuerySet into SQL anew every time it is evaluated; on the
login's hot path that compilation costs more than running the query does
(benchmarks/RESULTS.md). A `CompiledQuery` builds its QuerySet with the ORM
once per database connection, keeps the SQL it compiles to, and runs that
SQL with new parameter values. Rows become model instances exactly as the
ORM makes them: select_related() objects, annotations, and each field's
converters from the database (JSON, datetimes on SQLite, booleans).

    user_by_name = CompiledQuery(
        lambda username: User.objects.filter(username=username).select_related("client"),
        username=str,
    )
    user = user_by_name.first(username="alice")

The builder receives placeholders (sentinel values of the declared types:
str, int or datetime) and must use each of them at least once; the values
given at run time (of that type; None only where the kind says so, as
in `ip=str | None`) replace them in the compiled parameters. The query must not depend on anything else that changes
between runs. A datetime placeholder given to RawSQL must be adapted by
the builder as the ORM adapts it (connection.ops.adapt_datetimefield_value).

`insert()` and `FixedUpdate` do the same for the rows a login writes, and
`execute()` runs any of these fixed statements: on PostgreSQL as a prepared
statement of the connection (parsed and planned once, not at every run),
unless settings.DATABASE_PREPARED_STATEMENTS is off (behind a pooler in
transaction mode, such as PgBouncer's, a session's prepared statements
cannot be relied on).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import types
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

Kind = type[str] | type[int] | type[datetime]

# --- prepared statements ---------------------------------------------------------

# A statement's name comes from its SQL, so every process gives the same SQL
# the same name (and never one SQL's name to another).
_statements: dict[str, str] = {}  # name -> SQL, for statement_of()
_EXECUTE = re.compile(r"EXECUTE (sls_[0-9a-f]+)\b")
_PLACEHOLDER = re.compile(r"%%|%s")
# What the server says when a connection's prepared statements are not
# what this process thinks: gone (a pooler, DISCARD ALL), already there, or
# planned for a table whose columns changed since (a migration; 0A000 is
# "feature not supported" in general, so its message is checked too).
_STALE = {"26000", "42P05"}
_CHANGED_COLUMNS = ("0A000", "cached plan must not change result type")


_names: dict[str, str] = {}  # SQL -> name


def _name(sql: str) -> str:
    name = _names.get(sql)
    if name is None:
        name = "sls_" + hashlib.sha256(sql.encode()).hexdigest()[:20]
        _statements.setdefault(name, sql)
        _names[sql] = name
    return name


def _numbered(sql: str) -> tuple[str, int]:
    """The SQL with PostgreSQL's $1, $2 .. for the driver's %s, and their number."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql), count


def statement_of(sql: str) -> str:
    """The SQL behind an EXECUTE of ours (for logs and tests), else sql."""
    match = _EXECUTE.match(sql)
    return _statements.get(match.group(1), sql) if match else sql


def _psycopg2(connection) -> bool:
    """Prepared statements and deferred writes are built on psycopg2's
    client-side binding (mogrify, the last result of a multi-statement
    query); with another driver the statements simply run as they are."""
    return connection.vendor == "postgresql" and connection.Database.__name__ == "psycopg2"


def execute(cursor, sql: str, params: list | tuple, *, defer: bool = False, prepare: bool = True) -> bool:
    """Run a fixed statement on a cursor of django.db; see the module's doc.

    The PREPARE goes straight to the driver (no execute wrapper counts it
    as a query); the EXECUTE goes through Django's cursor like any query.
    A new database connection prepares its statements again, and so does
    one whose server forgot them or planned them for columns that have
    changed since (the statement that finds out fails; outside a
    transaction it is retried at once).

    defer=True, inside deferred_writes(): the statement waits for the next
    round trip instead of making its own, and False is returned (the
    cursor then holds no result of it). prepare=False: a statement
    PostgreSQL cannot prepare (SET)."""
    connection = cursor.db
    prepared = prepare and _psycopg2(connection) and getattr(settings, "DATABASE_PREPARED_STATEMENTS", True)
    queue = connection.__dict__.get("_sls_deferred") if defer else None
    if queue is not None:
        try:
            statement = _prepared(connection, sql, len(params)) if prepared else sql
        except DatabaseError as error:
            _forget_if_stale(connection, error)
            raise
        # Quoted now: a value changed after the call (a dict) is not what is written.
        with connection.connection.cursor() as raw:
            queue.append(raw.mogrify(statement, params).decode())
        return False
    if not prepared:
        cursor.execute(sql, params)
        return True
    try:
        cursor.execute(_prepared(connection, sql, len(params)), params)
    except DatabaseError as error:
        if not _forget_if_stale(connection, error) or not connection.get_autocommit():
            raise
        cursor.execute(_prepared(connection, sql, len(params)), params)
    return True


def _forget_if_stale(connection, error: Exception) -> bool:
    """After a stale-statement error: prepare everything anew, starting
    with DEALLOCATE ALL at the next use. True if it was such an error."""
    cause = error.__cause__
    code, message = getattr(cause, "pgcode", None), getattr(cause, "pgerror", None) or ""
    if code not in _STALE and not (code == _CHANGED_COLUMNS[0] and _CHANGED_COLUMNS[1] in message):
        return False
    connection.__dict__["_sls_prepared"] = (connection.connection, None)
    return True


def _prepared(connection, sql: str, count: int) -> str:
    """The EXECUTE of sql's prepared statement on this connection."""
    name = _name(sql)
    raw = connection.connection
    state = connection.__dict__.get("_sls_prepared")
    if state is None or state[0] is not raw or state[1] is None:
        with connection.wrap_database_errors, raw.cursor() as cursor:
            if state is not None and state[0] is raw:
                cursor.execute("DEALLOCATE ALL")  # after a stale-statement error
        state = connection.__dict__["_sls_prepared"] = (raw, set())
    if name not in state[1]:
        numbered, placeholders = _numbered(sql)
        if placeholders != count:
            raise ValueError(f"{placeholders} placeholders for {count} parameters")
        with connection.wrap_database_errors, raw.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {numbered}")
        state[1].add(name)
    return f"EXECUTE {name} ({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


# --- writes that travel with the next statement ---------------------------------------------


@contextmanager
def deferred_writes(using: str = DEFAULT_DB_ALIAS):
    """Inside a transaction: statements whose results nobody reads ride along.

    A login step writes several rows whose ids or counts nobody reads (its
    attempt's outcome, its audit event, last_login), and takes a row lock
    ahead of the read it guards (accounts/lockout.py). Inside this block,
    execute(.., defer=True) queues such a statement, its values quoted at
    once; on PostgreSQL (psycopg2) the queue is sent with the next
    statement of any kind, in the same round trip and in order (so a later
    read sees the writes, and the statement's own result and row count are
    what the cursor holds), and what is left is sent when the block ends,
    before the transaction commits, also when an exception leaves it. A
    failing write is reported by the statement it travelled with, or, at
    the end, raised (chained to an exception on its way out, if any), so a
    caller never commits a transaction that lost it. SQLite has no round
    trips to save: there nothing waits. Nested blocks share the outer queue.
    """
    connection = connections[using]
    if not _psycopg2(connection) or connection.__dict__.get("_sls_deferred") is not None:
        yield
        return
    if not connection.in_atomic_block:
        raise TransactionManagementError("deferred_writes() must run inside a transaction")
    queue: list[str] = []
    connection.__dict__["_sls_deferred"] = queue
    try:
        with connection.execute_wrapper(_ride_along(queue)):
            try:
                yield
            except BaseException:
                # The caller may catch this and commit: the writes must not be
                # lost then. After a database error the transaction is lost
                # anyway, and that error is the one to report.
                if queue and not connection.needs_rollback and not _failed(connection):
                    _send(connection, queue)
                raise
            if queue:
                _send(connection, queue)
    finally:
        connection.__dict__["_sls_deferred"] = None


def _failed(connection) -> bool:
    """The transaction is lost already (a statement failed, or the
    connection broke): nothing more can be written in it, and Django is
    told so (no later query, no commit)."""
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS

    if connection.connection.get_transaction_status() in (TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS):
        return False
    connection.needs_rollback = True
    return True


def _send(connection, queue: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_joined(queue))  # the wrapper finds the queue empty


def _joined(queue: list[str]) -> str:
    text = "".join(statement + "; " for statement in queue)
    queue.clear()
    return text


def _ride_along(queue: list[str]):
    def wrapper(execute, sql, params, many, context):
        try:
            if not queue:
                return execute(sql, params, many, context)
            if sql.lstrip()[:8].upper() == "ROLLBACK":
                # ROLLBACK TO SAVEPOINT: what was queued since the savepoint
                # (the SAVEPOINT carried what came before) is undone unsent.
                queue.clear()
                return execute(sql, params, many, context)
            text = _joined(queue)
            if many:
                execute(text, None, False, context)
                return execute(sql, params, many, context)
            if params is None:
                return execute(text + sql, None, many, context)
            return execute(text.replace("%", "%%") + sql, params, many, context)
        except DatabaseError as error:
            _forget_if_stale(context["connection"], error)
            raise

    return wrapper


class _Compiled:
    """One query's SQL and row-building state, for one connection."""

    def __init__(self, queryset: QuerySet, sentinels: dict[str, object], kinds: dict[str, Kind], connection):
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.slots: list[tuple[int, str]] = []
        adapted = {name: _adapt(kinds[name], value, connection) for name, value in sentinels.items()}
        for index, param in enumerate(self.params):
            for name, sentinel in adapted.items():
                if type(param) is type(sentinel) and param == sentinel:
                    self.slots.append((index, name))
        missing = set(sentinels) - {name for _index, name in self.slots}
        if missing:
            raise ValueError(f"the compiled query does not use the placeholder(s) {sorted(missing)}")
        self.for_update = queryset.query.select_for_update
        self.compiler = compiler
        self.converters = compiler.get_converters([column for column, _sql, _alias in compiler.select])
        info = compiler.klass_info
        self.model = info["model"]
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        self.fields = (start, end)
        self.init_list = [column.target.attname for column, _sql, _alias in compiler.select[start:end]]
        self.populators = get_related_populators(info, compiler.select, connection.alias)
        self.annotations = dict(compiler.annotation_col_map or {})


def _base(kind) -> tuple[Kind, bool]:
    """str | None -> (str, True): the type, and whether None may be given."""
    members = getattr(kind, "__args__", None)
    if isinstance(kind, types.UnionType) and members and type(None) in members:
        rest = [member for member in members if member is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return kind, False


def _adapt(kind, value, connection):
    kind, nullable = _base(kind)
    if value is None:
        if not nullable:
            raise TypeError(f"None given for a {kind.__name__} that may not be NULL")
        return None  # NULL: matches nothing with =
    if kind is datetime:
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        return connection.ops.adapt_datetimefield_value(value)
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _sentinel(kind, taken: set) -> object:
    """A value of this kind that no real parameter will equal."""
    kind, _nullable = _base(kind)
    while True:
        if kind is str:
            value = "\x00compiled-" + secrets.token_hex(16)
        elif kind is int:
            value = 2**61 + secrets.randbelow(2**60)  # within a BIGINT, far above any id
        elif kind is datetime:
            value = datetime(1, 1, 2, 3, 4, 5, secrets.randbelow(10**6), tzinfo=UTC)
        else:
            raise TypeError(f"placeholders are str, int or datetime, not {kind!r}")
        if value not in taken:
            taken.add(value)
            return value


class CompiledQuery:
    def __init__(self, build: Callable[..., QuerySet], using: str = DEFAULT_DB_ALIAS, **kinds: Kind):
        self.build = build
        self.using = using
        self.kinds = kinds
        # One compilation per connection object (connections are per thread).
        self._cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _compiled(self, connection) -> _Compiled:
        compiled = self._cache.get(connection)
        if compiled is None:
            taken: set = set()
            sentinels = {name: _sentinel(kind, taken) for name, kind in self.kinds.items()}
            compiled = _Compiled(self.build(**sentinels), sentinels, self.kinds, connection)
            with self._lock:
                self._cache[connection] = compiled
        return compiled

    def all(self, **values) -> list:
        if set(values) != set(self.kinds):
            raise TypeError(f"expected the parameters {sorted(self.kinds)}, got {sorted(values)}")
        connection = connections[self.using]
        compiled = self._compiled(connection)
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(compiled.params)
        for index, name in compiled.slots:
            params[index] = _adapt(self.kinds[name], values[name], connection)
        with connection.cursor() as cursor:
            execute(cursor, compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        start, end = compiled.fields
        objects = []
        for row in rows:
            obj = compiled.model.from_db(self.using, compiled.init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def first(self, **values):
        """The first row's instance, or None. The query orders and limits itself."""
        rows = self.all(**values)
        return rows[0] if rows else None


class _Insert:
    """One model's INSERT statement, for one connection."""

    def __init__(self, model, connection):
        meta = model._meta
        self.pk = meta.pk
        self.fields = [field for field in meta.concrete_fields if field is not meta.pk or not meta.pk.db_returning]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self.fields)
        values = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"
        self.bare_sql = self.sql  # for a deferred INSERT: nothing to return
        self.returning = self.pk not in self.fields and connection.features.can_return_columns_from_insert
        if self.returning:
            self.sql += f" RETURNING {quote(meta.db_table)}.{quote(self.pk.column)}"


_inserts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_inserts_lock = threading.Lock()


def insert(obj, using: str = DEFAULT_DB_ALIAS, *, defer: bool = False):
    """Save a new instance with one INSERT compiled once per model.

    For the append-only rows a login writes (attempts, audit events,
    pending logins). Each field's value is prepared as Model.save() would
    (defaults, pre_save, JSON and address adaptation); no pre_save or
    post_save signal is sent, so a model saved this way must have no
    receivers. Returns the instance, with its primary key set, unless
    defer=True let the INSERT wait inside deferred_writes() (no key then).
    """
    if not obj._state.adding or (obj.pk is not None and type(obj)._meta.pk.db_returning):
        raise ValueError(f"insert() makes new rows; this {type(obj).__name__} is stored already")
    connection = connections[using]
    per_model = _inserts.get(connection)
    if per_model is None:
        with _inserts_lock:
            per_model = _inserts.setdefault(connection, {})
    statement = per_model.get(type(obj))
    if statement is None:
        statement = per_model[type(obj)] = _Insert(type(obj), connection)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in statement.fields]
    deferring = defer and connection.__dict__.get("_sls_deferred") is not None
    with connection.cursor() as cursor:
        if not execute(cursor, statement.bare_sql if deferring else statement.sql, params, defer=deferring):
            obj._state.adding = False
            obj._state.db = using
            return obj
        if statement.returning:
            obj.pk = cursor.fetchone()[0]
        elif statement.pk not in statement.fields:
            obj.pk = connection.ops.last_insert_id(cursor, type(obj)._meta.db_table, statement.pk.column)
    obj._state.adding = False
    obj._state.db = using
    return obj


class FixedUpdate:
    """One UPDATE of one model, its SQL built once from the model's fields.

        consume = FixedUpdate(PendingLogin, set=["challenge", "finished_at"], where=["pk", "finished_at__isnull"])
        changed = consume.run(challenge={}, finished_at=now, where_pk=7)

    Each `where` entry is a field compared with `=` to the value given as
    where_<name>, or `<field>__isnull` (IS NULL, no value). Values are
    prepared as Model.save() prepares them; no signal is sent. Returns the
    number of rows changed.
    """

    def __init__(self, model, *, set: list[str], where: list[str], using: str = DEFAULT_DB_ALIAS):
        self.model = model
        self.using = using
        meta = model._meta
        self.set_fields = [meta.get_field(name) for name in set]
        self.where: list[tuple[str, object, bool]] = []  # (value name, field, compared to a value)
        for entry in where:
            name, _sep, lookup = entry.partition("__")
            if lookup not in ("", "isnull"):
                raise ValueError(f"only = and __isnull are supported, not {entry!r}")
            field = meta.pk if name == "pk" else meta.get_field(name)
            self.where.append((f"where_{name}", field, lookup == ""))
        self._sql: str | None = None

    def sql(self, connection) -> str:
        if self._sql is None:
            quote = connection.ops.quote_name
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.set_fields)
            conditions = " AND ".join(
                f"{quote(field.column)} = %s" if compared else f"{quote(field.column)} IS NULL"
                for _name, field, compared in self.where
            )
            self._sql = f"UPDATE {quote(self.model._meta.db_table)} SET {assignments} WHERE {conditions}"
        return self._sql

    def run(self, *, defer: bool = False, **values) -> int | None:
        """The rows changed; None when defer=True let it wait (deferred_writes())."""
        expected = {field.name for field in self.set_fields} | {name for name, _f, compared in self.where if compared}
        if set(values) != expected:
            raise TypeError(f"expected the values {sorted(expected)}, got {sorted(values)}")
        connection = connections[self.using]
        params = [field.get_db_prep_save(values[field.name], connection) for field in self.set_fields]
        params += [field.get_db_prep_save(values[name], connection) for name, field, compared in self.where if compared]
        with connection.cursor() as cursor:
            if not execute(cursor, self.sql(connection), params, defer=defer):
                return None
            return cursor.rowcount
