"""Backup and restore round-trip the whole registry: trials, links, history, users, with nothing lost."""

import gzip

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import CommandError, call_command

from mechanisms.models import Mechanism
from tests.factories import PublicationFactory, SourceFactory, TrialFactory, trial_with
from trials.backup import backed_up_models
from trials.models import Trial
from trials.vocabularies import CurationState

# Real transactions: a restore empties tables, which PostgreSQL refuses inside a transaction that
# has just written to them (as a test's wrapping transaction would have).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def fresh_content_type_cache():
    """These tests flush the database: content types get new keys, then the test's teardown restores
    the old ones. Django caches them per process, so the cache is emptied each time.
    """
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def snapshot():
    """Every backed-up row, serialized with names for content types and permissions."""
    return {
        label: serializers.serialize(
            "python", apps.get_model(label)._default_manager.order_by("pk"), use_natural_foreign_keys=True
        )
        for label in backed_up_models()
    }


def build_registry():
    editors = Group.objects.create(name="Editors")
    editors.permissions.add(Permission.objects.get(codename="change_trial"))
    curator = get_user_model().objects.create_user("curator", "c@example.org", "a long passphrase here")
    curator.groups.add(editors)
    curator.user_permissions.add(Permission.objects.get(codename="view_trial"))
    get_user_model().objects.create_superuser("admin", "a@example.org", "another long passphrase")
    trial = trial_with(
        identifier="NCT01234567",
        mechanisms=["immune-regulation", "angiogenesis"],
        diabetes_types=["T1D"],
        routes=["INTRAVENOUS"],
        countries=["SE", "CN"],
        summary="Ünïcödé summary, with “quotes” and <b>markup</b>.",
    )
    PublicationFactory(trial=trial)
    SourceFactory(trial=trial)
    trial.brief_title = "An edited title"
    trial._change_reason = "Curator's edit"
    trial.save()  # a second history record
    TrialFactory(curation_state=CurationState.DRAFT, slug="a-draft")
    LogEntry.objects.log_actions(
        user_id=curator.pk, queryset=[trial], action_flag=CHANGE, change_message="Changed brief title."
    )
    Mechanism.objects.filter(slug="angiogenesis").update(summary="A curator's rewording.")
    return trial


def test_backup_and_restore_round_trip_everything(tmp_path):
    build_registry()
    before = snapshot()
    assert len(before["trials.HistoricalTrial"]) >= 3
    assert len(before["trials.HistoricalTrial_countries"]) >= 2
    assert len(before["admin.LogEntry"]) == 1
    path = tmp_path / "registry.json.gz"
    call_command("backup_registry", str(path))
    with gzip.open(path, "rt") as stream:
        text = stream.read()
    assert '"content_type": ["trials", "trial"]' in text  # by name: restores into any database

    call_command("flush", interactive=False, verbosity=0)  # the database is lost
    ContentType.objects.clear_cache()
    assert not Trial.objects.exists() and not Mechanism.objects.exists()
    call_command("restore_registry", str(path))

    assert snapshot() == before  # every row and field, times to the microsecond
    # New rows still get fresh keys after a restore (sequences are reset on PostgreSQL).
    assert TrialFactory(slug="after-restore").pk > max(item["pk"] for item in before["trials.Trial"])


def test_restore_refuses_a_database_with_data_unless_told_to_replace_it(tmp_path):
    build_registry()
    path = tmp_path / "registry.json"
    call_command("backup_registry", str(path))
    before = snapshot()
    TrialFactory(slug="added-after-the-backup")
    with pytest.raises(CommandError, match="already holds trials or users"):
        call_command("restore_registry", str(path))
    assert Trial.objects.filter(slug="added-after-the-backup").exists()

    call_command("restore_registry", str(path), "--replace")
    assert snapshot() == before
    assert not Trial.objects.filter(slug="added-after-the-backup").exists()


def test_a_damaged_backup_changes_nothing(tmp_path):
    build_registry()
    path = tmp_path / "registry.json"
    call_command("backup_registry", str(path))
    before = snapshot()
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(CommandError, match="Nothing restored"):
        call_command("restore_registry", str(path), "--replace")
    assert snapshot() == before
