"""The address count reads only the counted outcomes (accounts/lockout.py).

Every login reads and writes the attempts table, so on PostgreSQL the new
index is built and the old one dropped CONCURRENTLY, outside a transaction:
logins go on during the deploy. Elsewhere (SQLite) the usual statements.
"""

from django.db import migrations, models

NEW = models.Index(
    fields=["ip", "at"], name="attempt_ip_at_counted", condition=models.Q(outcome__in=["failed", "refused"])
)
OLD = models.Index(fields=["ip", "at"], name="attempt_ip_at")


def _swap(schema_editor, model, add: models.Index, remove: models.Index) -> None:
    concurrently = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
    schema_editor.add_index(model, add, **concurrently)
    schema_editor.remove_index(model, remove, **concurrently)


def forwards(apps, schema_editor):
    _swap(schema_editor, apps.get_model("accounts", "LoginAttempt"), NEW, OLD)


def backwards(apps, schema_editor):
    _swap(schema_editor, apps.get_model("accounts", "LoginAttempt"), OLD, NEW)


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0004_verbose_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="loginattempt", name="attempt_ip_at"),
                migrations.AddIndex(model_name="loginattempt", index=NEW),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
