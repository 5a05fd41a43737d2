"""Record integrity rules: contradictions within a trial's record, one function per rule.

Each rule takes a trial's facts (any object with the attributes below: a Trial through `facts_of`, or a
plain object in tests) and today's date, and returns a `Problem` in plain words, or None. A *blocking*
problem stops publication (the workflow refuses to publish, or to save as published, a trial that has
one); the others are curators' tasks, and those that change what a reader should believe carry a
`public` sentence for the trial's page. `manage.py check_records` prints them all; the README lists them.

A rule that reads today's date says on which days it can hold (`days`): the rest of the facts being equal, its
answer is the same on each of those days and None on every other. Stored problems (trials/stored_problems.py) keep
those days beside the rule, so that they stay true as days pass without being checked again.

The facts a rule reads: overall_status, status_confirmed_on, start_date(_precision),
completion_date(_precision), last_reviewed_on, key_results, programme_discontinued_on(_precision),
why_stopped, and lists `sources` (each with `kind`), `publications` (each with `kind`) and `outcomes`.
Pure: no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# Status codes (ClinicalTrials.gov's), as trials.vocabularies.OverallStatus stores them.
ACTIVE = {"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"}
STOPPED = {"SUSPENDED", "TERMINATED", "WITHDRAWN"}
STATUS_WORDS = {
    "NOT_YET_RECRUITING": "not yet recruiting",
    "RECRUITING": "recruiting",
    "ENROLLING_BY_INVITATION": "enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "active, not recruiting",
    "SUSPENDED": "suspended",
    "TERMINATED": "terminated",
    "WITHDRAWN": "withdrawn",
}
# Sources a record may rest on: the registry's record (or a dated copy of it), a publication, the sponsor.
EVIDENCE_KINDS = {"REGISTRY", "REGISTRY_COPY", "PUBLICATION", "SPONSOR"}
REGISTRY_KINDS = {"REGISTRY", "REGISTRY_COPY"}
RESULTS_KINDS = {"RESULTS", "INTERIM_RESULTS"}


@dataclass(frozen=True)
class Problem:
    rule: str  # the rule's name, e.g. "active_after_completion": stable, for filters and tests
    message: str  # for curators: what is wrong and what to do
    blocking: bool = False
    public: str = ""  # for readers, when it changes what they should believe; else ""

    def __str__(self):
        return self.message


# The first and last day on which a problem holds (None: no bound), or None: on no day.
Days = tuple[date | None, date | None] | None
ALWAYS: Days = (None, None)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str  # a short name for lists and filters
    blocking: bool
    check: Callable[[Any, date], Problem | None]
    # Rules that read today: the days on which `check` may find the problem (the same answer on each of them).
    days: Callable[[Any], Days] | None = None


RULES: list[Rule] = []


def rule(title: str, *, blocking: bool = False, days: Callable[[Any], Days] | None = None):
    """Register a rule function under its name, with a short title for lists and filters, and for a rule that reads
    today, the days on which it may hold."""

    def register(function):
        RULES.append(Rule(function.__name__, title, blocking, function, days))
        return function

    return register


# --- Helpers ----------------------------------------------------------------------------------


def end_of(day: date | None, precision: str) -> date | None:
    """The last day a date of this precision may mean (2026-03 → 31 March 2026)."""
    if day is None:
        return None
    if precision == "YEAR":
        return date(day.year, 12, 31)
    if precision == "MONTH":
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    return day


def in_words(day: date, precision: str) -> str:
    """A date as precise as it is known: '2026', 'March 2026', '4 March 2026'."""
    if precision == "YEAR":
        return f"{day.year}"
    if precision == "MONTH":
        return f"{day:%B} {day.year}"
    return f"{day.day} {day:%B} {day.year}"


def from_day_after(day: date | None) -> Days:
    """The days after `day`, without end (none when `day` is unknown)."""
    if day is None or day == date.max:
        return None
    return (day + timedelta(days=1), None)


def until_day_before(day: date | None) -> Days:
    """The days before `day` (none when `day` is unknown)."""
    if day is None or day == date.min:
        return None
    return (None, day - timedelta(days=1))


def _status(facts) -> str:
    return STATUS_WORDS.get(facts.overall_status, (facts.overall_status or "").lower().replace("_", " "))


def _kinds(items: Iterable[Any]) -> set[str]:
    return {item.kind for item in items}


# --- The rules --------------------------------------------------------------------------------


@rule(
    "Active status, completion date passed",
    days=lambda facts: from_day_after(end_of(facts.completion_date, facts.completion_date_precision)),
)
def active_after_completion(facts, today: date) -> Problem | None:
    """An active status (not yet recruiting, recruiting, by invitation, active) whose completion has passed."""
    ended = end_of(facts.completion_date, facts.completion_date_precision)
    if facts.overall_status not in ACTIVE or ended is None or ended >= today:
        return None
    when = in_words(facts.completion_date, facts.completion_date_precision)
    return Problem(
        "active_after_completion",
        f"The status is “{_status(facts)}” but the completion date, {when}, has passed: check the registry "
        "for a newer status.",
        public=f"The registry still says {_status(facts)}, but its completion date, {when}, has passed.",
    )


@rule(
    "Not yet recruiting after the start date",
    days=lambda facts: from_day_after(end_of(facts.start_date, facts.start_date_precision)),
)
def not_yet_recruiting_after_start(facts, today: date) -> Problem | None:
    started = end_of(facts.start_date, facts.start_date_precision)
    if facts.overall_status != "NOT_YET_RECRUITING" or started is None or started >= today:
        return None
    when = in_words(facts.start_date, facts.start_date_precision)
    on = "on" if facts.start_date_precision == "DAY" else "in"
    return Problem(
        "not_yet_recruiting_after_start",
        f"The status is “not yet recruiting” but the start date, {when}, has passed: check the registry.",
        public=f"The registry still says not yet recruiting, but the trial was due to start {on} {when}.",
    )


@rule("No status, but a registry source")
def no_status_with_registry_source(facts, today: date) -> Problem | None:
    if facts.overall_status or not _kinds(facts.sources) & REGISTRY_KINDS:
        return None
    return Problem(
        "no_status_with_registry_source",
        "No status is recorded, but the record lists a registry source: read the status there (with its date).",
    )


@rule("“No results” beside a results publication or outcome")
def no_results_with_results(facts, today: date) -> Problem | None:
    if (facts.key_results or "").strip():
        return None
    results = [p for p in facts.publications if p.kind in RESULTS_KINDS]
    if not results and not list(facts.outcomes):
        return None
    what = "a results publication" if results else "published outcomes"
    return Problem(
        "no_results_with_results",
        f"The key results are empty (readers see “no results reported”), but the record lists {what}: summarise them.",
    )


@rule("Programme stopped by its sponsor, status still active")
def discontinued_but_active(facts, today: date) -> Problem | None:
    stopped = getattr(facts, "programme_discontinued_on", None)
    if stopped is None or facts.overall_status not in ACTIVE:
        return None
    when = in_words(stopped, getattr(facts, "programme_discontinued_on_precision", "") or "DAY")
    return Problem(
        "discontinued_but_active",
        f"The sponsor stopped the programme ({when}) but the status is still “{_status(facts)}”.",
        public=f"The sponsor stopped this programme ({when}), but the registry still says {_status(facts)}.",
    )


@rule("Stopped without a reason")
def stopped_without_reason(facts, today: date) -> Problem | None:
    if facts.overall_status not in STOPPED or (getattr(facts, "why_stopped", "") or "").strip():
        return None
    return Problem(
        "stopped_without_reason",
        f"The trial is {_status(facts)}: give the reason the registry or sponsor gives (“why stopped”), or "
        "say in the notes that none is given.",
    )


@rule("Source without a kind")
def source_without_kind(facts, today: date) -> Problem | None:
    count = sum(1 for source in facts.sources if not source.kind)
    if not count:
        return None
    return Problem(
        "source_without_kind",
        f"{'One source has' if count == 1 else f'{count} sources have'} no kind: say what each is (registry "
        "record, copy of one, publication, sponsor, news, other).",
    )


@rule("Status confirmed in the future", blocking=True, days=lambda facts: until_day_before(facts.status_confirmed_on))
def status_confirmed_in_future(facts, today: date) -> Problem | None:
    if facts.status_confirmed_on is None or facts.status_confirmed_on <= today:
        return None
    return Problem(
        "status_confirmed_in_future",
        f"The status is confirmed on {facts.status_confirmed_on:%-d %B %Y}, a date still to come: give the date "
        "of the source that confirmed it.",
        blocking=True,
    )


@rule("Reviewed in the future", blocking=True, days=lambda facts: until_day_before(facts.last_reviewed_on))
def reviewed_in_future(facts, today: date) -> Problem | None:
    if facts.last_reviewed_on is None or facts.last_reviewed_on <= today:
        return None
    return Problem(
        "reviewed_in_future",
        f"The record is marked reviewed on {facts.last_reviewed_on:%-d %B %Y}, a date still to come.",
        blocking=True,
    )


@rule("No registry, publication or sponsor source", blocking=True)
def no_evidence_source(facts, today: date) -> Problem | None:
    if _kinds(facts.sources) & EVIDENCE_KINDS or list(facts.publications):
        return None
    return Problem(
        "no_evidence_source",
        "The record rests on no registry record, publication or sponsor source: news and other sources "
        "cannot be its only support.",
        blocking=True,
    )


# --- Running them -----------------------------------------------------------------------------

RULES_BY_NAME = {r.name: r for r in RULES}


def problems(facts, today: date) -> list[Problem]:
    """Every problem of one trial, blocking ones first, in the rules' order."""
    found = [problem for r in RULES if (problem := r.check(facts, today))]
    return sorted(found, key=lambda problem: not problem.blocking)


