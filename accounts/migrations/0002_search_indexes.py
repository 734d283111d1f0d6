"""Indexes for the agents' search (docs/architecture.md "Agents' search").

Django's `__istartswith` compiles to `UPPER(col::text) LIKE UPPER(%s)` on
PostgreSQL, which an index on `UPPER(col)` serves only with the
`text_pattern_ops` operator class (the database's collation is not C).
On SQLite, whose LIKE is case-insensitive and uses no index here, the
same names get plain indexes on UPPER(col), so both databases have one
schema to migrate. Built CONCURRENTLY on PostgreSQL: a million users'
table stays writable meanwhile.
"""

from django.db import migrations, models

INDEXES = [
    ("accounts_client", "first_name", "client_first_name_prefix"),
    ("accounts_client", "last_name", "client_last_name_prefix"),
    ("accounts_client", "email", "client_email_prefix"),
    ("accounts_user", "email", "user_email_prefix"),
]


def create(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for table, column, name in INDEXES:
        if postgresql:
            sql = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} (UPPER({column}::text) text_pattern_ops)"
        else:
            sql = f"CREATE INDEX IF NOT EXISTS {name} ON {table} (UPPER({column}))"
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _table, _column, name in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        # Only its label (translated in the admin); no schema change.
        migrations.AlterField(
            model_name="user",
            name="sessions_valid_after",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="sessions valid after"),
        ),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["last_name", "first_name", "id"], name="client_name_order"),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
