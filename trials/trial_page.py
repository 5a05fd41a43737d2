"""What a trial's public page reads: the published trial with everything it shows, and what the page says about it
(sources grouped by kind, the programme's trials in order, results, how to take part, integrity notices).

One place for these reads, so that the view stays thin and the page never contradicts itself: whether results are
reported, whether the trial is open to participants and what readers are warned about are decided here once.
Never reads curator notes.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import F, Prefetch
from django.utils import timezone

from trials.integrity import RESULTS_KINDS, facts_of, problems
from trials.models import Outcome, RegistryIdentifier, Site, Trial, TrialMechanism, TrialRelation
from trials.status import OPEN_STATUSES, StatusDisplay
from trials.vocabularies import SourceKind

# What each kind of source is worth, for readers: shown under each group's heading.
SOURCE_KIND_NOTES = {
    SourceKind.REGISTRY: "The registry's own record: the authority on the trial's registered facts.",
    SourceKind.REGISTRY_COPY: "Copies of a registry record made by others (data sets, trial finders): evidence of "
    "what the registry said when they were made.",
    SourceKind.PUBLICATION: "Papers and abstracts.",
    SourceKind.SPONSOR: "The sponsor's or institution's own pages and press releases.",
    SourceKind.NEWS: "News and trade press: never the only support of a fact here.",
    SourceKind.OTHER: "Other pages (blogs, slides, listings): never the only support of a fact here.",
}
UNCLASSIFIED = ("", "Not yet classified", "Sources a curator has not yet classified.")


@dataclass
class SourceGroup:
    kind: str
    label: str
    note: str
    sources: list = field(default_factory=list)


def published_trials():
    """Published trials with everything the page shows (one query each for the trial and its 10 relations)."""
    return (
        Trial.objects.published()
        .with_primary_identifier()
        .select_related("status_source")
        .prefetch_related(
            "identifiers",
            Prefetch("mechanism_links", queryset=TrialMechanism.objects.select_related("mechanism")),
            "publications",
            "sources",
            Prefetch("sites", queryset=Site.objects.select_related("country")),
            Prefetch("outcomes", queryset=Outcome.objects.select_related("publication", "source")),
            Prefetch(
                "related_links",
                queryset=TrialRelation.objects.filter(related__in=Trial.objects.published())
                .select_related("related")
                .order_by(F("related__start_date").asc(nulls_last=True), "related__brief_title"),
            ),
            "diabetes_types",
            "routes",
            "countries",
        )
    )


def former_address(key: str):
    """The published trial that answered to `key` before (another of its identifiers, a former slug, a former or
    removed identifier: its history keeps them), or None. Addresses never break: the view redirects there."""
    published = Trial.objects.published()
    current = RegistryIdentifier.objects.filter(trial__in=published, value__iexact=key).values("trial")
    for candidates in (
        current,
        Trial.history.filter(slug=key, id__in=published.values("pk")).order_by("-history_date").values("id"),
        RegistryIdentifier.history.filter(value__iexact=key, trial_id__in=published.values("pk"))
        .order_by("-history_date")
        .values("trial_id"),
    ):
        found = candidates.first()
        if found:
            return published.get(pk=next(iter(found.values())))
    return None


def sources_by_kind(trial) -> list[SourceGroup]:
    """The trial's sources grouped by kind, in the vocabulary's order (strongest first), unclassified last."""
    groups = {kind: SourceGroup(kind, kind.label, note) for kind, note in SOURCE_KIND_NOTES.items()}
    groups[""] = SourceGroup(*UNCLASSIFIED)
    for source in trial.sources.all():
        groups.get(source.kind, groups[""]).sources.append(source)
    return [group for group in groups.values() if group.sources]


def programme_trials(trial) -> list[Trial]:
    """The published trials of the trial's programme (itself included), in the order they started: VC-01 before
    VC-02. One query; none when the trial names no programme."""
    if not trial.programme:
        return []
    return list(
        Trial.objects.published()
        .with_primary_identifier()
        .filter(programme=trial.programme)
        .order_by(F("start_date").asc(nulls_last=True), "brief_title", "pk")
    )


@dataclass(frozen=True)
class TrialPage:
    """What the page says about a trial, decided once."""

    trial: Trial
    status: StatusDisplay
    notices: list[str]  # integrity problems that change what a reader should believe, in plain words
    source_groups: list[SourceGroup]
    programme: list[Trial]
    related: list  # TrialRelation rows to published trials, outside the programme list
    results_publications: list

    @property
    def open_to_participants(self) -> bool:
        """Open by its registry record and confirmed within the staleness limit."""
        return self.status.code in OPEN_STATUSES

    @property
    def results_reported(self) -> bool:
        """Anything the record says was found: a summary, an outcome or a results publication."""
        return bool(self.trial.key_results.strip() or self.trial.outcomes.all() or self.results_publications)

    @property
    def registry_links(self) -> list:
        return [identifier for identifier in self.trial.identifiers.all() if identifier.url]


def trial_page(trial: Trial, today: date | None = None) -> TrialPage:
    today = today or timezone.localdate()
    status = trial.status_display(today)
    found = problems(facts_of(trial), today)
    programme = programme_trials(trial)
    in_programme = {other.pk for other in programme}
    return TrialPage(
        trial=trial,
        status=status,
        notices=[problem.public for problem in found if problem.public],
        source_groups=sources_by_kind(trial),
        programme=programme,
        related=[link for link in trial.related_links.all() if link.related_id not in in_programme],
        results_publications=[p for p in trial.publications.all() if p.kind in RESULTS_KINDS],
    )