def blocking_problems(facts, today: date) -> list[Problem]:
    return [problem for problem in problems(facts, today) if problem.blocking]


@dataclass(frozen=True)
class DatedProblem:
    """A problem of a trial and the days on which it holds (`first`, `last`: None for no bound)."""

    rule: str
    blocking: bool
    first: date | None
    last: date | None

    def holds_on(self, day: date) -> bool:
        return (self.first is None or self.first <= day) and (self.last is None or day <= self.last)


def dated_problems(facts, today: date) -> list[DatedProblem]:
    """Every problem the facts have on some day, with the days it holds: a rule without `days` is checked `today`
    (its answer is the same on any day), a rule with `days` on the first (or last) of its days."""
    found = []
    for r in RULES:
        days = r.days(facts) if r.days else ALWAYS
        if days is None:
            continue
        first, last = days
        if problem := r.check(facts, first or last or today):
            found.append(DatedProblem(r.name, problem.blocking, first, last))
    return found


# What `facts_of` reads, to prefetch for a list of trials.
PREFETCH = ["sources", "publications", "outcomes"]


@dataclass(frozen=True)
class Facts:
    """A trial's facts as the rules read them, from a Trial and its prefetched relations (see `facts_of`)."""

    overall_status: str
    status_confirmed_on: date | None
    start_date: date | None
    start_date_precision: str
    completion_date: date | None
    completion_date_precision: str
    last_reviewed_on: date | None
    key_results: str
    why_stopped: str
    programme_discontinued_on: date | None
    programme_discontinued_on_precision: str
    sources: tuple
    publications: tuple
    outcomes: tuple


def facts_of(trial) -> Facts:
    """The facts of a saved Trial. Reads its sources, publications and outcomes with `.all()`: prefetch them
    (`sources`, `publications`, `outcomes`) for a list, or it queries three times."""
    return Facts(
        overall_status=trial.overall_status,
        status_confirmed_on=trial.status_confirmed_on,
        start_date=trial.start_date,
        start_date_precision=trial.start_date_precision,
        completion_date=trial.completion_date,
        completion_date_precision=trial.completion_date_precision,
        last_reviewed_on=trial.last_reviewed_on,
        key_results=trial.key_results,
        why_stopped=getattr(trial, "why_stopped", ""),
        programme_discontinued_on=getattr(trial, "programme_discontinued_on", None),
        programme_discontinued_on_precision=getattr(trial, "programme_discontinued_on_precision", ""),
        sources=tuple(trial.sources.all()) if trial.pk else (),
        publications=tuple(trial.publications.all()) if trial.pk else (),
        outcomes=tuple(trial.outcomes.all()) if trial.pk and hasattr(trial, "outcomes") else (),
    )
