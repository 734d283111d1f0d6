"""Rows read and written with SQL written once, as the ORM would make them.

For the statements every login makes (login/statements.py, the factors
step 2 loads in devices/models.py, the audit events of audit/trail.py): the ORM builds a statement anew
at every call, which on the login's hot path costs more than running it (a
`select_related` read took 1.2 ms of Python against 0.1 ms for its SQL;
benchmarks/RESULTS.md). Values are prepared with each field's
`get_db_prep_save` and rows converted with the backend's and the fields'
own converters, exactly as the ORM does. Nothing else should use this:
everywhere off the two login steps, plain ORM.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def columns(model: type[models.Model], alias: str) -> tuple[str, tuple]:
    """The SELECT list of a model's concrete fields, and their converters."""
    fields = model._meta.concrete_fields
    select = ", ".join(f"{alias}.{quote(field.column)}" for field in fields)
    converters = []
    for field in fields:
        column = field.get_col(alias)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        converters.append((column, tuple(found)))
    return select, tuple(converters)


def instance(model: type[models.Model], alias: str, values) -> models.Model:
    _select, converters = columns(model, alias)
    converted = []
    for value, (column, functions) in zip(values, converters, strict=True):
        for function in functions:
            value = function(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [field.attname for field in model._meta.concrete_fields], converted)


@cache
def _insert_sql(model: type[models.Model]) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(field for field in meta.concrete_fields if field is not meta.pk)
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) RETURNING {quote(meta.pk.column)}"
    return sql, fields


def insert(obj: models.Model) -> models.Model:
    """One INSERT of a new row, values prepared as Model.save() prepares
    them; no signal is sent (these models have no receivers)."""
    sql, fields = _insert_sql(type(obj))
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def update(model: type[models.Model], pk: int, **values) -> int:
    """UPDATE one row by its key; `values` are field names. Rows changed."""
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", [*params, pk]
        )
        return cursor.rowcount
