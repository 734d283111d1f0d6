"""J1: the lift job reads only the locks whose lift is not yet recorded.

The plain index on LoginGuard.locked_until (every lock ever set) gives way
to a partial index holding only the locks whose lift is not recorded
(live, or due for the job). Logins lock guard rows, so on PostgreSQL both
indexes change CONCURRENTLY, outside a transaction; SQLite does it plainly.
"""

from django.db import migrations, models

from login.models import LIFT_UNRECORDED

NEW = models.Index(fields=["locked_until"], name="guard_lift_unrecorded", condition=LIFT_UNRECORDED)


def _plain_index_names(schema_editor, model) -> list[str]:
    column = model._meta.get_field("locked_until").column
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and info["columns"] == [column] and name != NEW.name
    ]


def _plain_field(db_index: bool) -> models.DateTimeField:
    field = models.DateTimeField(null=True, blank=True, db_index=db_index)
    field.set_attributes_from_name("locked_until")
    return field


def forwards(apps, schema_editor):
    guard = apps.get_model("login", "LoginGuard")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(guard, NEW, concurrently=True)
        for name in _plain_index_names(schema_editor, guard):
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
    else:
        # SQLite remakes the table to drop an index, from the state before
        # this migration, which has no NEW: so NEW comes after.
        schema_editor.alter_field(guard, _plain_field(True), _plain_field(False))
        schema_editor.add_index(guard, NEW)


def backwards(apps, schema_editor):
    guard = apps.get_model("login", "LoginGuard")
    if schema_editor.connection.vendor == "postgresql":
        field = _plain_field(True)
        field.model = guard
        schema_editor.execute(schema_editor._create_index_sql(guard, fields=[field], concurrently=True))
        schema_editor.remove_index(guard, NEW, concurrently=True)
    else:
        schema_editor.remove_index(guard, NEW)  # before the table is remade
        schema_editor.alter_field(guard, _plain_field(False), _plain_field(True))


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("login", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="loginguard",
                    name="locked_until",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.AddIndex(model_name="loginguard", index=NEW),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
