"""The agents' groups and the permissions of their actions (ARCHITECTURE.md "Agents").

The agent actions are not model edits, so their permissions are defined
here, on the content type of the model they act on, rather than in a
model's Meta: `accounts.unlock_username`, `accounts.send_password_reset`,
`accounts.end_sessions` (on User) and `devices.issue_code_card` (on
SecurityDevice). Nobody gets change or delete on AuditEvent (principle 7).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CUSTOMER_SERVICE = "Customer service"
SECURITY_TEAM = "Security team"

# (app_label, model, codename, name)
ACTION_PERMISSIONS = [
    ("accounts", "user", "unlock_username", "Can unlock a locked username (L3)"),
    ("accounts", "user", "send_password_reset", "Can send a password-reset link to the e-mail of record (L5)"),
    ("accounts", "user", "end_sessions", "Can end all sessions of a username (SECURITY.md 5)"),
    ("devices", "securitydevice", "issue_code_card", "Can issue a Security Code Card (D5)"),
]

CUSTOMER_SERVICE_PERMISSIONS = [
    ("accounts", "view_client"),
    ("accounts", "view_user"),
    ("accounts", "view_account"),
    ("accounts", "view_identityverification"),
    ("accounts", "add_identityverification"),
    ("audit", "view_auditevent"),
    ("devices", "view_securitydevice"),
    ("accounts", "unlock_username"),
    ("accounts", "send_password_reset"),
    ("accounts", "end_sessions"),
    ("devices", "issue_code_card"),
]

# The security team sees everything; its B2 approvals come with B2.
SECURITY_TEAM_APPS = ("accounts", "audit", "devices", "login")


def _ensure_model_permissions(apps) -> None:
    # On a fresh database the default permissions only appear after all
    # migrations (post_migrate); create them now so the groups can get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_groups(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    _ensure_model_permissions(apps)
    for app_label, model, codename, name in ACTION_PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        Permission.objects.update_or_create(content_type=content_type, codename=codename, defaults={"name": name})

    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    customer_service.permissions.add(
        *[
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in CUSTOMER_SERVICE_PERMISSIONS
        ]
    )

    security_team, _ = Group.objects.get_or_create(name=SECURITY_TEAM)
    security_team.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=SECURITY_TEAM_APPS, codename__startswith="view_")
    )


def remove_groups(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name__in=[CUSTOMER_SERVICE, SECURITY_TEAM]).delete()
    for app_label, _model, codename, _name in ACTION_PERMISSIONS:
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("devices", "0001_initial"),
        ("login", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
