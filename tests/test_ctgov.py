"""The ClinicalTrials.gov importer: mapping API v2 records, registry updates, the HTTP client, commands, admin."""

import datetime
import io
import json
import socket
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.ctgov_server import CtgovServer, Reply
from tests.factories import RegistryIdentifierFactory, UserFactory, trial_with
from trials import actions, ctgov
from trials.actions import registry_updates
from trials.ctgov import client as ctgov_client
from trials.ctgov import compare, mapping, reading
from trials.models import RegistryIdentifier, RegistryUpdate, RegistryUpdateStatus, Trial
from trials.vocabularies import CurationState

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

DATA = Path(__file__).resolve().parent / "data" / "ctgov"
FILES = sorted(DATA.glob("NCT*.json"))


def study(nct_id):
    return json.loads((DATA / f"{nct_id}.json").read_text())


def import_studies(*studies, **kwargs):
    return actions.import_ctgov_studies([(reading.study_nct_id(s), s) for s in studies], source="test", **kwargs)


def history_count():
    return Trial.history.count()


# --- Mapping: every record becomes a valid draft -----------------------------------------------


def test_every_record_imports_to_a_valid_draft():
    summary = actions.import_ctgov_files(FILES)
    assert summary.errors == []
    assert len(summary.created) == len(FILES) == 5
    for trial in Trial.objects.all():
        trial.full_clean()  # the draft passes the model's validation and constraints
        assert trial.curation_state == CurationState.DRAFT
        assert trial.identifiers.get(is_primary=True).value == trial.slug.upper()
        assert not trial.mechanism_links.exists()
        assert trial.cell_source == trial.cell_origin == trial.differentiation == trial.encapsulation == ""
        assert not trial.routes.exists()
        assert trial.immunosuppression == "UNKNOWN" and trial.gene_edited is None
        assert trial.last_reviewed_on is None
        assert "Left for the curator: the mechanisms" in trial.curator_notes
        assert trial.sources.get().url == f"https://clinicaltrials.gov/study/{trial.slug.upper()}"
    assert not Trial.objects.published().exists()
    # Four of the five real records are about other diseases: each is imported with a warning.
    assert str(summary) == "5 draft(s) created, 0 registry update(s) recorded, 0 unchanged, 0 failed, 4 warning(s)"


def test_a_diabetes_record_field_by_field():
    (trial,) = import_studies(study("NCT00763412")).created
    trial.refresh_from_db()
    assert trial.slug == "nct00763412"
    assert list(trial.identifiers.values_list("registry", "value", "is_primary")) == [("NCT", "NCT00763412", True)]
    assert (
        trial.brief_title
        == "Pilot and Feasibility Study for the Treatment of Pre-diabetes in Patients With Cystic Fibrosis"
    )
    assert trial.official_title == trial.brief_title
    assert trial.acronym == ""
    assert trial.sponsor == "Arbelaez, Ana Maria"
    assert trial.sponsor_class == "INDIV"
    assert trial.collaborators.splitlines() == [
        "Washington University School of Medicine",
        "National Institutes of Health (NIH)",
        "Novo Nordisk A/S",
        "National Institute of Diabetes and Digestive and Kidney Diseases (NIDDK)",
    ]
    # "Cystic Fibrosis Related Diabetes": another form of diabetes; "Pre-diabetes" is not diabetes.
    assert list(trial.diabetes_types.values_list("code", flat=True)) == ["OTHER"]
    assert trial.study_type == "INTERVENTIONAL"
    assert trial.phase == "NA"
    assert trial.overall_status == "COMPLETED"
    assert trial.status_confirmed_on == datetime.date(2017, 5, 1)  # statusVerifiedDate 2017-05
    assert (trial.start_date, trial.start_date_precision, trial.start_date_type) == (
        datetime.date(2006, 11, 1),
        "MONTH",
        "",
    )
    assert (trial.primary_completion_date, trial.primary_completion_date_precision) == (
        datetime.date(2013, 1, 1),
        "MONTH",
    )
    assert (trial.completion_date, trial.completion_date_type) == (datetime.date(2013, 1, 1), "ACTUAL")
    assert (trial.enrollment, trial.enrollment_type) == (31, "ACTUAL")
    assert list(trial.countries.values_list("code", flat=True)) == ["US"]
    assert trial.product_name == "repaglinide (Prandin)"  # the placebo is not the product
    assert "- Drug: placebo" in trial.cell_notes and "- Drug: repaglinide (other names: Prandin)" in trial.cell_notes
    assert trial.summary.startswith("The purpose of this study is to provide the necessary data")
    assert "Ages: 12 Years to 24 Years." in trial.population_notes
    assert "Cystic Fibrosis Related Diabetes; Pancreatic Insufficiency" in trial.population_notes
    assert not trial.publications.exists()  # the record has no references
    assert "Sponsor's study ID on the registry: 05-1109" in trial.curator_notes
    assert "P60DK020579 (NIH)" in trial.curator_notes
    assert "Imported from ClinicalTrials.gov on 2026-11-24 (registry record last updated 2017-06-05)" in (
        trial.curator_notes
    )
    source = trial.sources.get()
    assert source.source_date == datetime.date(2017, 6, 5)
    change = trial.history.earliest()
    assert change.history_change_reason.startswith("Imported from ClinicalTrials.gov")


