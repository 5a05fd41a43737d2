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


def choice_constraint(field, choices, words, blank=True):
    return models.CheckConstraint(
        condition=in_choices(field, choices, blank=blank),
        name=f"trial_{field}_valid",
        violation_error_message=f"Choose the {words} from the list.",
    )


def order_constraint(earlier, later, name):
    return models.CheckConstraint(
        condition=date_order(earlier, later),
        name=name,
        violation_error_message=f"The {PRECISE_DATES[later]} date is before the {PRECISE_DATES[earlier]} date: "
        "check both against the registry.",
    )


# Every constraint says what is wrong in a curator's words: its name never reaches a person (tests/test_models.py).
TRIAL_CONSTRAINTS = [
    models.CheckConstraint(
        condition=in_choices("phase", Phase, blank=True),
        name="trial_phase_valid",
        violation_error_message="Choose the phase from the list.",
    ),
    models.CheckConstraint(
        condition=in_choices("overall_status", OverallStatus, blank=True),
        name="trial_status_valid",
        violation_error_message="Choose the status from the list.",
    ),
    choice_constraint("study_type", StudyType, "study type"),
    choice_constraint("sponsor_class", SponsorClass, "sponsor's class"),
    choice_constraint("cell_source", CellSource, "cell source"),
    choice_constraint("cell_origin", CellOrigin, "cells' origin (autologous or allogeneic)"),
    choice_constraint("differentiation", DifferentiationStage, "differentiation stage"),
    choice_constraint("encapsulation", Encapsulation, "encapsulation"),
    choice_constraint("immunosuppression", Immunosuppression, "immunosuppression", blank=False),
    choice_constraint("enrollment_type", EnrollmentType, "enrollment type (actual or anticipated)"),
    choice_constraint("curation_state", CurationState, "curation state", blank=False),
    models.CheckConstraint(
        condition=Q(enrollment__gte=0),
        name="trial_enrollment_not_negative",
        violation_error_message="Enrollment is a number of participants: 0 or more, e.g. 12.",
    ),
    order_constraint("start_date", "primary_completion_date", "trial_start_before_primary_completion"),
    order_constraint("start_date", "completion_date", "trial_start_before_completion"),
    order_constraint("primary_completion_date", "completion_date", "trial_primary_completion_before_completion"),
    *[
        models.CheckConstraint(
            condition=date_precision_given(field),
            name=f"trial_{field}_precision_given",
            violation_error_message=f"The {words} date needs its precision (day, month or year); a precision or "
            "a type (actual or estimated) needs its date.",
        )
        for field, words in PRECISE_DATES.items()
    ],
    *[
        models.CheckConstraint(
            condition=in_choices(f"{field}_precision", DatePrecision, blank=True)
            & in_choices(f"{field}_type", DateType, blank=True),
            name=f"trial_{field}_precision_valid",
            violation_error_message=f"Choose the {words} date's precision and type from the lists.",
        )
        for field, words in PRECISE_DATES.items()
    ],
    models.CheckConstraint(
        condition=~Q(brief_title=""),
        name="trial_brief_title_not_empty",
        violation_error_message="Give the trial's brief title, as the registry writes it or a plain one.",
    ),
    *[
        models.CheckConstraint(
            condition=Q(**{f"{field}__isnull": True, f"{field}_precision": ""})
            | (Q(**{f"{field}__isnull": False}) & in_choices(f"{field}_precision", DatePrecision)),
            name=f"trial_{field}_precision_given",
            violation_error_message=f"The {words} date needs its precision (day, month or year), and a precision "
            "needs its date.",
        )
        for field, words in (
            ("status_confirmed_on", "status confirmation"),
            ("programme_discontinued_on", "programme's end"),
        )
    ],
]
