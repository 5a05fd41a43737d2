"""Every migration can be undone: the whole schema migrates to zero and back, leaving it as it was."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from mechanisms.models import Mechanism
from trials.models import Country, RouteTerm


def schema():
    """Every table and its columns (queries the database's catalogue)."""
    with connection.cursor() as cursor:
        return {
            table: sorted(column.name for column in connection.introspection.get_table_description(cursor, table))
            for table in connection.introspection.table_names(cursor)
        }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_migration_is_reversible():
    before = schema()
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    apps_with_migrations = sorted({app for app, _ in leaves})
    assert {"trials", "mechanisms"} <= set(apps_with_migrations)

    executor.migrate([(app, None) for app in apps_with_migrations])  # every app to zero
    remaining = set(schema()) - {"django_migrations"}
    assert remaining == set(), f"tables left after migrating to zero: {sorted(remaining)}"

    call_command("migrate", verbosity=0)  # and back, with the data migrations
    assert schema() == before
    assert Mechanism.objects.count() == 4
    assert Country.objects.count() == 249
    assert RouteTerm.objects.exists()


def test_every_permission_name_fits_the_first_auth_schema():
    """Unmigrating auth to zero narrows permission names to 50 characters (PostgreSQL refuses longer ones): a model's
    custom permission or a long verbose name would break the reversal above."""
    from django.apps import apps

    for model in apps.get_models():
        opts = model._meta
        names = [f"Can {action} {opts.verbose_name_raw}" for action in opts.default_permissions]
        names += [name for _, name in opts.permissions]
        assert all(len(name) <= 50 for name in names), (model.__name__, [n for n in names if len(n) > 50])
