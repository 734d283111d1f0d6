from django.db import migrations, models


def from_country(apps, schema_editor):
    Client = apps.get_model("accounts", "Client")
    Client.objects.filter(country="IT").update(language="it")
    Client.objects.exclude(country="IT").update(language="en")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("en", "English"), ("it", "Italiano")],
                help_text="E-mails and printed cards are in this language. Empty: from the country of residence.",
                max_length=8,
                verbose_name="preferred language",
            ),
        ),
        migrations.RunPython(from_country, migrations.RunPython.noop),
    ]
