"""How current a trial's status is: the staleness rule, in Python (`StatusDisplay.for_trial`) and in SQL
(`status_stale_q`, `record_stale_q`, `shown_status`), one place for the admin, the pages, the counts and the
export. tests/test_models.py holds a test that both forms agree.
"""

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from trials.vocabularies import OverallStatus

# Statuses that claim the trial is still going on: they go stale when not confirmed.
ACTIVE_STATUSES = frozenset(
    {
        OverallStatus.NOT_YET_RECRUITING,
        OverallStatus.RECRUITING,
        OverallStatus.ENROLLING_BY_INVITATION,
        OverallStatus.ACTIVE_NOT_RECRUITING,
    }
)

STATUS_EXPLANATIONS: dict[str, str] = {
    OverallStatus.NOT_YET_RECRUITING: "The trial has not started taking participants yet.",
    OverallStatus.RECRUITING: "The trial is taking participants now.",
    OverallStatus.ENROLLING_BY_INVITATION: "Participants are chosen by invitation only; no open enrolment.",
    OverallStatus.ACTIVE_NOT_RECRUITING: "Participants are being treated or followed; no new ones are taken.",
    OverallStatus.SUSPENDED: "The trial has stopped for now and may start again.",
    OverallStatus.TERMINATED: "The trial stopped early and will not start again.",
    OverallStatus.COMPLETED: "The trial has ended normally; that says nothing about whether the therapy worked.",
    OverallStatus.WITHDRAWN: "The trial stopped before its first participant was enrolled.",
    OverallStatus.UNKNOWN: "The registry itself says the status is unknown: its sponsor has not confirmed it for "
    "a long time, and the trial may have ended.",
}

# This registry's own rule, told apart from the registry's "Unknown status": an active status not confirmed by a
# source for over STATUS_STALE_AFTER_YEARS years. A value of the status filter and facet, never stored.
STALE = "STALE"
STALE_LABEL = "Not confirmed for over 2 years"


STATUS_STALE_AFTER_YEARS = 2  # an "active" status not confirmed for longer is shown as unknown
REVIEW_STALE_AFTER_YEARS = 1  # a record not reviewed for longer is flagged for curators


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def confirmed_in_words(day: date, precision: str) -> str:
    """'on 4 March 2026', 'in March 2026', 'in 2026': a confirmation date no more precise than it is known."""
    if precision == "YEAR":
        return f"in {day.year}"
    if precision == "MONTH":
        return f"in {day:%B} {day.year}"
    return f"on {day.day} {day:%B} {day.year}"


class StatusFacts(Protocol):
    """What the rule reads of a trial: a Trial, or a row of the export."""

    overall_status: str
    status_confirmed_on: date | None
    last_reviewed_on: date | None


@dataclass(frozen=True)
class StatusDisplay:
    """What readers are told about a trial's status. Built by `for_trial`, the one place the rule lives.

    - no stored status: "Status not recorded";
    - a status that claims activity (not yet recruiting, recruiting, enrolling by invitation, active not
      recruiting) whose confirmation is over 2 years old, or missing: "Not confirmed for over 2 years (last
      confirmed on …)", the code STALE (not the registry's own "Unknown status"),
      the stored status kept;
    - otherwise the stored status in plain words.
    `record_stale` says the whole record was not reviewed for over 12 months (or never).
    """

    code: str  # the status code shown: the stored one, STALE when the rule applies, "" when not recorded
    label: str
    explanation: str
    confirmed_on: date | None
    status_stale: bool
    record_stale: bool

    @property
    def may_be_out_of_date(self) -> bool:
        return self.status_stale or self.record_stale

    @classmethod
    def for_trial(cls, trial: StatusFacts, today: date | None = None) -> "StatusDisplay":
        today = today or timezone.localdate()
        confirmed = trial.status_confirmed_on
        record_stale = trial.last_reviewed_on is None or trial.last_reviewed_on < years_before(
            today, REVIEW_STALE_AFTER_YEARS
        )
        status = trial.overall_status
        if not status:
            return cls(
                "",
                "Status not recorded",
                "No dated status was found in the sources read.",
                confirmed,
                False,
                record_stale,
            )
        if status in ACTIVE_STATUSES and (
            confirmed is None or confirmed < years_before(today, STATUS_STALE_AFTER_YEARS)
        ):
            precision = getattr(trial, "status_confirmed_on_precision", "") or "DAY"
            when = f"last confirmed {confirmed_in_words(confirmed, precision)}" if confirmed else "never confirmed"
            return cls(
                STALE,
                f"{STALE_LABEL} ({when})",
                f"The last status given was “{OverallStatus(status).label}”, but it has not been confirmed "
                f"for over {STATUS_STALE_AFTER_YEARS} years; the trial may have ended.",
                confirmed,
                True,
                record_stale,
            )
        return cls(status, OverallStatus(status).label, STATUS_EXPLANATIONS[status], confirmed, False, record_stale)


def status_stale_q(today: date | None = None) -> Q:
    """SQL form of the staleness rule: trials whose active status is shown as unknown (see StatusDisplay)."""
    today = today or timezone.localdate()
    cutoff = years_before(today, STATUS_STALE_AFTER_YEARS)
    return Q(overall_status__in=ACTIVE_STATUSES) & (
        Q(status_confirmed_on__isnull=True) | Q(status_confirmed_on__lt=cutoff)
    )


def record_stale_q(today: date | None = None) -> Q:
    """SQL form of the review rule: records not reviewed for over 12 months, or never."""
    today = today or timezone.localdate()
    cutoff = years_before(today, REVIEW_STALE_AFTER_YEARS)
    return Q(last_reviewed_on__isnull=True) | Q(last_reviewed_on__lt=cutoff)


NOT_RECORDED = "NOT_RECORDED"  # the filters' value for trials with no value recorded
STATUS_CHOICES = [*OverallStatus.choices, (STALE, STALE_LABEL), (NOT_RECORDED, "Status not recorded")]


def shown_status(today: date | None = None) -> Case:
    """An expression: the status code readers see (STALE for a stale active status, '' when not recorded)."""
    return Case(When(status_stale_q(today), then=Value(STALE)), default=F("overall_status"))


# The list's default order (sort=active): trials a reader could take part in first, then those still treating or
# following participants, then the rest; each group by the date its status was last confirmed, newest first.
OPEN_STATUSES = (
    OverallStatus.RECRUITING,
    OverallStatus.NOT_YET_RECRUITING,
    OverallStatus.ENROLLING_BY_INVITATION,
)


def activity_rank(today: date | None = None) -> Case:
    """An expression: 0 for a trial open to participants (recruiting, not yet recruiting, by invitation), 1 for
    one active but not recruiting, 2 for the rest; a stale status (shown as unknown) counts with the rest."""
    stale = status_stale_q(today)
    return Case(
        When(Q(overall_status__in=OPEN_STATUSES) & ~stale, then=Value(0)),
        When(Q(overall_status=OverallStatus.ACTIVE_NOT_RECRUITING) & ~stale, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def status_rank() -> Case:
    """Order of statuses as shown: the vocabulary's order, 'not recorded' last."""
    ranks = [When(shown=code, then=Value(rank)) for rank, code in enumerate([*OverallStatus.values, STALE])]
    return Case(*ranks, default=Value(len(ranks)), output_field=IntegerField())
