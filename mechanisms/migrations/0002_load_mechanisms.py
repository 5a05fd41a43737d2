"""Put the document's four mechanisms and three pathway steps in every database."""

from django.db import migrations

from mechanisms.content import MECHANISMS, PATHWAY_STEPS


def load(apps, schema_editor):
    Mechanism = apps.get_model("mechanisms", "Mechanism")
    PathwayStep = apps.get_model("mechanisms", "PathwayStep")
    for model, rows in ((Mechanism, MECHANISMS), (PathwayStep, PATHWAY_STEPS)):
        for row in rows:
            defaults = {key: value for key, value in row.items() if key != "slug"}
            model.objects.get_or_create(slug=row["slug"], defaults=defaults)


def unload(apps, schema_editor):
    apps.get_model("mechanisms", "PathwayStep").objects.filter(slug__in=[r["slug"] for r in PATHWAY_STEPS]).delete()
    apps.get_model("mechanisms", "Mechanism").objects.filter(slug__in=[r["slug"] for r in MECHANISMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("mechanisms", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
