"""The curated data: all 72 trials load, and a database loaded from the first data file (35 trials) upgrades
with nothing lost: new trials added, untouched ones updated, a curator's edit kept with a proposal."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from trials import canonical as records
from trials.actions import (
    INITIAL_DATA,
    RECORD_PREFETCH,
    load_trials,
    read_data_file,
    resolve_registry_update,
)
from trials.models import RegistryUpdate, RegistryUpdateOrigin, RegistryUpdateStatus, Trial

pytestmark = pytest.mark.django_db

FIRST_DATA = Path(__file__).resolve().parent / "data" / "initial_trials_v1.json"  # the first data file, 2026-11-24


def run(*args):
    out = StringIO()
    call_command("load_initial_data", *args, stdout=out)
    return out.getvalue()


def state():
    """Every trial as a record, by slug (what a reader or curator could see of it)."""
    trials = Trial.objects.prefetch_related(*RECORD_PREFETCH)
    return {trial.slug: records.canonical(records.record_of(trial)) for trial in trials}


def test_the_data_file_loads_72_published_trials_and_a_second_run_changes_nothing():
    data = read_data_file(INITIAL_DATA)
    assert len(data.trials) == 72
    assert "72 created" in run()
    assert Trial.objects.published().count() == 72
    before = Trial.history.count()
    assert run().startswith("Initial data: nothing changed")
    assert Trial.history.count() == before
    # Each trial holds exactly its record: nothing lost or added on the way in.
    by_slug = {record["slug"]: record for record in data.trials}
    for slug, held in state().items():
        assert held == records.canonical(by_slug[slug]), slug


def test_what_no_source_gave_stays_unknown():
    run()
    data = {record["slug"]: record for record in read_data_file(INITIAL_DATA).trials}
    no_status = Trial.objects.filter(overall_status="")
    assert no_status.count() == 8
    for trial in no_status:
        assert data[trial.slug]["overall_status"] == ""
        assert trial.status_confirmed_on is None and trial.status_source is None
    assert Trial.objects.filter(identifiers__isnull=True).count() == 6
    assert not Trial.objects.filter(identifiers__isnull=True, registry_search_note="").exists()


def test_the_initial_data_has_no_blocking_problem():
    run()
    out = StringIO()
    call_command("check_records", stdout=out)
    assert out.getvalue().rstrip().endswith("0 blocking.")


def legacy_database():
    """A database loaded from the first data file by the first loader: no fingerprints stored."""
    load_trials(read_data_file(FIRST_DATA))
    assert Trial.objects.count() == 35
    Trial.objects.update(data_fingerprint="", data_version="")


@pytest.mark.parametrize("loaded_by", ["first loader", "this loader"])
def test_a_database_of_the_first_data_upgrades_with_nothing_lost(curator, editor, loaded_by):
    if loaded_by == "first loader":
        legacy_database()
    else:
        load_trials(read_data_file(FIRST_DATA))
    # A curator edits one trial.
    edited = Trial.objects.get(slug="protrans-1")
    edited.overall_status = "TERMINATED"
    edited.why_stopped = "Funding ended (sponsor letter)"
    edited.curator_notes += "\nChecked by phone."
    edited._history_user = curator
    edited.save()
    before = state()

    out = run()
    assert "37 created, 34 updated, 0 already up to date, 1 changed by curators" in out
    data = {record["slug"]: record for record in read_data_file(INITIAL_DATA).trials}
    after = state()
    assert len(after) == 72
    for slug, held in after.items():
        if slug == "protrans-1":
            assert held == before[slug]  # the curator's version, whole
        else:
            assert held == records.canonical(data[slug]), slug  # the file's version, whole
    untouched = Trial.objects.get(slug="vx880-forward")
    entry = untouched.history.latest()
    assert entry.history_change_reason.startswith("Updated from the curated data of 2026-11-30")
    assert entry.history_user is None

    (proposal,) = RegistryUpdate.objects.all()
    assert (proposal.trial.slug, proposal.origin, proposal.status) == (
        "protrans-1",
        RegistryUpdateOrigin.CURATED_DATA,
        RegistryUpdateStatus.PENDING,
    )
    assert proposal.changes["overall_status"] == {"old": "TERMINATED", "new": "COMPLETED"}
    assert proposal.changes["why_stopped"] == {"old": "Funding ended (sponsor letter)", "new": None}
    assert {"sources", "curator_notes", "last_reviewed_on"} <= set(proposal.changes)

    # Again: nothing changed, no second proposal.
    assert run().startswith("Initial data: nothing changed")
    assert RegistryUpdate.objects.count() == 1

    # An editor (the trial is published) takes the file's sources and status, keeps the rest.
    accepted = ["overall_status", "status_confirmed_on", "status_source", "sources", "publications", "outcomes"]
    resolve_registry_update(update=proposal, accept=accepted, user=editor)
    trial = Trial.objects.get(slug="protrans-1")
    assert trial.overall_status == "COMPLETED"
    assert trial.why_stopped == "Funding ended (sponsor letter)"
    assert trial.status_source.url == records.canonical(data["protrans-1"])["status_source"]
    assert trial.outcomes.count() == len(data["protrans-1"]["outcomes"])
    assert "Accepted from the curated data" in trial.history.latest().history_change_reason
    # Dismissed values are not proposed again.
    assert run().startswith("Initial data: nothing changed")


def test_a_later_curation_reaches_untouched_trials_only(tmp_path, curator):
    run()
    data = read_data_file(INITIAL_DATA)
    touched = Trial.objects.get(slug="vx264")
    touched.public_caveats = "Reworded by a curator."
    touched._history_user = curator
    touched.save()
    for record in data.trials:
        record["key_results"] = (record["key_results"] + " Updated.").strip()
    data.version = "2027-06-01"
    summary = load_trials(data)
    assert (len(summary.updated), summary.proposed) == (71, ["vx264"])
    assert Trial.objects.get(slug="vx264").public_caveats == "Reworded by a curator."
    assert Trial.objects.get(slug="vctx210").key_results.endswith("Updated.")
    assert Trial.objects.get(slug="vctx210").data_version == "2027-06-01"


def test_loading_is_all_or_nothing(tmp_path):
    data = read_data_file(INITIAL_DATA)
    data.trials[-1]["countries"] = ["XX"]
    with pytest.raises(Exception, match="XX"):
        load_trials(data)
    assert not Trial.objects.exists()
