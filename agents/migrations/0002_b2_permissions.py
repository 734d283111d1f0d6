"""B2: the Security team approves or rejects clients' changes of banking
instructions and e-mail address (`accounts.decide_change_request`, on
ChangeRequest), and sees the queue and the money requests."""

from django.db import migrations

DECIDE = ("accounts", "changerequest", "decide_change_request", "Can approve or reject a change request (B2)")
SECURITY_TEAM = "Security team"
SECURITY_TEAM_PERMISSIONS = [
    ("accounts", "decide_change_request"),
    ("accounts", "view_changerequest"),
    ("accounts", "view_bankinginstructions"),
    ("accounts", "view_withdrawal"),
    ("accounts", "view_deposit"),
]


def _ensure_model_permissions(apps) -> None:
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def add_permissions(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    _ensure_model_permissions(apps)
    app_label, model, codename, name = DECIDE
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    Permission.objects.update_or_create(content_type=content_type, codename=codename, defaults={"name": name})
    security_team, _ = Group.objects.get_or_create(name=SECURITY_TEAM)
    security_team.permissions.add(
        *[
            Permission.objects.get(content_type__app_label=label, codename=codename)
            for label, codename in SECURITY_TEAM_PERMISSIONS
        ]
    )


def remove_permissions(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    app_label, _model, codename, _name = DECIDE
    Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_agent_groups"),
        ("accounts", "0004_money_movement"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
