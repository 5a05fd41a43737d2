"""Load the lookup tables of the multi-valued vocabularies: countries, diabetes types, routes."""

import json
from pathlib import Path

from django.db import migrations

COUNTRIES = Path(__file__).resolve().parent.parent / "data" / "countries.json"
DIABETES_TYPES = ["T1D", "T2D", "LADA", "OTHER"]
ROUTES = [
    "INTRAVENOUS",
    "INTRAPANCREATIC",
    "PANCREATIC_ARTERY",
    "PORTAL_VEIN",
    "DEVICE",
    "INTRAMUSCULAR",
    "OMENTUM",
    "EXTRACORPOREAL",
    "OTHER",
]


def load(apps, schema_editor):
    Country = apps.get_model("trials", "Country")
    for row in json.loads(COUNTRIES.read_text())["countries"]:
        Country.objects.update_or_create(code=row["code"], defaults={"name": row["name"]})
    for model, codes in (("DiabetesTypeTerm", DIABETES_TYPES), ("RouteTerm", ROUTES)):
        Model = apps.get_model("trials", model)
        for position, code in enumerate(codes):
            Model.objects.update_or_create(code=code, defaults={"position": position})


def unload(apps, schema_editor):
    for model in ("Country", "DiabetesTypeTerm", "RouteTerm"):
        apps.get_model("trials", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("trials", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
