"""The curators' start page (the admin's index): what waits for whom, counted, each count a link to the filtered admin
list that shows the same records. Reads only."""

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from mechanisms.models import WordingChange, WordingChangeStatus
from trials import stored_problems
from trials.models import RegistryUpdate, RegistryUpdateOrigin, RegistryUpdateStatus, Trial, TrialProblem
from trials.status import record_stale_q
from trials.vocabularies import CurationState


@dataclass(frozen=True)
class QueueItem:
    label: str
    count: int
    url: str
    who: str  # who acts on it: "editors", "curators"


def _url(name, **query):
    return f"{reverse(name)}?{urlencode(query)}"


def problem_counts(today: date) -> tuple[int, int]:
    """(trials with any integrity problem, trials with a blocking one), from the stored problems that hold `today`
    (trials/stored_problems.py). One query."""
    stored_problems.recheck_pending()
    counts = TrialProblem.objects.holding_on(today).aggregate(
        any=Count("trial", distinct=True), blocking=Count("trial", distinct=True, filter=Q(blocking=True))
    )
    return counts["any"], counts["blocking"]


def queue(today: date | None = None) -> list[QueueItem]:
    """The start page's counts, in the order of the work. Queries seven times, whatever the number of trials."""
    today = today or timezone.localdate()
    trials = "admin:trials_trial_changelist"
    updates = "admin:trials_registryupdate_changelist"
    pending = RegistryUpdate.objects.pending()
    any_problem, blocking = problem_counts(today)
    return [
        QueueItem(
            "Trials in review",
            Trial.objects.filter(curation_state=CurationState.REVIEW).count(),
            _url(trials, curation_state__exact=CurationState.REVIEW),
            "editors",
        ),
        QueueItem(
            "Changes to published trials waiting for approval",
            pending.filter(origin=RegistryUpdateOrigin.CURATOR).count(),
            _url(updates, status__exact=RegistryUpdateStatus.PENDING, origin__exact=RegistryUpdateOrigin.CURATOR),
            "editors",
        ),
        QueueItem(
            "Changes of mechanisms' wording waiting for approval",
            WordingChange.objects.filter(status=WordingChangeStatus.PENDING).count(),
            _url("admin:mechanisms_wordingchange_changelist", status__exact=WordingChangeStatus.PENDING),
            "editors",
        ),
        QueueItem(
            "Registry updates to review (ClinicalTrials.gov)",
            pending.filter(origin=RegistryUpdateOrigin.CTGOV).count(),
            _url(updates, status__exact=RegistryUpdateStatus.PENDING, origin__exact=RegistryUpdateOrigin.CTGOV),
            "curators",
        ),
        QueueItem(
            "Registry updates to review (curated data file)",
            pending.filter(origin=RegistryUpdateOrigin.CURATED_DATA).count(),
            _url(updates, status__exact=RegistryUpdateStatus.PENDING, origin__exact=RegistryUpdateOrigin.CURATED_DATA),
            "curators",
        ),
        QueueItem(
            "Reviews overdue (not reviewed for over 12 months, or never)",
            Trial.objects.filter(record_stale_q(today)).count(),
            _url(trials, stale="review"),
            "curators",
        ),
        QueueItem("Trials with an integrity problem", any_problem, _url(trials, problem="any"), "curators"),
        QueueItem("… of which blocking (cannot be published)", blocking, _url(trials, problem="blocking"), "curators"),
    ]
