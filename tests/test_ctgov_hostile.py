"""The ClinicalTrials.gov importer under hostile records: every record is imported or reported, never a crash.

A property-based test (hypothesis) mutates the real records of the project's shared data (`../shared/data/ctgov/`)
with wrong types, absent and extra fields, text the database cannot store and deep nesting, and imports each one,
as a study and as a file: no exception escapes, the record is either imported or reported by name, and a reported
record writes nothing (every table of the registry keeps its row count). Then the same through the admin's page,
the import command and the daily check, with the review's reproducer and its type-confused variants.
"""

import copy
import functools
import io
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ctgov_server import CtgovServer, Reply
from tests.factories import trial_with
from tests.test_ctgov_validation import HOSTILE
from trials import actions, ctgov
from trials.ctgov import limits
from trials.models import Trial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

SHARED = Path(django_settings.BASE_DIR).parent / "shared" / "data" / "ctgov"
DATA = Path(__file__).resolve().parent / "data" / "ctgov"
REPRODUCER = {
    "protocolSection": {"identificationModule": {"nctId": "NCT08880001", "briefTitle": "t"}, "descriptionModule": "x"}
}


@functools.cache
def real_records():
    """The real records of the shared data folder (the test is skipped when it is absent). Copy before changing."""
    return {path.name: json.loads(path.read_text()) for path in sorted(SHARED.glob("NCT*.json"))}


@functools.cache
def paths_to_mutate(name):
    """(paths the mapping reads, every path) of a real record."""
    record = real_records()[name]
    return read_paths(record), list(paths_of(record))


def row_counts():
    """Rows in every table of the registry (history and many-to-many tables included; PostgreSQL's search entries,
    a table SQLite does not have), in one query."""
    models = apps.get_app_config("trials").get_models(include_auto_created=True)
    tables = [
        model._meta.db_table for model in models if model._meta.db_table in connection.introspection.table_names()
    ]
    sql = " UNION ALL ".join(f"SELECT '{table}', COUNT(*) FROM {connection.ops.quote_name(table)}" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def outcomes(summary):
    return len(summary.created) + len(summary.updates) + len(summary.unchanged) + len(summary.errors)


# --- Mutations -----------------------------------------------------------------------------------


def deep(levels):
    value = {}
    for _ in range(levels):
        value = {"a": [value]}
    return value


HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "\x00",
            "Stem\x00cells",
            "\ud800",
            "x\udfffy",
            "NCT00000000",
            "nct00763412",
            "2021-13",
            "2021-02-30",
            "PHASE9",
            "RECRUITING",
            "INDUSTRY",
            "t" * 301,
            "é" * 2_000,
            "9" * 40,
        ]
    ),
    st.just([]),
    st.just({}),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.lists(st.text(max_size=8), max_size=3),
    st.lists(st.none() | st.dictionaries(st.sampled_from(["name", "country", "id", "pmid", "type"]), st.integers())),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from([deep(20), deep(40), [[[[[]]]]]]),
)


def paths_of(value, prefix=()):
    """Every path to a value inside `value`: tuples of keys and list positions."""
    pending = [(value, prefix)]
    while pending:
        item, path = pending.pop()
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in children:
            pending.append((child, (*path, key)))
            yield (*path, key)


def read_paths(record):
    """The paths the mapping reads (under the modules it reads), and fields it reads that the record lacks."""
    from trials.ctgov.validation import STUDY, ListOf, Object

    found = [path for path in paths_of(record) if path[0] == "protocolSection" and len(path) >= 2]
    pending = [(STUDY, ())]
    while pending:
        spec, path = pending.pop()
        if isinstance(spec, Object):
            for key, child in spec.fields.items():
                found.append((*path, key))
                pending.append((child, (*path, key)))
        elif isinstance(spec, ListOf):
            found.append((*path, 0))
            pending.append((spec.item, (*path, 0)))
    return sorted(set(found), key=repr)


def mutate(record, path, value, delete):
    """Set (or delete) the value at `path`, making the objects on the way; skip a path that no longer fits."""
    target = record
    for key in path[:-1]:
        if isinstance(target, dict):
            target = target.setdefault(key, {})
        elif isinstance(target, list) and isinstance(key, int) and key < len(target):
            target = target[key]
        else:
            return
    last = path[-1]
    if isinstance(target, dict):
        if delete:
            target.pop(last, None)
        else:
            target[last] = value
    elif isinstance(target, list) and isinstance(last, int):
        if delete and last < len(target):
            del target[last]
        elif not delete:
            target[last:last] = [value]


@st.composite
def mutations(draw):
    """(a real record's file name, [(path, value, delete?)]): small to show when a test fails."""
    records = real_records()
    if not records:
        pytest.skip(f"no real records in {SHARED} (the project's shared data folder)")
    name = draw(st.sampled_from(sorted(records)))
    candidates, any_paths = paths_to_mutate(name)
    changes = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        pool = candidates if draw(st.integers(0, 9)) < 8 else any_paths
        changes.append((draw(st.sampled_from(pool)), draw(HOSTILE_VALUES), draw(st.integers(0, 5)) == 0))
    return name, changes


