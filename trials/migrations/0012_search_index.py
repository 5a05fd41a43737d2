from django.db import migrations

# The search index (trials/search_index.py): SQLite's FTS5 table; the triggers that keep it (and PostgreSQL's
# search document) in step are put in place after each migrate (post_migrate), with every trial's text rebuilt.
# Undone, the triggers go, and with them the FTS5 table (SQLite) or the related tables' functions (PostgreSQL).


def create(apps, schema_editor):
    from trials.search_index import create_index, install

    create_index(schema_editor.connection)
    install(schema_editor.connection.alias, in_migration=True)


def remove(apps, schema_editor):
    from trials.search_index import remove_index

    remove_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("trials", "0011_trial_edit_version")]

    operations = [migrations.RunPython(create, remove)]
