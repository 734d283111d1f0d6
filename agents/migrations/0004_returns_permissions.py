"""T3, T5, T6: customer service records the receipt of returned devices
(`returns.record_receipt`), edits the notes of a return, charges devices
(`returns.charge_device`) and waives charges (`returns.waive_charge`); the
security team sees them. Nobody may delete a return or a charge."""

from django.db import migrations

CUSTOMER_SERVICE = "Customer service"
SECURITY_TEAM = "Security team"

CUSTOMER_SERVICE_PERMISSIONS = [
    ("returns", "view_devicereturn"),
    ("returns", "change_devicereturn"),
    ("returns", "record_receipt"),
    ("returns", "view_devicecharge"),
    ("returns", "charge_device"),
    ("returns", "waive_charge"),
]
SECURITY_TEAM_PERMISSIONS = [("returns", "view_devicereturn"), ("returns", "view_devicecharge")]


def _ensure_model_permissions(apps) -> None:
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def add_permissions(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    _ensure_model_permissions(apps)
    for name, wanted in ((CUSTOMER_SERVICE, CUSTOMER_SERVICE_PERMISSIONS), (SECURITY_TEAM, SECURITY_TEAM_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *[
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in wanted
            ]
        )


def remove_permissions(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ((CUSTOMER_SERVICE, CUSTOMER_SERVICE_PERMISSIONS), (SECURITY_TEAM, SECURITY_TEAM_PERMISSIONS)):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label="returns", codename__in=[codename for _app, codename in wanted]
                )
            )


class Migration(migrations.Migration):
    dependencies = [("agents", "0003_report_device"), ("returns", "0001_initial")]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