EXAMPLES = 150  # about 20 s of CPU; the README (Keeping records in step with ClinicalTrials.gov) gives times


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no example database in the working tree: each run explores afresh
)
@given(example=mutations(), as_file=st.booleans(), known=st.booleans())
def test_every_mutated_record_is_imported_or_reported_and_nothing_is_half_written(example, as_file, known):
    name, changes = example
    original = real_records()[name]
    record = copy.deepcopy(original)
    for path, value, delete in changes:
        mutate(record, path, copy.deepcopy(value), delete)
    with transaction.atomic():
        if known:  # the trial is in the registry already: the record becomes a registry update, or nothing
            actions.import_ctgov_studies([(name, copy.deepcopy(original))], source="test")
        before = row_counts()
        if as_file:
            data = json.dumps(record).encode()  # lone surrogates travel as \ud800 escapes, as JSON allows
            summary = actions.import_ctgov_documents([(name, data)], source="test")
        else:
            summary = actions.import_ctgov_studies([(name, record)], source="test")
        assert outcomes(summary) == 1, summary
        if summary.errors:
            (error,) = summary.errors
            assert error.startswith(name), error
            assert "unexpected" not in error, error  # every bad record is caught by name, not by the safety net
            assert row_counts() == before
        for trial in summary.created:
            trial.refresh_from_db()
            trial.full_clean()
            assert len(trial.curator_notes) <= limits.TEXT_LIMITS["curator_notes"]
            assert len(trial.summary) <= limits.TEXT_LIMITS["summary"]
            assert trial.publications.count() <= limits.MAX_PUBLICATIONS
        transaction.set_rollback(True)


# --- The review's reproducer and its variants, through every door ------------------------------


def hostile_variants():
    """(file name, JSON bytes): the reproducer, each type-confused record, and "[" * 100000."""
    variants = [("reproducer.json", json.dumps(REPRODUCER).encode())]
    for what, change, _field in HOSTILE:
        record = json.loads((DATA / "NCT00763412.json").read_text())
        change(record)
        variants.append((what.replace(" ", "-") + ".json", json.dumps(record).encode()))
    variants.append(("brackets.json", b"[" * 100_000 + b"]" * 100_000))
    return variants


def test_the_reproducer_is_refused_with_the_field_at_fault():
    summary = actions.import_ctgov_documents([("bad.json", json.dumps(REPRODUCER).encode())], source="test")
    assert summary.errors == [
        "bad.json (NCT08880001): protocolSection.descriptionModule: should be a JSON object; got text ('x')."
    ]
    assert not Trial.objects.exists()


def test_the_admins_page_reports_every_hostile_file_and_imports_the_good_ones(client, curator):
    """Batches of [good, bad, ..., good] (at most 20 files an upload): both good ones imported, each bad one named."""
    variants = hostile_variants()
    assert len(variants) >= 23
    good = [DATA / "NCT00973089.json", DATA / "NCT06171568.json"]
    client.force_login(curator)
    for start in range(0, len(variants), 15):
        batch = variants[start : start + 15]
        files = [
            SimpleUploadedFile(good[0].name, good[0].read_bytes()),
            *(SimpleUploadedFile(name, data) for name, data in batch),
            SimpleUploadedFile(good[1].name, good[1].read_bytes()),
        ]
        with transaction.atomic():
            response = client.post(reverse("admin:trials_registryupdate_import"), {"files": files})
            assert response.status_code == 200
            summary = response.context["summary"]
            assert sorted(trial.slug for trial in summary.created) == ["nct00973089", "nct06171568"], summary.errors
            assert len(summary.errors) == len(batch)
            for (name, _data), error in zip(batch, summary.errors, strict=True):
                assert error.startswith(name), error
            content = response.content.decode()
            assert "2 draft(s) created" in content and f"{len(batch)} failed" in content
            transaction.set_rollback(True)


def test_the_command_reports_each_file_and_exits_non_zero(tmp_path):
    paths = []
    for name, data in hostile_variants():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"\d+ of \d+ record\(s\) failed"):
        call_command("import_ctgov", str(DATA / "NCT00973089.json"), *paths, stdout=out, stderr=err)
    assert "1 draft(s) created" in out.getvalue()
    assert "NCT00973089.json: created the draft NCT00973089" in out.getvalue()
    for path in paths:
        assert f"{Path(path).name}" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert Trial.objects.count() == 1


def test_the_daily_check_goes_on_past_a_bad_record(settings, monkeypatch):
    monkeypatch.setattr(ctgov.client, "LIMITER", ctgov.client.RateLimiter(sleep=lambda s: None))
    for nct_id in ("NCT00763412", "NCT00973089", "NCT06171568"):
        trial_with(identifier=nct_id, overall_status="RECRUITING", curation_state="PUBLISHED")
    bad = json.loads((DATA / "NCT00973089.json").read_text())
    bad["protocolSection"]["sponsorCollaboratorsModule"]["leadSponsor"] = "Acme"
    with CtgovServer(DATA) as server:
        settings.CTGOV_API_URL = server.url
        server.script("NCT00973089", Reply(200, body=json.dumps(bad).encode()))
        out, err = io.StringIO(), io.StringIO()
        call_command("check_ctgov_updates", stdout=out, stderr=err)
    assert "3 published trial(s)" in out.getvalue() and "2 new registry update(s)" in out.getvalue()
    assert "1 failed" in out.getvalue()
    assert "NCT00973089" in err.getvalue() and "leadSponsor: should be a JSON object" in err.getvalue()
