"""D5: customer service reports a client's device lost, stolen or damaged
(`devices.report_device`, on SecurityDevice)."""

from django.db import migrations

REPORT = ("devices", "securitydevice", "report_device", "Can report a device lost, stolen or damaged (D5)")
CUSTOMER_SERVICE = "Customer service"


def _ensure_model_permissions(apps) -> None:
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def add_permission(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    _ensure_model_permissions(apps)
    app_label, model, codename, name = REPORT
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.update_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    customer_service.permissions.add(permission)


def remove_permission(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    app_label, _model, codename, _name = REPORT
    Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0002_b2_permissions")]

    operations = [migrations.RunPython(add_permission, remove_permission)]