def test_an_unknown_status_record_field_by_field(frozen_today):
    (trial,) = import_studies(study("NCT03475563")).created
    trial.refresh_from_db()
    assert trial.acronym == "BIOSS"
    assert trial.study_type == "OBSERVATIONAL"
    assert trial.phase == ""  # an observational study has no phase
    assert trial.overall_status == "UNKNOWN"
    assert "the last known status was “Recruiting” (status verified 2019-11)" in trial.curator_notes
    assert trial.status_confirmed_on == datetime.date(2019, 11, 1)
    assert (trial.start_date, trial.start_date_precision, trial.start_date_type) == (
        datetime.date(2018, 8, 16),
        "DAY",
        "ACTUAL",
    )
    assert (trial.completion_date, trial.completion_date_type) == (datetime.date(2019, 12, 30), "ESTIMATED")
    assert (trial.enrollment, trial.enrollment_type) == (100, "ESTIMATED")
    assert list(trial.countries.values_list("code", flat=True)) == ["ES"]
    assert list(trial.diabetes_types.all()) == []
    publications = list(trial.publications.order_by("pmid").values("pmid", "doi", "year"))
    assert publications == [
        {"pmid": "25689548", "doi": "10.1111/joic.12180", "year": 2015},
        {"pmid": "25828372", "doi": "10.1016/j.cjca.2014.12.024", "year": 2015},
        {"pmid": "26465375", "doi": "10.4244/EIJY15M10_05", "year": 2016},
    ]
    assert trial.status_display(today=frozen_today).label == "Unknown status"


def test_estimated_dates_collaborators_and_background_references(frozen_today):
    (trial,) = import_studies(study("NCT06171568")).created
    trial.refresh_from_db()
    assert trial.overall_status == "NOT_YET_RECRUITING"
    assert (trial.start_date, trial.start_date_type) == (datetime.date(2024, 2, 1), "ESTIMATED")
    assert trial.collaborators.splitlines() == [
        "SBT Human(s) Matter",
        "Clinical Research Unit Saint Louis Lariboisière",
    ]
    assert list(trial.countries.values_list("code", flat=True)) == ["FR"]
    assert trial.publications.count() == 8
    assert "background, not results of this trial" in trial.curator_notes
    assert "2023-A00386-39 (OTHER IDRCB)" in trial.curator_notes
    # Not confirmed for almost 3 years: readers see an unknown status, as the rule says.
    assert trial.status_display(today=frozen_today).status_stale


def test_withdrawn_record_with_zero_enrollment():
    (trial,) = import_studies(study("NCT00973089")).created
    trial.refresh_from_db()
    assert (trial.overall_status, trial.enrollment, trial.enrollment_type) == ("WITHDRAWN", 0, "ACTUAL")
    assert "Why stopped, per the registry: recruiting or enrolling participants has halted" in trial.curator_notes
    assert list(trial.countries.values_list("code", flat=True)) == ["IL"]


def test_secondary_identifiers_of_known_registries_are_added():
    record = study("NCT00763412")
    record["protocolSection"]["identificationModule"]["secondaryIdInfos"] += [
        {"id": "2017-002766-50", "type": "EUDRACT_NUMBER"},
        {"id": "ChiCTR2300072200", "type": "REGISTRY", "domain": "ChiCTR"},
    ]
    (trial,) = import_studies(record).created
    assert set(trial.identifiers.values_list("registry", "value", "is_primary")) == {
        ("NCT", "NCT00763412", True),
        ("EUDRACT", "2017-002766-50", False),
        ("CHICTR", "ChiCTR2300072200", False),
    }


def test_a_secondary_identifier_already_on_another_trial_is_left_out_and_noted():
    other = trial_with(identifier=False, slug="chinese-trial")
    RegistryIdentifierFactory(trial=other, registry="CHICTR", value="ChiCTR2300072200")
    record = study("NCT00763412")
    record["protocolSection"]["identificationModule"]["secondaryIdInfos"].append({"id": "ChiCTR2300072200"})
    (trial,) = import_studies(record).created
    assert list(trial.identifiers.values_list("value", flat=True)) == ["NCT00763412"]
    assert "Identifier ChiCTR2300072200 is already on trial 'chinese-trial'" in trial.curator_notes


@pytest.mark.parametrize(
    "conditions, types, unrecognised",
    [
        (["Type 1 Diabetes"], ["T1D"], []),
        (["Diabetes Mellitus, Type 1", "T2DM"], ["T1D", "T2D"], []),
        (["Diabetes Mellitus, Non-Insulin-Dependent"], ["T2D"], []),
        (["Insulin-Dependent Diabetes Mellitus"], ["T1D"], []),
        (["Latent Autoimmune Diabetes in Adults"], ["LADA"], []),
        (["Type II Diabetes"], ["T2D"], []),
        (["Cystic Fibrosis Related Diabetes", "Prediabetes"], ["OTHER"], []),
        (["Diabetes Mellitus"], [], ["Diabetes Mellitus"]),
        (["Diabetic Foot Ulcer"], [], ["Diabetic Foot Ulcer"]),
        (["Neurofibromatosis Type 1", "Diabetes Insipidus", "Coronary Artery Disease"], [], []),
    ],
)
def test_diabetes_types_only_where_recognisable(conditions, types, unrecognised):
    assert mapping.diabetes_types(conditions) == (types, unrecognised)


def test_registry_updates_list_fields_in_the_compared_order():
    update = RegistryUpdate(changes={name: {"old": None, "new": None} for name in reversed(compare.COMPARED_FIELDS)})
    assert update.field_names == compare.COMPARED_FIELDS


