"""Each trial's integrity problems (trials/integrity.py), stored as rows (trials.models.TrialProblem) and counted on
write, so that the admin's problem filter, its counts and the curators' start page are SQL over those rows instead
of the rules run over every trial on every request.

Kept in step by the hook that recounts after a commit (trials/data_version.py): every post_save, post_delete and
m2m_changed of a model of the project's apps notes the trial it touched (the trial itself, or a row's `trial`),
and once the transaction commits, `recheck` reads those trials again and writes only the rows that differ (so a
save that changes no problem writes nothing). Writes that send no signal (bulk_create, queryset.update(), raw SQL)
must name the trials they touched: `data_version.schedule_refresh(trial_ids=...)`, as make_synthetic_trials does.
Between a commit and its recheck (milliseconds) another reader may see the old problems; the writer's own reads in
its transaction see the new ones (`recheck_pending`).

Days passing: the rules that read today's date (a completion or start date passed, a date still to come) say on
which days they hold (`integrity.Rule.days`); each row keeps those days (`holds_from`, `holds_until`) and readers
take the rows holding today (`TrialProblem.objects.holding_on(today)`). So a stored problem stays true as days
pass with nothing rechecked: the date-dependent part is a SQL condition. When the rules themselves change, a
migration calls `recheck_all`.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from trials import integrity

BATCH = 1000  # trials read at a time (four queries each batch)


def batches(ids: list[int]):
    return (ids[start : start + BATCH] for start in range(0, len(ids), BATCH))


# What the rules read of the trial itself (the rest is prefetched).
FACT_FIELDS = [name for name in integrity.Facts.__dataclass_fields__ if name not in integrity.PREFETCH]


def rows_of(trials, today) -> dict[int, set[integrity.DatedProblem]]:
    """{trial id: its dated problems} for trials whose sources, publications and outcomes are prefetched."""
    return {trial.pk: set(integrity.dated_problems(integrity.facts_of(trial), today)) for trial in trials}


def store(trials, problem_model, trial_ids, using="default"):
    """Make the stored problems of `trial_ids` those of `trials` (a queryset of them, prefetching
    integrity.PREFETCH): rows that differ are deleted or added, the others are left alone. Queries five times
    when nothing changed (the trials, their three relations, their stored rows), up to eight otherwise.
    `problem_model` is TrialProblem, or its historical model in a migration."""
    found = rows_of(trials, timezone.localdate())
    stored = problem_model.objects.using(using).filter(trial_id__in=trial_ids)
    old = {
        (row.trial_id, integrity.DatedProblem(row.rule, row.blocking, row.holds_from, row.holds_until)): row.pk
        for row in stored.only("trial_id", "rule", "blocking", "holds_from", "holds_until")
    }
    new = {(trial_id, problem) for trial_id, problems in found.items() for problem in problems}
    gone = [pk for key, pk in old.items() if key not in new]
    added = [
        problem_model(
            trial_id=trial_id,
            rule=problem.rule,
            blocking=problem.blocking,
            holds_from=problem.first,
            holds_until=problem.last,
        )
        for trial_id, problem in new
        if (trial_id, problem) not in old
    ]
    if gone:
        problem_model.objects.using(using).filter(pk__in=gone).delete()
    if added:
        problem_model.objects.using(using).bulk_create(added)


def recheck(trial_ids: Iterable[int], using="default"):
    """Count the stored problems of these trials afresh (one that no longer exists has none), in batches."""
    from trials.models import Trial, TrialProblem

    with transaction.atomic(using=using):
        for batch in batches(sorted(set(trial_ids))):
            trials = (
                Trial.objects.using(using).filter(pk__in=batch).only(*FACT_FIELDS).prefetch_related(*integrity.PREFETCH)
            )
            store(trials, TrialProblem, batch, using)


def recheck_all(trial_model, problem_model, using="default"):
    """Count every trial's stored problems afresh (the models passed: a migration's own)."""
    ids = list(trial_model.objects.using(using).order_by("pk").values_list("pk", flat=True))
    for batch in batches(ids):
        trials = (
            trial_model.objects.using(using)
            .filter(pk__in=batch)
            .only(*FACT_FIELDS)
            .prefetch_related(*integrity.PREFETCH)
        )
        store(trials, problem_model, batch, using)


def recheck_pending(using="default"):
    """Before reading stored problems: recheck the trials this connection's open transaction touched and did not
    recheck yet (none outside a transaction, where each write is rechecked at once). No query when none."""
    from trials import data_version

    pending = data_version.pending_refresh(using)
    if pending is not None and pending.unchecked:
        ids, pending.unchecked = pending.unchecked, set()
        recheck(ids, using)
