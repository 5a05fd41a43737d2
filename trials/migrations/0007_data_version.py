from django.db import migrations

# The registry's data version (trials/data_version.py): a table of one row, outside the models so that neither a
# backup nor `flush` carries or empties it. The triggers that change it are put on every table after each migrate
# (post_migrate), as the tables they cover change with the models.


def create(apps, schema_editor):
    from trials.data_version import create_table

    create_table(schema_editor.connection)


def drop(apps, schema_editor):
    from trials.data_version import drop_table

    drop_table(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("trials", "0006_identifier_trigram_and_facet_indexes")]

    operations = [migrations.RunPython(create, drop)]
