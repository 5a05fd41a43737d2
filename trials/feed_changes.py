"""The feeds' entries (trials/feeds.py): a registry's or a filtered list's newest public changes, as trials/changes.py
tells them, read from the history of the few trials that can hold them, never from the whole registry's."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections, models
from django.utils import timezone

from trials.changes import PARTS, PublicChange, public_changes
from trials.models import Trial

FEED_LIMIT = 50  # entries in a feed


@dataclass(frozen=True)
class TrialChange:
    """A public change with its trial (which has `primary_identifier` annotated, for its address)."""

    trial: Trial
    change: PublicChange


def trials_by_id(trials: models.QuerySet[Trial]) -> dict[int, Trial]:
    """The trials (already published) with what an entry shows of them. One query."""
    shown = trials.with_primary_identifier().only("pk", "slug", "brief_title", "created_at")  # type: ignore[attr-defined]
    return {trial.pk: trial for trial in shown}


def registry_changes(limit: int = FEED_LIMIT) -> list[TrialChange]:
    """The newest public changes across every published trial, newest first (`newest_entries`)."""

    def entries_of(ids: list[int]) -> list[TrialChange]:
        trials = trials_by_id(Trial.objects.published().filter(pk__in=ids))
        changes = public_changes(list(trials))
        return [TrialChange(trials[pk], change) for pk, found in changes.items() for change in found]

    return newest_entries(Trial.objects.published(), entries_of, limit, created=False)  # no history: no change


def latest_changes(trials: models.QuerySet[Trial], limit: int = FEED_LIMIT) -> list[TrialChange]:
    """One entry per trial of `trials` (published ones only: a filtered list's): its newest public change, newest
    first (`newest_entries`). A trial whose history holds none (written in bulk) counts as published when it was
    created."""

    def entries_of(ids: list[int]) -> list[TrialChange]:
        shown = trials_by_id(trials.filter(pk__in=ids))
        changes = public_changes(list(shown))
        entries = []
        for pk, trial in shown.items():
            own = changes.get(pk)
            entries.append(TrialChange(trial, own[-1] if own else PublicChange(pk, trial.created_at, "published")))
        return entries

    return newest_entries(trials, entries_of, limit)


FEED_BATCH = 100  # trials whose history is read at a time


def newest_entries(
    trials: models.QuerySet[Trial],
    entries_of: Callable[[list[int]], list[TrialChange]],
    limit: int,
    created: bool = True,
) -> list[TrialChange]:
    """The `limit` newest of the entries that `entries_of(ids)` gives for the trials of `trials`, newest first.

    A feed does not read the history of the whole registry (19 s for 92,000 trials): no public change of a trial is
    newer than its newest record (`newest_first`), so the trials are read in batches, those with the newest
    records first, FEED_BATCH, then twice as many each time, until the next trial's newest record is older than
    the last entry kept. `created`: a trial without history has an entry (`entries_of` makes it one). Queries:
    fourteen a batch (the trials, and their history: `public_changes`), and one a page of records (`newest_first`);
    for most feeds, one of each."""

    def kept(entries: list[TrialChange]) -> list[TrialChange]:
        entries.sort(key=lambda entry: (entry.change.when, entry.trial.pk), reverse=True)
        return entries[:limit]

    entries: list[TrialChange] = []
    batch: list[int] = []
    size = FEED_BATCH
    for pk, newest in newest_first(trials, created):
        if len(entries) >= limit and newest < entries[-1].change.when:
            break  # neither this trial nor any after it has a change newer than the last entry kept
        batch.append(pk)
        if len(batch) == size:
            entries, batch, size = kept(entries + entries_of(batch)), [], size * 2
    if batch:
        entries = kept(entries + entries_of(batch))
    return entries


def newest_first(trials: models.QuerySet[Trial], created: bool = True) -> Iterator[tuple[int, datetime]]:
    """(id, time) of each trial of `trials`, by the time of its newest record, newest first: the newest record of
    its history or of its parts' histories, or its creation (with `created`) if later; without `created`, the
    trials with a history alone. No public change of a trial is newer. Read from the records newest first (the
    history tables' date indexes), one query per page of records, each page twice the size of the one before."""
    sources = [(Trial, "id", "created_at")] if created else []
    sources += [(Trial.history.model, "id", "history_date")]  # type: ignore[attr-defined]
    sources += [(part.model.history.model, "trial_id", "history_date") for part in PARTS]  # type: ignore[attr-defined]
    records = " UNION ALL ".join(
        f'SELECT "{key}" AS trial_id, "{when}" AS at FROM "{model._meta.db_table}"' for model, key, when in sources
    )
    among, params = trials.order_by().values("pk").query.sql_with_params()
    connection = connections[trials.db]
    seen: set[int] = set()
    offset, size = 0, 4 * FEED_BATCH  # most feeds: one page, with the record after their first batch
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT trial_id, at FROM ({records}) AS record WHERE trial_id IN ({among}) "
                "ORDER BY at DESC, trial_id DESC LIMIT %s OFFSET %s",
                (*params, size, offset),
            )
            rows = cursor.fetchall()
        for pk, at in rows:
            if pk not in seen:
                seen.add(pk)
                yield pk, as_datetime(at, connection)
        if len(rows) < size:
            return
        offset, size = offset + size, size * 2


def as_datetime(value: Any, connection: Any) -> datetime:
    """A time read by raw SQL as the ORM reads it: aware, in UTC (SQLite gives the text it stores)."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    return connection.ops.convert_datetimefield_value(value, None, connection)
