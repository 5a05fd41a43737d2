from django.db import migrations

# PostgreSQL only, like 0005 (SQLite has neither trigram indexes nor partial covering ones worth having here):
# - a trigram index on UPPER(identifier), which Django's icontains and iexact compare: the list's search matches
#   identifiers by substring (NCT0478 finds NCT04786262) and the trial page finds a trial by another spelling of
#   an identifier; without it both read every identifier;
# - a partial index of the published trials holding every column the list's scalar filters and their counts read,
#   so that counting by phase, cell source, sponsor type, immunosuppression or status reads this small index
#   instead of the whole table (bench/RESULTS.md).
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX identifier_value_upper_trgm_idx ON trials_registryidentifier "
    "USING gin (UPPER(value::text) gin_trgm_ops)",
    "CREATE INDEX trial_published_facets_idx ON trials_trial "
    "(phase, cell_source, sponsor_class, immunosuppression, overall_status, status_confirmed_on, start_date, id) "
    "WHERE curation_state = 'PUBLISHED'",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS trial_published_facets_idx",
    "DROP INDEX IF EXISTS identifier_value_upper_trgm_idx",
    # The extension stays: other database objects may use it, and it is harmless.
]


def postgres_only(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("trials", "0005_search_document_and_list_indexes"),
    ]

    operations = [
        migrations.RunPython(postgres_only(POSTGRES_FORWARD), postgres_only(POSTGRES_BACKWARD)),
    ]