def test_country_names_of_the_registry_are_recognised():
    lookup = mapping.country_lookup()
    for name, code in [
        ("Korea, Republic of", "KR"),
        ("Turkey", "TR"),
        ("Czech Republic", "CZ"),
        ("Cote D'Ivoire", "CI"),
        ("Iran, Islamic Republic of", "IR"),
        ("United Kingdom", "GB"),
    ]:
        assert lookup[mapping._fold(name)] == code, name


# --- Re-import and registry updates ------------------------------------------------------------


def test_reimport_changes_nothing():
    actions.import_ctgov_files(FILES)
    before = (Trial.objects.count(), RegistryUpdate.objects.count(), history_count())
    summary = actions.import_ctgov_files(FILES)
    assert str(summary) == "0 draft(s) created, 0 registry update(s) recorded, 5 unchanged, 0 failed"
    assert (Trial.objects.count(), RegistryUpdate.objects.count(), history_count()) == before


def changed_record():
    """NCT03475563 as it might read later: completed, with a new completion date and enrollment."""
    record = study("NCT03475563")
    status = record["protocolSection"]["statusModule"]
    status["overallStatus"] = "COMPLETED"
    del status["lastKnownStatus"]
    status["statusVerifiedDate"] = "2026-10"
    status["completionDateStruct"] = {"date": "2026-09-30", "type": "ACTUAL"}
    status["lastUpdatePostDateStruct"] = {"date": "2026-10-02", "type": "ACTUAL"}
    record["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 87, "type": "ACTUAL"}
    return record


def test_a_changed_record_yields_a_registry_update_and_leaves_the_trial_alone():
    (trial,) = import_studies(study("NCT03475563")).created
    before = history_count()
    summary = import_studies(changed_record())
    (update,) = summary.updates
    assert update.trial == trial and update.status == RegistryUpdateStatus.PENDING
    assert update.identifier == "NCT03475563"
    assert update.registry_last_updated == datetime.date(2026, 10, 2)
    assert update.changes == {
        "overall_status": {"old": "UNKNOWN", "new": "COMPLETED"},
        "status_confirmed_on": {"old": "2019-11-01", "new": "2026-10-01"},
        "completion_date": {
            "old": {"date": "2019-12-30", "precision": "DAY", "type": "ESTIMATED"},
            "new": {"date": "2026-09-30", "precision": "DAY", "type": "ACTUAL"},
        },
        "enrollment": {"old": 100, "new": 87},
        "enrollment_type": {"old": "ESTIMATED", "new": "ACTUAL"},
    }
    trial.refresh_from_db()
    assert trial.overall_status == "UNKNOWN" and history_count() == before  # never overwritten
    # The same record again: nothing new.
    assert str(import_studies(changed_record())).startswith("0 draft(s) created, 0 registry update(s) recorded, 1")
    assert RegistryUpdate.objects.count() == 1


def test_accepting_fields_updates_the_trial_and_its_history():
    (trial,) = import_studies(study("NCT03475563")).created
    (update,) = import_studies(changed_record()).updates
    curator = UserFactory(role="Curator")
    actions.resolve_registry_update(
        update=update, accept=["overall_status", "completion_date", "status_confirmed_on"], user=curator
    )
    trial.refresh_from_db()
    assert trial.overall_status == "COMPLETED"
    assert (trial.completion_date, trial.completion_date_type) == (datetime.date(2026, 9, 30), "ACTUAL")
    assert trial.status_confirmed_on == datetime.date(2026, 10, 1)
    assert trial.enrollment == 100  # not accepted
    latest = trial.history.latest()
    assert latest.history_user == curator
    assert latest.history_change_reason == (
        "Accepted from ClinicalTrials.gov (NCT03475563): overall status, status confirmed on, completion date"
    )
    assert trial.history.exclude(pk=latest.pk).order_by("-history_id").first().overall_status == "UNKNOWN"
    update.refresh_from_db()
    assert update.status == RegistryUpdateStatus.ACCEPTED
    assert update.accepted_fields == ["overall_status", "status_confirmed_on", "completion_date"]
    assert update.resolved_by == curator and update.resolved_at is not None
    # Importing the record again proposes only what was not accepted... and that was dismissed.
    assert import_studies(changed_record()).updates == []
    # A new value of a dismissed field is proposed again.
    newer = changed_record()
    newer["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 90, "type": "ACTUAL"}
    (again,) = import_studies(newer).updates
    assert again.changes == {"enrollment": {"old": 100, "new": 90}}


def test_accepting_countries_records_one_history_entry():
    trial = trial_with(identifier="NCT03475563", countries=["SE"], curation_state=CurationState.DRAFT)
    (update,) = import_studies(study("NCT03475563")).updates
    assert update.changes["countries"] == {"old": ["SE"], "new": ["ES"]}
    before = history_count()
    actions.resolve_registry_update(update=update, accept=["countries"], user=UserFactory(role="Editor"))
    assert list(trial.countries.values_list("code", flat=True)) == ["ES"]
    assert history_count() == before + 1


def test_dismissing_records_who_and_keeps_the_trial():
    (trial,) = import_studies(study("NCT03475563")).created
    (update,) = import_studies(changed_record()).updates
    curator = UserFactory(role="Curator")
    before = history_count()
    actions.dismiss_registry_update(update=update, user=curator)
    update.refresh_from_db()
    assert (update.status, update.resolved_by, update.accepted_fields) == (RegistryUpdateStatus.DISMISSED, curator, [])
    assert history_count() == before
    assert import_studies(changed_record()).updates == []  # not proposed again
    with pytest.raises(actions.RecordError, match="already dismissed"):
        actions.resolve_registry_update(update=update, accept=["enrollment"], user=curator)


def test_resolving_needs_the_right_to_change_trials():
    import_studies(study("NCT03475563"))
    (update,) = import_studies(changed_record()).updates
    reader = UserFactory()
    with pytest.raises(PermissionDenied):
        actions.resolve_registry_update(update=update, accept=["enrollment"], user=reader)


def test_an_accepted_value_that_breaks_the_trial_is_refused_whole():
    trial = trial_with(identifier="NCT03475563", start_date=datetime.date(2020, 1, 1), start_date_precision="DAY")
    record = study("NCT03475563")
    record["protocolSection"]["statusModule"]["completionDateStruct"] = {"date": "2019-01-01", "type": "ACTUAL"}
    (update,) = import_studies(record).updates
    with pytest.raises(actions.RecordError) as refused:
        actions.resolve_registry_update(
            update=update, accept=["completion_date", "enrollment"], user=UserFactory(role="Editor")
        )
    # In a curator's words, never the constraint's name.
    assert "The completion date is before the start date: check both against the registry." in str(refused.value)
    assert "Constraint" not in str(refused.value) and "trial_start_before_completion" not in str(refused.value)
    trial.refresh_from_db()
    assert trial.completion_date is None and trial.enrollment is None
    update.refresh_from_db()
    assert update.status == RegistryUpdateStatus.PENDING


def test_a_newer_record_supersedes_the_pending_update():
    import_studies(study("NCT03475563"))
    (first,) = import_studies(changed_record()).updates
    newer = changed_record()
    newer["protocolSection"]["statusModule"]["overallStatus"] = "TERMINATED"
    (second,) = import_studies(newer).updates
    first.refresh_from_db()
    assert first.status == RegistryUpdateStatus.SUPERSEDED and first.resolved_at is not None
    assert second.changes["overall_status"]["new"] == "TERMINATED"
    assert RegistryUpdate.objects.pending().get() == second


def test_the_registry_never_erases_a_curated_fact_nor_proposes_an_older_confirmation():
    trial = trial_with(identifier="NCT03475563", acronym="BIOSS", countries=["ES"])
    Trial.objects.filter(pk=trial.pk).update(
        brief_title=study("NCT03475563")["protocolSection"]["identificationModule"]["briefTitle"],
        status_confirmed_on=datetime.date(2026, 1, 1),
    )
    record = study("NCT03475563")
    del record["protocolSection"]["identificationModule"]["acronym"]
    (update,) = import_studies(record).updates
    assert "acronym" not in update.changes and "status_confirmed_on" not in update.changes
    assert "overall_status" in update.changes


# --- Bad input: clear messages naming the record, nothing half-written, the others go on -------


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda s: s["protocolSection"]["statusModule"].update(overallStatus="FINISHED"),
            "unknown overallStatus 'FINISHED'",
        ),
        (
            lambda s: s["protocolSection"]["designModule"].update(phases=["PHASE5"]),
            "unknown phase combination ['PHASE5']",
        ),
        (
            lambda s: s["protocolSection"]["designModule"].update(studyType="CASE_STUDY"),
            "unknown studyType 'CASE_STUDY'",
        ),
        (
            lambda s: s["protocolSection"]["identificationModule"].update(nctId="NCT123"),
            "'NCT123' is not an NCT number",
        ),
        (lambda s: s["protocolSection"].pop("identificationModule"), "has no identificationModule"),
        (
            lambda s: s["protocolSection"]["statusModule"].update(startDateStruct={"date": "2018-13"}),
            "startDate '2018-13' is not a date",
        ),
        (lambda s: s["protocolSection"]["identificationModule"].pop("briefTitle"), "has no briefTitle"),
    ],
)
def test_a_bad_record_is_reported_by_name_and_the_others_go_on(change, message):
    bad = study("NCT00763412")
    change(bad)
    summary = actions.import_ctgov_studies(
        [("bad.json", bad), ("NCT00973089.json", study("NCT00973089"))], source="test"
    )
    (error,) = summary.errors
    assert error.startswith("bad.json") and message in error
    assert [t.slug for t in summary.created] == ["nct00973089"]
    assert not RegistryIdentifier.objects.filter(value="NCT00763412").exists()


