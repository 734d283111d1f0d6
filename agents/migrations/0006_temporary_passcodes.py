"""A2, SECURITY.md 18: customer service issues and revokes temporary passcodes
(`passcodes.issue_temporary_passcode`, `passcodes.revoke_temporary_passcode`,
on TemporaryPasscode) and sees passcodes and online cards, read-only; the
security team sees them too."""

from django.db import migrations

ACTION_PERMISSIONS = [
    ("passcodes", "temporarypasscode", "issue_temporary_passcode", "Can issue a temporary passcode (A2)"),
    ("passcodes", "temporarypasscode", "revoke_temporary_passcode", "Can revoke a temporary passcode"),
]
CUSTOMER_SERVICE = "Customer service"
SECURITY_TEAM = "Security team"
CUSTOMER_SERVICE_PERMISSIONS = [
    ("passcodes", "issue_temporary_passcode"),
    ("passcodes", "revoke_temporary_passcode"),
    ("passcodes", "view_temporarypasscode"),
    ("passcodes", "view_onlinecard"),
]
SECURITY_TEAM_PERMISSIONS = [
    ("passcodes", "view_temporarypasscode"),
    ("passcodes", "view_onlinecard"),
]


def _ensure_model_permissions(apps) -> None:
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _permissions(Permission, wanted):
    return [Permission.objects.get(content_type__app_label=label, codename=codename) for label, codename in wanted]


def add_permissions(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    _ensure_model_permissions(apps)
    for app_label, model, codename, name in ACTION_PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        Permission.objects.update_or_create(content_type=content_type, codename=codename, defaults={"name": name})
    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    customer_service.permissions.add(*_permissions(Permission, CUSTOMER_SERVICE_PERMISSIONS))
    security_team, _ = Group.objects.get_or_create(name=SECURITY_TEAM)
    security_team.permissions.add(*_permissions(Permission, SECURITY_TEAM_PERMISSIONS))


def remove_permissions(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    for app_label, _model, codename, _name in ACTION_PERMISSIONS:
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0005_close_account"),
        ("passcodes", "0001_initial"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
