"""make_synthetic_trials: realistic, clearly marked, and kept away from real registries."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.factories import TrialFactory
from trials.management.commands import make_synthetic_trials as command
from trials.models import Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db


@pytest.fixture
def scratch_database(monkeypatch):
    monkeypatch.setattr(command, "database_name", lambda: "/tmp/loadtest.sqlite3")


def test_adds_marked_trials_of_realistic_shape(scratch_database):
    call_command("make_synthetic_trials", "200", "--batch-size", "70")
    trials = Trial.objects.all()
    assert trials.count() == 200
    assert trials.filter(brief_title__startswith="[SYNTHETIC] ", sponsor="Synthetic benchmark data").count() == 200
    assert trials.filter(slug__startswith="synthetic-").count() == 200
    for trial in trials[:40]:
        trial.full_clean()  # every constraint and vocabulary holds
    published = trials.filter(curation_state=CurationState.PUBLISHED).count()
    assert 165 < published < 200  # mostly published, some drafts and trials in review
    assert len(set(trials.values_list("phase", flat=True))) >= 4
    assert trials.filter(countries__isnull=False).distinct().count() > 130
    assert trials.filter(mechanism_links__isnull=False).distinct().count() == 200
    assert trials.filter(identifiers__value="SYNTHETIC-0000001", identifiers__is_primary=True).count() == 1


def test_a_second_run_adds_more(scratch_database):
    call_command("make_synthetic_trials", "5")
    call_command("make_synthetic_trials", "5")
    assert Trial.objects.filter(slug__startswith="synthetic-").count() == 10


def test_refuses_the_default_database(monkeypatch):
    monkeypatch.setattr(command, "database_name", lambda: str(settings.BASE_DIR / "db.sqlite3"))
    with pytest.raises(CommandError, match="default database"):
        call_command("make_synthetic_trials", "5")
    assert not Trial.objects.exists()


def test_refuses_a_database_with_curated_trials_unless_asked(scratch_database):
    TrialFactory(slug="a-real-trial")
    with pytest.raises(CommandError, match="holds 1 curated trials"):
        call_command("make_synthetic_trials", "5")
    call_command("make_synthetic_trials", "5", "--alongside-curated")
    assert Trial.objects.count() == 6


def test_alongside_curated_needs_a_scratch_database(monkeypatch):
    monkeypatch.setattr(command, "database_name", lambda: "registry")
    TrialFactory(slug="a-real-trial")
    with pytest.raises(CommandError, match="scratch database"):
        call_command("make_synthetic_trials", "5", "--alongside-curated")
    assert Trial.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_the_search_entries_are_compacted_after_the_load(scratch_database, monkeypatch):
    """A bulk load writes each entry once per table that feeds it; the command leaves no dead version behind."""
    from django.db import connection

    def pages_and_rows():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_size('trial_search_entry') / 8192, count(*) FROM trial_search_entry")
            return cursor.fetchone()

    compact = command.compact_search_entries
    monkeypatch.setattr(command, "compact_search_entries", lambda: None)  # as before the compaction, to compare
    call_command("make_synthetic_trials", "300")
    loose, rows = pages_and_rows()
    compact()
    compacted, same_rows = pages_and_rows()
    assert rows == same_rows == 300
    assert compacted * 3 < loose, (compacted, loose)  # a fifth to a sixth, once its dead versions are gone
