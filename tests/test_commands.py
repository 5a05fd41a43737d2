import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from trials.actions import INITIAL_DATA, read_records
from trials.models import Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db

RECORD = {
    "slug": "example-msc-t1d",
    "identifiers": [
        {"registry": "NCT", "value": "NCT01234567", "primary": True},
        {"registry": "EUDRACT", "value": "2017-002766-50"},
    ],
    "brief_title": "Mesenchymal stromal cells in new-onset type 1 diabetes",
    "summary": "Cells from umbilical cord given into a vein to adults recently diagnosed.",
    "sponsor": "Example University",
    "sponsor_class": "OTHER",
    "collaborators": ["Hospital A", "Hospital B"],
    "diabetes_types": ["T1D"],
    "study_type": "INTERVENTIONAL",
    "phase": "PHASE1_PHASE2",
    "overall_status": "COMPLETED",
    "status_confirmed_on": "2025-03-07",
    "start_date": {"date": "2019-05-01", "precision": "MONTH", "type": "ACTUAL"},
    "completion_date": {"date": "2024-11-20", "precision": "DAY", "type": "ACTUAL"},
    "enrollment": 15,
    "enrollment_type": "ACTUAL",
    "countries": ["SE"],
    "cell_source": "MSC_UC",
    "cell_origin": "ALLOGENEIC",
    "differentiation": "UNDIFFERENTIATED",
    "encapsulation": "NONE",
    "routes": ["INTRAVENOUS"],
    "immunosuppression": "NONE",
    "mechanisms": [{"mechanism": "immune-regulation", "role": "PRIMARY", "rationale": "Damps the immune attack."}],
    "publications": [{"citation": "A et al. 2025", "doi": "10.1/x", "pmid": "123", "journal": "J", "year": 2025}],
    "sources": [{"url": "https://clinicaltrials.gov/study/NCT01234567", "date": None, "used_for": "registry"}],
    "curator_notes": "Counts differ between sources.",
    "last_reviewed_on": "2026-11-24",
    "curation_state": "PUBLISHED",
}


def write(tmp_path, *records):
    path = tmp_path / "trials.json"
    path.write_text(json.dumps({"trials": list(records)}))
    return path


def run(path, *args):
    out = StringIO()
    call_command("load_initial_data", "--file", str(path), *args, stdout=out)
    return out.getvalue()


def test_loads_a_record_with_everything_it_links_to(tmp_path):
    out = run(write(tmp_path, RECORD))
    assert "1 created, 0 updated, 0 already up to date" in out
    trial = Trial.objects.get(slug="example-msc-t1d")
    assert trial.curation_state == CurationState.PUBLISHED
    assert trial.collaborators == "Hospital A\nHospital B"
    assert trial.get_absolute_url() == "/trials/NCT01234567/"
    assert sorted(trial.identifiers.values_list("value", "is_primary")) == [
        ("2017-002766-50", False),
        ("NCT01234567", True),
    ]
    assert list(trial.countries.values_list("code", flat=True)) == ["SE"]
    assert list(trial.routes.values_list("code", flat=True)) == ["INTRAVENOUS"]
    assert list(trial.diabetes_types.values_list("code", flat=True)) == ["T1D"]
    assert trial.mechanism_links.get().mechanism.slug == "immune-regulation"
    assert trial.publications.get().pmid == "123"
    assert trial.sources.count() == 1
    assert trial.start_date_precision == "MONTH"
    assert trial.history.earliest().history_change_reason == "Loaded from the curated data file"


def test_second_run_changes_nothing(tmp_path):
    path = write(tmp_path, RECORD)
    run(path)
    before = Trial.history.count()
    out = run(path)
    assert "nothing changed: 0 created, 0 updated, 1 already up to date, 0 changed by curators" in out
    assert Trial.objects.count() == 1
    assert Trial.history.count() == before


def test_a_curators_edit_survives_a_rerun(tmp_path):
    path = write(tmp_path, RECORD)
    run(path)
    Trial.objects.filter(slug="example-msc-t1d").update(overall_status="TERMINATED", enrollment=12)
    out = run(path)
    assert "1 changed by curators since and left as they are" in out
    trial = Trial.objects.get(slug="example-msc-t1d")
    assert (trial.overall_status, trial.enrollment) == ("TERMINATED", 12)


def test_dry_run_writes_nothing(tmp_path):
    out = run(write(tmp_path, RECORD), "--dry-run")
    assert out.startswith("Dry run, nothing written: 1 created")
    assert not Trial.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"identifiers": [{"registry": "NCT", "value": "NCT123", "primary": True}]}, "NCT followed by 8 digits"),
        ({"phase": "PHASE9"}, "phase"),
        ({"countries": ["XX"]}, "unknown countries codes ['XX']"),
        ({"routes": ["TELEPATHY"]}, "unknown routes codes ['TELEPATHY']"),
        ({"mechanisms": [{"mechanism": "magic", "rationale": "x"}]}, "unknown mechanism 'magic'"),
        (
            {
                "start_date": {"date": "2024-01-01", "precision": "DAY", "type": ""},
                "completion_date": {"date": "2023-01-01", "precision": "DAY", "type": ""},
            },
            "record 'example-msc-t1d'",
        ),
    ],
)
def test_a_bad_record_loads_nothing_and_names_itself(tmp_path, change, message):
    good = dict(RECORD, slug="good-one", identifiers=[])
    bad = dict(RECORD, **change)
    with pytest.raises(CommandError) as excinfo:
        run(write(tmp_path, good, bad))
    assert message in str(excinfo.value)
    assert not Trial.objects.exists()  # all or nothing


def test_the_initial_data_loads_72_published_trials_idempotently():
    records = read_records(INITIAL_DATA)
    assert len(records) == 72
    first = run(INITIAL_DATA)
    assert "72 created" in first
    assert Trial.objects.published().count() == 72
    assert "nothing changed: 0 created, 0 updated, 72 already up to date" in run(INITIAL_DATA)


def test_the_initial_data_never_guesses_a_status():
    run(INITIAL_DATA)
    source = {r["slug"]: r for r in read_records(INITIAL_DATA)}
    not_recorded = Trial.objects.filter(overall_status="")
    assert not_recorded.exists()
    for trial in not_recorded:
        assert source[trial.slug]["overall_status"] == ""
    # Trials without a registry identifier are allowed and addressed by their slug.
    assert Trial.objects.exclude(identifiers__isnull=False).exists()