def test_missing_modules_leave_their_fields_empty_and_say_so():
    record = study("NCT00763412")
    del record["protocolSection"]["statusModule"]
    del record["protocolSection"]["designModule"]
    (trial,) = import_studies(record).created
    assert trial.overall_status == "" and trial.study_type == "" and trial.enrollment is None
    assert "The record has no statusModule." in trial.curator_notes
    assert "The record has no designModule." in trial.curator_notes


def test_malformed_json_and_json_that_is_not_a_study(tmp_path):
    (tmp_path / "broken.json").write_text('{"protocolSection": ')
    (tmp_path / "other.json").write_text('{"trials": []}')
    (tmp_path / "list.json").write_text("[1, 2]")
    files = [tmp_path / "broken.json", tmp_path / "other.json", tmp_path / "list.json", DATA / "NCT00973089.json"]
    summary = actions.import_ctgov_files(files)
    assert summary.errors == [
        "broken.json: malformed JSON (Expecting value at line 1, column 21).",
        "other.json: not a ClinicalTrials.gov API v2 study: it has no protocolSection.",
        "list.json: not a ClinicalTrials.gov study: expected a JSON object with a protocolSection.",
    ]
    assert len(summary.created) == 1


def test_a_page_of_studies_with_one_bad_element(tmp_path):
    page = {"studies": [study("NCT00763412"), {"nothing": True}, study("NCT06171568")]}
    (tmp_path / "page.json").write_text(json.dumps(page))
    summary = actions.import_ctgov_files([tmp_path / "page.json"])
    assert sorted(t.slug for t in summary.created) == ["nct00763412", "nct06171568"]
    assert summary.errors == ["page.json, study 2: not a ClinicalTrials.gov API v2 study: it has no protocolSection."]


