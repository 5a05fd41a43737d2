import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from mechanisms.models import Mechanism
from tests.factories import (
    PublicationFactory,
    RegistryIdentifierFactory,
    TrialFactory,
    TrialMechanismFactory,
)
from trials.models import RegistryIdentifier, Trial
from trials.status import STALE, StatusDisplay, record_stale_q, status_stale_q
from trials.vocabularies import (
    IDENTIFIER_FORMATS,
    CurationState,
    OverallStatus,
    Registry,
    identifier_error,
    normalize_identifier,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 24)


def assert_rejected(constraint_name, **changes):
    """Saving a trial with `changes` violates the named database constraint."""
    trial = TrialFactory()
    for name, value in changes.items():
        setattr(trial, name, value)
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Trial.objects.filter(pk=trial.pk).update(**changes)
    # SQLite names the constraint in its message; PostgreSQL too.
    assert constraint_name in str(excinfo.value)


@pytest.mark.parametrize(
    ("constraint", "changes"),
    [
        ("trial_phase_valid", {"phase": "PHASE9"}),
        ("trial_status_valid", {"overall_status": "RECRUITING_SOON"}),
        ("trial_study_type_valid", {"study_type": "ANECDOTE"}),
        ("trial_sponsor_class_valid", {"sponsor_class": "CLINIC"}),
        ("trial_cell_source_valid", {"cell_source": "STARDUST"}),
        ("trial_cell_origin_valid", {"cell_origin": "XENO"}),
        ("trial_differentiation_valid", {"differentiation": "HALF"}),
        ("trial_encapsulation_valid", {"encapsulation": "BOX"}),
        ("trial_immunosuppression_valid", {"immunosuppression": ""}),
        ("trial_enrollment_type_valid", {"enrollment_type": "GUESSED"}),
        ("trial_curation_state_valid", {"curation_state": "LIVE"}),
        ("trial_enrollment_not_negative", {"enrollment": -1}),
        ("trial_brief_title_not_empty", {"brief_title": ""}),
        (
            "trial_start_before_completion",
            {
                "start_date": datetime.date(2024, 1, 1),
                "start_date_precision": "DAY",
                "completion_date": datetime.date(2023, 1, 1),
                "completion_date_precision": "DAY",
            },
        ),
        (
            "trial_start_before_primary_completion",
            {
                "start_date": datetime.date(2024, 1, 1),
                "start_date_precision": "DAY",
                "primary_completion_date": datetime.date(2023, 1, 1),
                "primary_completion_date_precision": "DAY",
            },
        ),
        (
            "trial_primary_completion_before_completion",
            {
                "primary_completion_date": datetime.date(2025, 1, 1),
                "primary_completion_date_precision": "DAY",
                "completion_date": datetime.date(2024, 1, 1),
                "completion_date_precision": "DAY",
            },
        ),
        ("trial_start_date_precision_given", {"start_date": datetime.date(2024, 1, 1)}),
        ("trial_start_date_precision_given", {"start_date_precision": "DAY"}),
        (
            "trial_completion_date_precision_valid",
            {"completion_date": datetime.date(2024, 1, 1), "completion_date_precision": "WEEK"},
        ),
    ],
)
def test_trial_constraints_reject_bad_rows(constraint, changes):
    if "enrollment" in changes:
        # Django's own column check on a positive integer may fire first; either way the row is refused.
        trial = TrialFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            Trial.objects.filter(pk=trial.pk).update(**changes)
        return
    assert_rejected(constraint, **changes)


def test_good_trial_with_ordered_dates_is_accepted():
    trial = TrialFactory(
        start_date=datetime.date(2021, 3, 1),
        start_date_precision="MONTH",
        start_date_type="ACTUAL",
        completion_date=datetime.date(2030, 6, 30),
        completion_date_precision="DAY",
        completion_date_type="ESTIMATED",
        enrollment=0,
    )
    trial.full_clean()
    assert Trial.objects.filter(pk=trial.pk).exists()


def test_full_clean_explains_a_bad_vocabulary_value():
    trial = TrialFactory.build(phase="PHASE9")
    with pytest.raises(ValidationError) as excinfo:
        trial.full_clean()
    assert "phase" in excinfo.value.message_dict


def test_identifier_is_unique_across_the_registry():
    RegistryIdentifierFactory(value="NCT04786262")
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistryIdentifierFactory(value="NCT04786262", is_primary=False)


