"""The curation workflow: draft → in review → published, and back. Every change of a trial's curation state
goes through `transition` (the admin's actions and its change form alike); the permission is checked here,
on the server, whatever the page showed (`transition_problem`, which the admin's form calls too).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trials import integrity
from trials.actions import edit_versions
from trials.actions.comments import add_comment
from trials.actions.records import _reason
from trials.models import Trial
from trials.models.revisions import revision
from trials.vocabularies import CurationState

PUBLISH_PERMISSION = "trials.publish_trial"

# (from, to): the permission the move needs.
TRANSITIONS = {
    (CurationState.DRAFT, CurationState.REVIEW): "trials.change_trial",
    (CurationState.REVIEW, CurationState.DRAFT): "trials.change_trial",
    (CurationState.REVIEW, CurationState.PUBLISHED): PUBLISH_PERMISSION,
    (CurationState.PUBLISHED, CurationState.REVIEW): PUBLISH_PERMISSION,
    (CurationState.PUBLISHED, CurationState.DRAFT): PUBLISH_PERMISSION,
}


UNPUBLISH_REASON_MISSING = (
    "Say why the trial goes back to draft: readers no longer see it, and curators read your reason in its review "
    "conversation."
)


class WorkflowError(Exception):
    """A move of the workflow that is not allowed; `problems` lists each reason in plain words."""

    def __init__(self, trial, problems):
        self.trial = trial
        self.problems = list(problems)
        super().__init__(f"{trial}: {' '.join(self.problems)}")


def integrity_problems(facts, today):
    """The blocking integrity problems of a trial's facts (trials/integrity.py): each stops publication."""
    return integrity.blocking_problems(facts, today)


def publication_problems(trial, today=None):
    """What a trial lacks before it may be published, in plain words ([] when nothing), then its blocking integrity
    problems (trials/integrity.py). Queries five times."""
    problems = []
    if not trial.mechanism_links.exclude(rationale="").exists():
        problems.append("Add at least one mechanism link with a rationale.")
    has_sources = trial.sources.exists()
    if not has_sources:
        problems.append("Add at least one source.")
    if trial.last_reviewed_on is None:
        problems.append("Give the date the record was last reviewed (or use “Mark reviewed today”).")
    for problem in integrity_problems(integrity.facts_of(trial), today or timezone.localdate()):
        if has_sources or problem.rule != "no_evidence_source":  # said above already
            problems.append(problem.message)
    return problems


def published_problems(trial_id):
    """What a published trial lacks after a save, [] when nothing or when it is not published: publishing's rules hold
    at every save of a published trial, not only when it is published. Queries six times."""
    trial = Trial.objects.get(pk=trial_id)
    return publication_problems(trial) if trial.curation_state == CurationState.PUBLISHED else []


def transition_problem(*, current, to, user):
    """Why `user` may not move a trial from the curation state `current` to `to`, in plain words; None when they
    may (or when nothing moves). The one check of the workflow's rights: `transition` and the admin's form call it.
    `user` None (a form built without a request) checks only that the move exists."""
    if not current or not to or current == to:
        return None
    current, to = CurationState(current), CurationState(to)
    permission = TRANSITIONS.get((current, to))
    if permission is None:
        return f"A trial cannot go from “{current.label}” to “{to.label}”; send it to review first."
    if user is not None and not user.has_perm(permission):
        if permission == PUBLISH_PERMISSION:
            return "Only editors can publish or unpublish a trial. Send it to review and ask an editor."
        return "You may not change trials: ask an editor."
    return None


@revision()
def transition(*, trial, to, user, reason="", seen_version=None, comment=""):
    """Move `trial` to the curation state `to`, as `user`, recording who and why in its history. `comment`: why, in the
    user's words: when the trial moves, it is added to the trial's review conversation and is the history's reason.

    Raises WorkflowError (nothing saved) when the move does not exist, the user may not make it, for publishing,
    the trial lacks what a published record needs, or someone saved the trial after the page that asked showed its
    version `seen_version` (trials/actions/edit_versions.py).
    """
    to = CurationState(to)
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        current = CurationState(trial.curation_state)
        if stale := edit_versions.stale_problem(trial.pk, seen_version):
            raise WorkflowError(trial, [stale])
        if current == to:
            return trial
        if problem := transition_problem(current=current, to=to, user=user):
            raise WorkflowError(trial, [problem])
        if to == CurationState.PUBLISHED and (problems := publication_problems(trial)):
            raise WorkflowError(trial, problems)
        trial.curation_state = to
        trial._history_user = user
        move = f"{current.label} → {to.label}"
        trial._change_reason = _reason(f"{move}: {comment.strip()}") if comment.strip() else reason or move
        edit_versions.bump(trial)
        trial.save(update_fields=["curation_state", "edit_version", "updated_at"])
        if comment.strip():
            add_comment(trial=trial, user=user, text=f"{move}: {comment.strip()}")
    return trial


def send_to_review(*, trial, user, seen_version=None):
    return transition(
        trial=trial, to=CurationState.REVIEW, user=user, reason="Sent to review", seen_version=seen_version
    )


def publish(*, trial, user, seen_version=None):
    return transition(trial=trial, to=CurationState.PUBLISHED, user=user, reason="Published", seen_version=seen_version)


def unpublish(*, trial, user, reason, seen_version=None):
    """Take `trial` back to draft (off the public site, when it was published), saying why: `reason` is required, and
    goes to the trial's review conversation and its history. Raises WorkflowError (nothing moves) when it is blank,
    or as `transition` does."""
    if not reason.strip():
        raise WorkflowError(trial, [UNPUBLISH_REASON_MISSING])
    return transition(trial=trial, to=CurationState.DRAFT, user=user, comment=reason, seen_version=seen_version)


@revision()
def mark_reviewed(*, trials, user, today=None, seen=None):
    """Set the review date of each trial to today (one history entry each). Returns how many changed.

    `seen`: {trial id: the version the page showed}; when one was saved since, raises WorkflowError naming it and
    who saved it, and nothing changes."""
    today = today or timezone.localdate()
    if not user.has_perm("trials.change_trial"):
        raise PermissionDenied
    changed = 0
    seen = seen or {}
    with transaction.atomic():
        locked = list(Trial.objects.select_for_update().filter(pk__in=[t.pk for t in trials]))
        stale = [
            f"{trial}: {edit_versions.conflict_message(trial.pk, seen[trial.pk])}"
            for trial in locked
            if seen.get(trial.pk) is not None and seen[trial.pk] != trial.edit_version
        ]
        if stale:
            raise WorkflowError(locked[0], stale)
        for trial in locked:
            if trial.last_reviewed_on == today:
                continue
            trial.last_reviewed_on = today
            trial._history_user = user
            trial._change_reason = "Marked reviewed"
            edit_versions.bump(trial)
            trial.save(update_fields=["last_reviewed_on", "edit_version", "updated_at"])
            changed += 1
    return changed