def test_one_transaction_per_record(monkeypatch):
    """A failure after the trial row is written (here: an unknown mechanism) leaves nothing behind."""
    real = mapping.study_to_record

    def with_bad_mechanism(study, **kwargs):
        record = real(study, **kwargs)
        record["mechanisms"] = [{"mechanism": "no-such-mechanism", "rationale": "x"}]
        return record

    monkeypatch.setattr(registry_updates, "study_to_record", with_bad_mechanism)
    summary = import_studies(study("NCT00763412"))
    assert "unknown mechanism 'no-such-mechanism'" in summary.errors[0]
    assert not Trial.objects.exists() and not RegistryIdentifier.objects.exists()


def test_dry_run_writes_nothing():
    summary = actions.import_ctgov_files(FILES, dry_run=True)
    assert len(summary.created) == 5
    assert not Trial.objects.exists()


# --- The HTTP client, against a local server ---------------------------------------------------


class FakeTime:
    """A clock that moves only when the client sleeps: tests never wait."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def server(settings):
    with CtgovServer(DATA) as running:
        settings.CTGOV_API_URL = running.url
        yield running


@pytest.fixture
def fake_time():
    return FakeTime()


def make_client(fake_time, **kwargs):
    limiter = ctgov_client.RateLimiter(clock=fake_time.clock, sleep=fake_time.sleep)
    options = {"timeout": 2.0, "retries": 2, "backoff": 1.0, "limiter": limiter}
    return ctgov_client.CtgovClient(clock=fake_time.clock, sleep=fake_time.sleep, **{**options, **kwargs})


def test_client_fetches_a_record(server, fake_time):
    record = make_client(fake_time).fetch_study("nct00763412")
    assert record == study("NCT00763412")
    assert server.requests == ["/api/v2/studies/NCT00763412?format=json"]
    assert fake_time.sleeps == []


def test_client_404_is_not_retried(server, fake_time):
    with pytest.raises(
        ctgov_client.FetchError, match=r"NCT99999999: no such study on ClinicalTrials.gov \(HTTP 404\)"
    ) as info:
        make_client(fake_time).fetch_study("NCT99999999")
    assert info.value.kind == "not_found" and len(server.requests) == 1


def test_client_honours_429_and_retry_after(server, fake_time):
    server.script("NCT00763412", Reply(429, {"Retry-After": "7"}))
    assert make_client(fake_time).fetch_study("NCT00763412")["protocolSection"]
    assert fake_time.sleeps == [7.0]
    assert len(server.requests) == 2


def test_client_gives_up_when_retry_after_is_too_long(server, fake_time):
    server.script("NCT00763412", Reply(429, {"Retry-After": "3600"}))
    with pytest.raises(ctgov_client.FetchError, match="asked to wait 3600 s") as info:
        make_client(fake_time).fetch_study("NCT00763412")
    assert info.value.kind == "rate_limited" and len(server.requests) == 1


def test_client_retries_server_errors_with_backoff(server, fake_time):
    server.script("NCT00763412", Reply(500), Reply(503))
    assert make_client(fake_time).fetch_study("NCT00763412")["protocolSection"]
    assert fake_time.sleeps == [1.0, 2.0]


def test_client_gives_up_after_its_retries(server, fake_time):
    server.script("NCT00763412", Reply(500), Reply(500), Reply(500), Reply(500))
    with pytest.raises(ctgov_client.FetchError, match=r"HTTP 500 \(a server error\); gave up after 3 attempt") as info:
        make_client(fake_time).fetch_study("NCT00763412")
    assert info.value.kind == "server" and len(server.requests) == 3


def test_client_times_out_and_retries(server, fake_time):
    server.script("NCT00763412", Reply(delay=1.0))
    started = time.monotonic()
    assert make_client(fake_time, timeout=0.2).fetch_study("NCT00763412")["protocolSection"]
    assert time.monotonic() - started < 1.0
    assert fake_time.sleeps == [1.0]


def test_client_timeout_message(server, fake_time):
    server.script("NCT00763412", Reply(delay=1.0), Reply(delay=1.0))
    with pytest.raises(ctgov_client.FetchError, match=r"no answer within 0.2 s \(timeout\); gave up after 2") as info:
        make_client(fake_time, timeout=0.2, retries=1).fetch_study("NCT00763412")
    assert info.value.kind == "timeout"


def test_client_says_clearly_and_quickly_when_it_cannot_reach_the_api(fake_time):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v2"
    started = time.monotonic()
    with pytest.raises(ctgov_client.FetchError, match="cannot reach ClinicalTrials.gov") as info:
        make_client(fake_time, base_url=url).fetch_study("NCT00763412")
    assert info.value.kind == "unreachable" and fake_time.sleeps == []
    assert time.monotonic() - started < 2


def test_client_refuses_a_malformed_nct_number_without_asking(server, fake_time):
    with pytest.raises(ctgov.CtgovError, match="'NCT1234' is not an NCT number"):
        make_client(fake_time).fetch_study("NCT1234")
    assert server.requests == []


def test_client_refuses_an_answer_that_is_not_a_study(server, fake_time):
    server.script("NCT00763412", Reply(200, body=b"<html>maintenance</html>"))
    with pytest.raises(ctgov_client.FetchError, match="answer is not JSON"):
        make_client(fake_time).fetch_study("NCT00763412")


def test_rate_limiter_stays_under_the_published_limit(fake_time):
    limiter = ctgov_client.RateLimiter(per_minute=40, burst=5, clock=fake_time.clock, sleep=fake_time.sleep)
    for _ in range(45):
        limiter.acquire()
    assert fake_time.sleeps[:5] == [] or len(fake_time.sleeps) == 40
    assert fake_time.now - 1000.0 == pytest.approx(60.0)  # 45 requests: 5 at once, then 40 in a minute
    assert all(wait == pytest.approx(1.5) for wait in fake_time.sleeps)


def test_rate_limiter_refuses_a_wait_past_the_deadline(fake_time):
    limiter = ctgov_client.RateLimiter(per_minute=40, burst=1, clock=fake_time.clock, sleep=fake_time.sleep)
    limiter.acquire()
    with pytest.raises(ctgov_client.FetchError, match="rate limit"):
        limiter.acquire(deadline=fake_time.now + 1.0)


def test_retry_after_as_an_http_date():
    now = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)
    assert ctgov_client.retry_after_seconds("Tue, 24 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert ctgov_client.retry_after_seconds("soon") is None


# --- Commands ----------------------------------------------------------------------------------


def test_import_command_prints_each_record_then_a_summary_and_fails_if_any_failed(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"1 of 6 record\(s\) failed \(see above\)"):
        call_command("import_ctgov", *map(str, FILES), str(tmp_path / "bad.json"), stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[:5] == [f"{path.name}: created the draft {path.stem}" for path in FILES]
    assert sum(line.startswith("Warning: ") for line in lines) == 4
    assert lines[-1] == (
        "ClinicalTrials.gov import: 5 draft(s) created, 0 registry update(s) recorded, 0 unchanged, 1 failed, "
        "4 warning(s)"
    )
    assert err.getvalue().startswith("bad.json: malformed JSON")


def test_import_command_fails_when_nothing_could_be_imported(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CommandError, match=r"1 of 1 record\(s\) failed"):
        call_command("import_ctgov", str(tmp_path / "bad.json"), stdout=io.StringIO(), stderr=io.StringIO())


def test_import_command_succeeds_when_every_record_imports():
    out = io.StringIO()
    call_command("import_ctgov", str(DATA / "NCT00763412.json"), stdout=out, stderr=io.StringIO())
    assert out.getvalue().endswith("1 draft(s) created, 0 registry update(s) recorded, 0 unchanged, 0 failed\n")


def test_check_command_records_updates_for_published_trials(server, monkeypatch):
    monkeypatch.setattr(ctgov_client, "LIMITER", ctgov_client.RateLimiter(sleep=lambda s: None))
    published = trial_with(identifier="NCT00763412", overall_status="RECRUITING", curation_state="PUBLISHED")
    trial_with(identifier="NCT06171568", curation_state="DRAFT")  # drafts are not checked
    trial_with(identifier="NCT99999999", curation_state="PUBLISHED")  # gone from the registry: 404
    out, err = io.StringIO(), io.StringIO()
    call_command("check_ctgov_updates", stdout=out, stderr=err)
    assert out.getvalue() == (
        "2 published trial(s) with an NCT number checked against ClinicalTrials.gov: "
        "1 new registry update(s), 0 unchanged, 1 failed\n"
    )
    assert "NCT99999999: no such study on ClinicalTrials.gov (HTTP 404)" in err.getvalue()
    update = RegistryUpdate.objects.get()
    assert update.trial == published and update.source == "ClinicalTrials.gov API"
    assert update.changes["overall_status"] == {"old": "RECRUITING", "new": "COMPLETED"}
    assert sorted(server.requests) == [
        "/api/v2/studies/NCT00763412?format=json",
        "/api/v2/studies/NCT99999999?format=json",
    ]
    published.refresh_from_db()
    assert published.overall_status == "RECRUITING"


def test_check_stops_when_the_api_cannot_be_reached(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.CTGOV_API_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v2"
    for nct_id in ("NCT00763412", "NCT06171568"):
        trial_with(identifier=nct_id, curation_state="PUBLISHED")
    summary = actions.check_ctgov_updates(client=ctgov_client.CtgovClient(sleep=lambda s: None))
    first, second = summary.errors
    assert first.startswith("NCT00763412: cannot reach ClinicalTrials.gov at http://127.0.0.1:")
    assert second == "NCT06171568: not fetched, ClinicalTrials.gov cannot be reached (see above)."
    assert not RegistryUpdate.objects.exists()


# --- Admin -------------------------------------------------------------------------------------


def upload(*paths):
    return [SimpleUploadedFile(p.name, p.read_bytes(), content_type="application/json") for p in paths]


def test_import_page_needs_a_staff_user_who_may_add_trials(client):
    url = reverse("admin:trials_registryupdate_import")
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(UserFactory())  # staff, no permissions
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(role="Curator"))
    response = client.get(url)
    assert response.status_code == 200
    assert b"Import from ClinicalTrials.gov" in response.content


def test_import_page_imports_uploaded_files(client, curator):
    client.force_login(curator)
    response = client.post(
        reverse("admin:trials_registryupdate_import"),
        {"files": upload(DATA / "NCT00763412.json", DATA / "NCT03475563.json")},
    )
    assert response.status_code == 200
    assert response.context["summary"].errors == []
    assert set(Trial.objects.values_list("slug", flat=True)) == {"nct00763412", "nct03475563"}
    trial = Trial.objects.get(slug="nct00763412")
    assert reverse("admin:trials_trial_change", args=[trial.pk]).encode() in response.content
    assert Trial.objects.get(slug="nct00763412").curation_state == "DRAFT"


def test_import_page_reports_a_bad_file_by_name(client, curator):
    client.force_login(curator)
    bad = SimpleUploadedFile("notes.json", b"not json", content_type="application/json")
    response = client.post(reverse("admin:trials_registryupdate_import"), {"files": [bad]})
    assert "notes.json: malformed JSON" in response.content.decode()
    assert not Trial.objects.exists()


def test_import_page_fetches_nct_numbers(client, curator, server, monkeypatch):
    monkeypatch.setattr(ctgov_client, "LIMITER", ctgov_client.RateLimiter(sleep=lambda s: None))
    client.force_login(curator)
    response = client.post(reverse("admin:trials_registryupdate_import"), {"nct_ids": "NCT00763412, nct06171568"})
    assert response.context["summary"].errors == []
    assert Trial.objects.count() == 2


def test_import_page_rejects_malformed_nct_numbers(client, curator):
    client.force_login(curator)
    response = client.post(reverse("admin:trials_registryupdate_import"), {"nct_ids": "NCT0076341 NCT06171568"})
    assert "&#x27;NCT0076341&#x27; is not an NCT number" in response.content.decode()
    assert response.context["summary"] is None


def test_import_page_says_quickly_when_clinicaltrials_gov_cannot_be_reached(client, curator, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.CTGOV_API_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v2"
    client.force_login(curator)
    started = time.monotonic()
    response = client.post(reverse("admin:trials_registryupdate_import"), {"nct_ids": "NCT00763412 NCT06171568"})
    assert time.monotonic() - started < 3
    content = response.content.decode()
    assert "NCT00763412: cannot reach ClinicalTrials.gov" in content
    assert "upload the study&#x27;s JSON file instead" in content


def test_review_page_accepts_fields(client, curator):
    (trial,) = import_studies(study("NCT03475563")).created
    (update,) = import_studies(changed_record()).updates
    client.force_login(curator)
    url = reverse("admin:trials_registryupdate_change", args=[update.pk])
    page = client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Unknown status" in content and "Completed" in content
    assert '<label for="accept-overall_status">Accept overall status</label>' in content
    # The trial's page shows its pending update, and the list of updates shows it too.
    assert url in client.get(reverse("admin:trials_trial_change", args=[trial.pk])).content.decode()
    assert url in client.get(reverse("admin:trials_registryupdate_changelist")).content.decode()
    response = client.post(url, {"accept": ["overall_status", "enrollment"], "_accept": "1"})
    assert response.status_code == 302
    trial.refresh_from_db()
    assert (trial.overall_status, trial.enrollment) == ("COMPLETED", 87)
    assert trial.history.latest().history_user == curator
    update.refresh_from_db()
    assert update.status == RegistryUpdateStatus.ACCEPTED and update.resolved_by == curator
    assert client.post(url, {"_dismiss": "1"}).status_code == 403  # already resolved


def test_review_page_dismisses(client, curator):
    import_studies(study("NCT03475563"))
    (update,) = import_studies(changed_record()).updates
    client.force_login(curator)
    response = client.post(reverse("admin:trials_registryupdate_change", args=[update.pk]), {"_dismiss": "1"})
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.status == RegistryUpdateStatus.DISMISSED and update.resolved_by == curator


def test_review_page_is_read_only_for_those_who_may_not_change_trials(client):
    import_studies(study("NCT03475563"))
    (update,) = import_studies(changed_record()).updates
    viewer = UserFactory()
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_trial"))
    client.force_login(viewer)
    url = reverse("admin:trials_registryupdate_change", args=[update.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_accept"' not in page.content
    assert client.post(url, {"_dismiss": "1"}).status_code == 403


def test_trial_list_links_to_the_import(client, curator):
    client.force_login(curator)
    content = client.get(reverse("admin:trials_trial_changelist")).content.decode()
    assert reverse("admin:trials_registryupdate_import") in content


# --- Imports that say what happened ----------------------------------------------------------------


def test_a_file_named_after_another_nct_number_is_reported(tmp_path):
    (tmp_path / "NCT04786262.json").write_bytes((DATA / "NCT00763412.json").read_bytes())
    summary = actions.import_ctgov_files([tmp_path / "NCT04786262.json"])
    (trial,) = summary.created
    assert trial.slug == "nct00763412"
    assert summary.warnings == [
        "NCT04786262.json (NCT00763412): the file's name says NCT04786262 but it holds the record of NCT00763412."
    ]
    assert "- the file's name says NCT04786262 but it holds the record of NCT00763412." in trial.curator_notes


def test_a_file_named_after_its_own_nct_number_says_nothing_of_it():
    summary = actions.import_ctgov_files([DATA / "NCT00763412.json"])
    assert summary.warnings == []


V1_FULL = {
    "FullStudiesResponse": {
        "APIVrs": "1.01.05",
        "FullStudies": [{"Rank": 1, "Study": {"ProtocolSection": {"IdentificationModule": {"NCTId": "NCT00763412"}}}}],
    }
}
V1_FIELDS = {"StudyFieldsResponse": {"StudyFields": [{"Rank": 1, "NCTId": ["NCT00973089"], "BriefTitle": ["x"]}]}}
XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<clinical_study rank="1">
  <id_info><org_study_id>05-1109</org_study_id><nct_id>NCT00763412</nct_id></id_info>
  <brief_title>Pilot and Feasibility Study</brief_title>
</clinical_study>
"""