def test_one_primary_identifier_per_trial():
    first = RegistryIdentifierFactory(is_primary=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistryIdentifierFactory(trial=first.trial, is_primary=True)
    RegistryIdentifierFactory(trial=first.trial, is_primary=False)
    assert first.trial.identifiers.count() == 2


def test_identifier_registry_and_value_are_checked_by_the_database():
    trial = TrialFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistryIdentifier.objects.create(trial=trial, registry="MYSPACE", value="X1")
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistryIdentifier.objects.create(trial=trial, registry=Registry.OTHER, value="")


def test_mechanism_link_constraints():
    link = TrialMechanismFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        TrialMechanismFactory(trial=link.trial, mechanism=link.mechanism)
    other = Mechanism.objects.get(slug="angiogenesis")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrialMechanismFactory(trial=link.trial, mechanism=other, rationale="")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrialMechanismFactory(trial=link.trial, mechanism=other, role="MAIN")


def test_publication_constraints():
    with pytest.raises(IntegrityError), transaction.atomic():
        PublicationFactory(pmid="PMC123")
    with pytest.raises(IntegrityError), transaction.atomic():
        PublicationFactory(doi="https://doi.org/10.1/x")
    with pytest.raises(IntegrityError), transaction.atomic():
        PublicationFactory(year=1066)


GOOD_IDENTIFIERS = {
    Registry.CTGOV: ["NCT04786262", "nct00315133"],
    Registry.EUCT: ["2023-503456-12-00"],
    Registry.EUDRACT: ["2017-002766-50"],
    Registry.ISRCTN: ["ISRCTN12345678"],
    Registry.CHICTR: ["ChiCTR2300072200", "ChiCTR-ONC-10000985", "chictr2300072200"],
    Registry.JRCT: ["jRCT2033200000", "jRCTs041180040"],
    Registry.CTRI: ["CTRI/2020/05/025215", "CTRI/2009/091/000123"],
    Registry.ANZCTR: ["ACTRN12619000123456"],
    Registry.IRCT: ["IRCT2016070428786N1", "IRCT20180704040323N2"],
    Registry.DRKS: ["DRKS00012345"],
    Registry.OTHER: ["VX20-880-101"],
}

BAD_IDENTIFIERS = {
    Registry.CTGOV: ["NCT0478626", "NCT047862621", "04786262", "NCT 04786262X"],
    Registry.EUCT: ["2023-003456-12-00", "2023-503456-12"],
    Registry.EUDRACT: ["2017-02766-50", "EUCTR2017-002766-50-SE", "2017-002766-5"],
    Registry.ISRCTN: ["ISRCTN1234567", "12345678"],
    Registry.CHICTR: ["ChiCTR230007220", "ChiCTR-10000985"],
    Registry.JRCT: ["jRCT203320000", "RCT2033200000"],
    Registry.CTRI: ["CTRI/20/05/025215", "CTRI-2020-05-025215"],
    Registry.ANZCTR: ["ACTRN1261900012345", "ANZ12619000123456"],
    Registry.IRCT: ["IRCT2016070428786", "IRCTN1"],
    Registry.DRKS: ["DRKS0001234", "DRKS000123456"],
    Registry.OTHER: ["", " padded "],
}


@pytest.mark.parametrize(("registry", "value"), [(r, v) for r, vs in GOOD_IDENTIFIERS.items() for v in vs])
def test_good_identifiers_pass(registry, value):
    normalized = normalize_identifier(registry, value)
    assert identifier_error(registry, normalized) is None


@pytest.mark.parametrize(("registry", "value"), [(r, v) for r, vs in BAD_IDENTIFIERS.items() for v in vs])
def test_bad_identifiers_are_refused_with_the_format(registry, value):
    message = identifier_error(registry, normalize_identifier(registry, value) if value.strip() else value)
    if registry == Registry.OTHER and value.strip():
        # "Other" only refuses empty values; surrounding spaces are trimmed by normalisation.
        assert message is None
        return
    assert message is not None
    assert IDENTIFIER_FORMATS[registry].example in message


def test_every_registry_has_a_format_with_a_valid_example():
    assert set(IDENTIFIER_FORMATS) == set(Registry)
    for registry, fmt in IDENTIFIER_FORMATS.items():
        assert fmt.matches(fmt.example), registry


def test_identifier_clean_normalises_and_explains():
    trial = TrialFactory()
    identifier = RegistryIdentifier(trial=trial, registry=Registry.CTGOV, value=" nct04786262 ")
    identifier.full_clean()
    assert identifier.value == "NCT04786262"
    bad = RegistryIdentifier(trial=trial, registry=Registry.CTGOV, value="NCT123")
    with pytest.raises(ValidationError) as excinfo:
        bad.full_clean()
    assert excinfo.value.message_dict["value"] == [
        "A ClinicalTrials.gov identifier is NCT followed by 8 digits, e.g. NCT04786262; got 'NCT123'."
    ]


def test_identifier_url():
    identifier = RegistryIdentifierFactory.build(value="NCT04786262")
    assert identifier.url == "https://clinicaltrials.gov/study/NCT04786262"
    assert RegistryIdentifierFactory.build(registry=Registry.OTHER, value="X-1").url == ""


def test_published_hides_drafts_and_reviews():
    published = TrialFactory()
    TrialFactory(curation_state=CurationState.DRAFT)
    TrialFactory(curation_state=CurationState.REVIEW)
    assert list(Trial.objects.published()) == [published]


def test_public_key_and_url_use_primary_identifier_else_slug():
    with_id = RegistryIdentifierFactory(value="NCT04786262").trial
    RegistryIdentifierFactory(trial=with_id, registry=Registry.EUDRACT, value="2017-002766-50", is_primary=False)
    without = TrialFactory(slug="vctx210")
    assert with_id.get_absolute_url() == "/trials/NCT04786262/"
    assert without.get_absolute_url() == "/trials/vctx210/"
    annotated = Trial.objects.with_primary_identifier().get(pk=with_id.pk)
    assert annotated.primary_identifier == "NCT04786262"
    assert list(Trial.objects.by_public_key("NCT04786262")) == [with_id]
    assert list(Trial.objects.by_public_key("vctx210")) == [without]
    assert not Trial.objects.by_public_key("2017-002766-50").exists()  # secondary ids are not addresses


# --- The staleness rule, at its boundaries ----------------------------------------------------


def display(**fields):
    return StatusDisplay.for_trial(TrialFactory.build(**fields), today=TODAY)


def test_status_not_recorded():
    shown = display(overall_status="")
    assert shown.label == "Status not recorded"
    assert shown.code == ""


@pytest.mark.parametrize(
    ("confirmed", "stale"),
    [
        (datetime.date(2024, 11, 24), False),  # exactly two years: still shown as given
        (datetime.date(2024, 11, 23), True),  # over two years
        (None, True),  # never confirmed
    ],
)
def test_active_status_goes_unknown_after_two_years(confirmed, stale):
    shown = display(overall_status=OverallStatus.RECRUITING, status_confirmed_on=confirmed)
    assert shown.status_stale is stale
    if stale:
        assert shown.code == STALE
        expected = "last confirmed on 23 November 2024" if confirmed else "never confirmed"
        assert shown.label == f"Not confirmed for over 2 years ({expected})"
        assert "Recruiting" in shown.explanation
    else:
        assert shown.label == "Recruiting"


def test_finished_status_never_goes_unknown():
    shown = display(overall_status=OverallStatus.COMPLETED, status_confirmed_on=datetime.date(2010, 1, 1))
    assert shown.label == "Completed"
    assert not shown.status_stale


@pytest.mark.parametrize(
    ("reviewed", "stale"),
    [(datetime.date(2025, 11, 24), False), (datetime.date(2025, 11, 23), True), (None, True)],
)
def test_record_review_goes_stale_after_twelve_months(reviewed, stale):
    shown = display(last_reviewed_on=reviewed)
    assert shown.record_stale is stale
    assert shown.may_be_out_of_date is stale


def test_sql_and_python_forms_of_the_rule_agree():
    cases = [
        (OverallStatus.RECRUITING, datetime.date(2024, 11, 24), datetime.date(2025, 11, 24)),
        (OverallStatus.RECRUITING, datetime.date(2024, 11, 23), datetime.date(2025, 11, 23)),
        (OverallStatus.ACTIVE_NOT_RECRUITING, None, None),
        (OverallStatus.COMPLETED, None, datetime.date(2020, 1, 1)),
        ("", None, datetime.date(2026, 1, 1)),
    ]
    trials = [
        TrialFactory(overall_status=status, status_confirmed_on=confirmed, last_reviewed_on=reviewed)
        for status, confirmed, reviewed in cases
    ]
    status_stale = set(Trial.objects.filter(status_stale_q(TODAY)).values_list("pk", flat=True))
    record_stale = set(Trial.objects.filter(record_stale_q(TODAY)).values_list("pk", flat=True))
    for trial in trials:
        shown = trial.status_display(TODAY)
        assert (trial.pk in status_stale) is shown.status_stale
        assert (trial.pk in record_stale) is shown.record_stale


def test_leap_day_boundary():
    shown = StatusDisplay.for_trial(
        TrialFactory.build(overall_status=OverallStatus.RECRUITING, status_confirmed_on=datetime.date(2026, 2, 28)),
        today=datetime.date(2028, 2, 29),
    )
    assert not shown.status_stale
