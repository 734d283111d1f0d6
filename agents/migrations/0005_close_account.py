"""A8: customer service closes a client's account (`accounts.close_account`,
on Account), with the reason and the caller's identity verification."""

from django.db import migrations

CLOSE = ("accounts", "account", "close_account", "Can close a client's account (A8)")
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
    app_label, model, codename, name = CLOSE
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.update_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    customer_service.permissions.add(permission)


def remove_permission(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    app_label, _model, codename, _name = CLOSE
    Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0004_returns_permissions"), ("accounts", "0006_account_closure")]

    operations = [migrations.RunPython(add_permission, remove_permission)]