@pytest.mark.parametrize(
    "name, data, message",
    [
        (
            "full.json",
            json.dumps(V1_FULL).encode(),
            "full.json: this is the old ClinicalTrials.gov API v1 JSON (FullStudiesResponse), retired in 2024, which "
            "the registry does not read; download the study's API v2 JSON from "
            "https://clinicaltrials.gov/api/v2/studies/NCT00763412 and import that file.",
        ),
        (
            "fields.json",
            json.dumps(V1_FIELDS).encode(),
            "fields.json: this is the old ClinicalTrials.gov API v1 JSON (StudyFieldsResponse), retired in 2024, "
            "which the registry does not read; download the study's API v2 JSON from "
            "https://clinicaltrials.gov/api/v2/studies/NCT00973089 and import that file.",
        ),
        (
            "NCT00763412.xml",
            XML,
            "NCT00763412.xml: this is ClinicalTrials.gov's legacy XML (<clinical_study>), which the registry does not "
            "read; download the study's API v2 JSON from https://clinicaltrials.gov/api/v2/studies/NCT00763412 and "
            "import that file.",
        ),
        (
            "study.xml",
            XML.replace(b"<nct_id>NCT00763412</nct_id>", b""),
            "study.xml: this is ClinicalTrials.gov's legacy XML (<clinical_study>), which the registry does not "
            "read; download the study's API v2 JSON from https://clinicaltrials.gov/api/v2/studies/NCTxxxxxxxx "
            "(its NCT number) and import that file.",
        ),
        ("page.html", b"<!DOCTYPE html><html></html>", "page.html: XML or HTML, not JSON; expected"),
    ],
    ids=["v1-full-studies", "v1-study-fields", "legacy-xml", "legacy-xml-without-number", "html"],
)
def test_older_formats_are_refused_with_what_to_download(name, data, message):
    summary = actions.import_ctgov_documents([(name, data)], source="test {name}")
    (error,) = summary.errors
    assert error.startswith(message)
    assert not Trial.objects.exists()


