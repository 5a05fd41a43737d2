"""The trial's invariants as named database constraints: every vocabulary, the order of its dates, a precision
for each date given, non-negative enrollment. Each has a test and a message for curators (tests/test_models.py);
the models' other constraints sit in their Meta.
"""

from django.db import models
from django.db.models import Q

from trials.vocabularies import (
    PRECISE_DATES,
    CellOrigin,
    CellSource,
    CurationState,
    DatePrecision,
    DateType,
    DifferentiationStage,
    Encapsulation,
    EnrollmentType,
    Immunosuppression,
    OverallStatus,
    Phase,
    SponsorClass,
    StudyType,
)


def in_choices(field, choices, blank=False):
    """A Q object for a CheckConstraint: `field` holds one of the vocabulary's codes (or '')."""
    values = list(choices.values) + ([""] if blank else [])
    return Q(**{f"{field}__in": values})


def date_order(earlier, later):
    return (
        Q(**{f"{earlier}__isnull": True}) | Q(**{f"{later}__isnull": True}) | Q(**{f"{earlier}__lte": models.F(later)})
    )


def date_precision_given(field):
    """A date carries a precision exactly when it is set; its type (actual/estimated) may be unknown."""
    return Q(**{f"{field}__isnull": True}, **{f"{field}_precision": ""}, **{f"{field}_type": ""}) | Q(
        **{f"{field}__isnull": False}
    ) & ~Q(**{f"{field}_precision": ""})


TRIAL_CONSTRAINTS = [
    models.CheckConstraint(condition=in_choices("phase", Phase, blank=True), name="trial_phase_valid"),
    models.CheckConstraint(
        condition=in_choices("overall_status", OverallStatus, blank=True), name="trial_status_valid"
    ),
    models.CheckConstraint(condition=in_choices("study_type", StudyType, blank=True), name="trial_study_type_valid"),
    models.CheckConstraint(
        condition=in_choices("sponsor_class", SponsorClass, blank=True), name="trial_sponsor_class_valid"
    ),
    models.CheckConstraint(condition=in_choices("cell_source", CellSource, blank=True), name="trial_cell_source_valid"),
    models.CheckConstraint(condition=in_choices("cell_origin", CellOrigin, blank=True), name="trial_cell_origin_valid"),
    models.CheckConstraint(
        condition=in_choices("differentiation", DifferentiationStage, blank=True),
        name="trial_differentiation_valid",
    ),
    models.CheckConstraint(
        condition=in_choices("encapsulation", Encapsulation, blank=True), name="trial_encapsulation_valid"
    ),
    models.CheckConstraint(
        condition=in_choices("immunosuppression", Immunosuppression), name="trial_immunosuppression_valid"
    ),
    models.CheckConstraint(
        condition=in_choices("enrollment_type", EnrollmentType, blank=True), name="trial_enrollment_type_valid"
    ),
    models.CheckConstraint(condition=in_choices("curation_state", CurationState), name="trial_curation_state_valid"),
    models.CheckConstraint(condition=Q(enrollment__gte=0), name="trial_enrollment_not_negative"),
    models.CheckConstraint(
        condition=date_order("start_date", "primary_completion_date"),
        name="trial_start_before_primary_completion",
    ),
    models.CheckConstraint(condition=date_order("start_date", "completion_date"), name="trial_start_before_completion"),
    models.CheckConstraint(
        condition=date_order("primary_completion_date", "completion_date"),
        name="trial_primary_completion_before_completion",
    ),
    *[
        models.CheckConstraint(condition=date_precision_given(field), name=f"trial_{field}_precision_given")
        for field in PRECISE_DATES
    ],
    *[
        models.CheckConstraint(
            condition=in_choices(f"{field}_precision", DatePrecision, blank=True)
            & in_choices(f"{field}_type", DateType, blank=True),
            name=f"trial_{field}_precision_valid",
        )
        for field in PRECISE_DATES
    ],
    models.CheckConstraint(condition=~Q(brief_title=""), name="trial_brief_title_not_empty"),
    *[
        models.CheckConstraint(
            condition=Q(**{f"{field}__isnull": True, f"{field}_precision": ""})
            | (Q(**{f"{field}__isnull": False}) & in_choices(f"{field}_precision", DatePrecision)),
            name=f"trial_{field}_precision_given",
        )
        for field in ("status_confirmed_on", "programme_discontinued_on")
    ],
]
