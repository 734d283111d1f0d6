"""The retention job finds the attempts older than their period by `at`.

Every login inserts attempts, so on PostgreSQL the index is built
CONCURRENTLY, outside a transaction (no lock that blocks logins); SQLite
builds it plainly.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["at"], name="attempt_at")


def forwards(apps, schema_editor):
    attempt = apps.get_model("login", "LoginAttempt")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(attempt, INDEX, concurrently=True)
    else:
        schema_editor.add_index(attempt, INDEX)


def backwards(apps, schema_editor):
    attempt = apps.get_model("login", "LoginAttempt")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(attempt, INDEX, concurrently=True)
    else:
        schema_editor.remove_index(attempt, INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("login", "0002_guard_lift_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="loginattempt", index=INDEX)],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