def test_the_command_records_the_user_and_the_file_name(tmp_path):
    curator = UserFactory(role="Curator", username="ada")
    out = io.StringIO()
    call_command("import_ctgov", str(DATA / "NCT00763412.json"), "--user", "ada", stdout=out, stderr=io.StringIO())
    trial = Trial.objects.get()
    entry = trial.history.earliest()
    assert entry.history_user == curator
    assert entry.history_change_reason == "Imported from ClinicalTrials.gov (file NCT00763412.json)"
    assert trial.identifiers.get().history.earliest().history_user == curator
    assert trial.sources.get().history.earliest().history_user == curator
    changed = study("NCT00763412")
    changed["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    (tmp_path / "NCT00763412-new.json").write_text(json.dumps(changed))
    call_command("import_ctgov", str(tmp_path / "NCT00763412-new.json"), stdout=out, stderr=io.StringIO())
    assert RegistryUpdate.objects.get().source == "file NCT00763412-new.json"
    assert out.getvalue().splitlines()[0] == "NCT00763412.json: created the draft NCT00763412"
    assert "NCT00763412-new.json: registry update recorded for NCT00763412" in out.getvalue()


def test_the_command_refuses_an_unknown_user_before_importing():
    with pytest.raises(CommandError, match="No account with the user name 'nobody'"):
        call_command("import_ctgov", str(DATA / "NCT00763412.json"), "--user", "nobody", stdout=io.StringIO())
    assert not Trial.objects.exists()


def test_the_admin_records_who_uploaded_which_file(client, curator):
    client.force_login(curator)
    upload = SimpleUploadedFile("NCT00763412.json", (DATA / "NCT00763412.json").read_bytes())
    client.post(reverse("admin:trials_registryupdate_import"), {"files": [upload]})
    entry = Trial.objects.get().history.earliest()
    assert entry.history_user == curator
    assert (
        entry.history_change_reason
        == f"Imported from ClinicalTrials.gov (upload NCT00763412.json by {curator.username})"
    )


def test_a_record_about_no_form_of_diabetes_imports_with_a_warning_on_the_draft(client, curator):
    summary = actions.import_ctgov_files([DATA / "NCT00973089.json"])
    (trial,) = summary.created
    warning = (
        "none of the registry's conditions names a form of diabetes (conditions: Caries, Dental): check that the "
        "trial belongs in this registry"
    )
    assert summary.warnings == [f"NCT00973089.json: {warning}."]
    assert trial.curator_notes.startswith(f"Warnings from the import:\n- {warning}.\n\n")
    client.force_login(curator)
    page = client.get(reverse("admin:trials_trial_change", args=[trial.pk])).content.decode()
    assert "none of the registry&#x27;s conditions names a form of diabetes" in page


def test_a_record_about_diabetes_has_no_such_warning():
    summary = actions.import_ctgov_files([DATA / "NCT00763412.json"])  # Cystic Fibrosis Related Diabetes
    assert summary.warnings == []
    assert "Warnings from the import" not in summary.created[0].curator_notes
