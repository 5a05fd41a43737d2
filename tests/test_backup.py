"""Backup and restore round-trip the whole registry: trials, links, history, users, with nothing lost."""

import gzip
import json
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import CommandError, ManagementUtility, call_command
from django.http import QueryDict

from mechanisms.models import Mechanism
from tests.factories import PublicationFactory, SourceFactory, TrialFactory, trial_with
from trials.backup import backed_up_models
from trials.filters import filtered_trials
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


def test_a_backup_of_an_earlier_release_restores_without_its_search_text_and_is_searchable(tmp_path):
    """Backups made before migration 0018 hold each trial's own search document (PostgreSQL's, or null): a derived
    field the trial no longer has. It is left out, and the database's triggers index the restored trials afresh."""
    build_registry()
    before = snapshot()
    path = tmp_path / "registry.json"
    call_command("backup_registry", str(path))
    entries = json.loads(path.read_text())
    for entry in entries:
        if entry["model"] == "trials.trial":
            entry["fields"]["search_document"] = "'stale':1A"
    path.write_text(json.dumps(entries))

    call_command("flush", interactive=False, verbosity=0)
    ContentType.objects.clear_cache()
    assert found("edited") == []
    call_command("restore_registry", str(path))
    assert snapshot() == before
    assert found("edited") == ["An edited title"] and found("stale") == []


def found(q):
    _, trials = filtered_trials(QueryDict(urlencode({"q": q})))
    return list(trials.values_list("brief_title", flat=True))


def test_a_damaged_backup_changes_nothing(tmp_path):
    build_registry()
    path = tmp_path / "registry.json"
    call_command("backup_registry", str(path))
    before = snapshot()
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(CommandError, match="Nothing restored"):
        call_command("restore_registry", str(path), "--replace")
    assert snapshot() == before


# --- Damaged backups: one line, "Nothing restored: ...", and nothing changed --------------------------------------


def first(entries, model):
    return next(entry for entry in entries if entry["model"] == model)


def edited(change):
    """A damage that edits the backup's list of entries, then writes it as JSON."""

    def damage(text):
        entries = json.loads(text)
        change(entries)
        return json.dumps(entries).encode()

    return damage


def gzip_then(change):
    """A damage to the gzip-compressed file."""

    def damage(text):
        return change(gzip.compress(text.encode()))

    return damage


def flip_middle(data):
    middle = len(data) // 2
    return data[:middle] + bytes(byte ^ 0xFF for byte in data[middle : middle + 64]) + data[middle + 64 :]


DAMAGES = {
    "corrupt gzip": (gzip_then(flip_middle), "not a readable backup"),
    "truncated gzip": (gzip_then(lambda data: data[: len(data) // 2]), "not a readable backup"),
    "gzip header only": (gzip_then(lambda data: data[:10]), "not a readable backup"),
    "truncated JSON": (lambda text: text[: len(text) // 2].encode(), "cut short"),
    "truncated after an entry": (lambda text: text[: text.index("}}, {") + 2].encode(), "cut short"),
    "empty file": (lambda text: b"", "not a backup"),
    "not JSON": (lambda text: b"Dear operator, this is not a backup.\n", "not a backup"),
    "not UTF-8": (lambda text: b"[\xff\xfe\x00\x00]", "not a readable backup"),
    "a top-level object instead of a list": (lambda text: json.dumps(json.loads(text)[0]).encode(), "not a backup"),
    "something after the list": (lambda text: (text + ' {"model": "auth.user"}').encode(), "follows the list"),
    "an entry that is not an object": (edited(lambda entries: entries.insert(3, 42)), "entry 4 is int"),
    "an entry with no model": (edited(lambda entries: entries[5].pop("model")), "entry 6 names no model"),
    "an entry with no fields": (edited(lambda entries: entries[5].pop("fields")), "has no fields"),
    "an unknown model": (edited(lambda entries: entries[2].update(model="trials.nosuchthing")), "not one a backup"),
    "a model a backup never holds": (edited(lambda entries: entries[2].update(model="sessions.session")), "not one"),
    "a field the model does not have": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(no_such_field=1)),
        "has a field 'no_such_field' the model does not have",
    ),
    "text for a number": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(enrollment="many")),
        "field enrollment is a JSON str, where a backup has int",
    ),
    "a number for a date": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(start_date=20210329)),
        "field start_date is a JSON int, where a backup has str",
    ),
    "a list for a text": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(slug=["a", "list"])),
        "field slug is a JSON list",
    ),
    "a number for a list of links": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(countries=7)),
        "field countries is a JSON int, where a backup has list",
    ),
    "a date that is not one": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(start_date="2021-02-30")),
        "entry",
    ),
    "true for a number": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(enrollment=True)),
        "field enrollment is a JSON bool",
    ),
    "a code outside the vocabulary": (
        edited(lambda entries: first(entries, "trials.trial")["fields"].update(phase="PHASE9")),
        "cannot be restored",
    ),
    "a link to a trial that is not there": (
        edited(lambda entries: first(entries, "trials.registryidentifier")["fields"].update(trial=999999)),
        "cannot be restored",
    ),
    "a key that is not a number": (edited(lambda entries: first(entries, "trials.trial").update(pk="one")), "pk"),
    "an entry twice": (edited(lambda entries: entries.append(first(entries, "trials.trial"))), "differ"),
}


def test_every_kind_of_damaged_backup_is_refused_in_one_line_and_nothing_is_restored(tmp_path, settings):
    """Each damage in turn, into the same database (one registry built for all: these tests are slow to set up)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    build_registry()
    good = tmp_path / "registry.json"
    call_command("backup_registry", str(good))
    before = snapshot()
    wrong = {}
    for damage, (change, expected) in DAMAGES.items():
        path = tmp_path / "damaged.json.gz"
        path.write_bytes(change(good.read_text()))
        try:
            call_command("restore_registry", str(path), "--replace")
            wrong[damage] = "restored"
        except CommandError as refusal:
            message = str(refusal)
            if not message.startswith(f"Nothing restored: {path}") or "\n" in message or len(message) > 500:
                wrong[damage] = f"not one line: {message!r}"
            elif expected not in message:
                wrong[damage] = f"{expected!r} not in {message!r}"
        if snapshot() != before:
            wrong[damage] = "the database changed"
            break
    assert not wrong, wrong


def test_the_command_refuses_a_damaged_backup_with_one_line_and_no_traceback(tmp_path, capsys):
    path = tmp_path / "registry.json.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(SystemExit) as stopped:
        ManagementUtility(["manage.py", "restore_registry", str(path)]).execute()
    assert stopped.value.code == 1
    output = capsys.readouterr()
    assert output.out == ""
    assert output.err.startswith(f"CommandError: Nothing restored: {path} is not a readable backup (")
    assert output.err.count("\n") == 1 and "Traceback" not in output.err
