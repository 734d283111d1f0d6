"""C5: customer service puts a new applicant on file and opens the account
(`accounts.open_account`, on Client: a username, an account, an online
card; and the account's first funding)."""

from django.db import migrations

OPEN = ("accounts", "client", "open_account", "Can open a new applicant's account and record its funding (C5)")
CUSTOMER_SERVICE = "Customer service"


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
    app_label, model, codename, name = OPEN
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.update_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    customer_service, _ = Group.objects.get_or_create(name=CUSTOMER_SERVICE)
    # The applicant is put on file first (the admin's add form), then the account opened.
    add_client = Permission.objects.get(content_type=content_type, codename="add_client")
    customer_service.permissions.add(permission, add_client)


def remove_permissions(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    app_label, _model, codename, _name = OPEN
    group = Group.objects.filter(name=CUSTOMER_SERVICE).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename="add_client"))
    Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0006_temporary_passcodes")]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
