"""The trial's page and the approval of public changes (trials/actions/pending_changes.py).

A save of a published trial runs inside a savepoint: the trial and its rows are saved as usual, then compared with
the record before. A curator's change of what readers see is rolled back and kept as a pending change for an editor;
an editor's, or any, save that leaves the published trial without what publishing needs is rolled back too. Either
way the curator lands on the trial's page with a message that says what happened.
"""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect

from trials import actions, canonical
from trials.vocabularies import CurationState


class ApprovalMixin:
    """For TrialAdmin: call `start_public_change` in save_model and `finish_public_change` in save_related."""

    def start_public_change(self, request, trial):
        """Before the save of a changed trial: note its record and open a savepoint, when it is published."""
        if not trial.pk or getattr(trial, "_saved_state", None) != CurationState.PUBLISHED:
            return
        request._public_change = {
            "before": actions.record_now(trial.pk),
            "needs_approval": actions.needs_approval(trial_id=trial.pk, user=request.user),
            "savepoint": transaction.savepoint(),
        }

    def finish_public_change(self, request, trial):
        """After the trial and its rows are saved: keep the save (True), or roll it back (False) and say why."""
        started = getattr(request, "_public_change", None)
        if started is None:
            return True
        savepoint = started["savepoint"]
        if started["needs_approval"]:
            changes = actions.public_changes(started["before"], actions.record_now(trial.pk))
            if changes:
                transaction.savepoint_rollback(savepoint)
                try:
                    actions.propose_change(trial=trial, changes=changes, user=request.user)
                except actions.RecordError as error:
                    request._public_change_outcome = (messages.ERROR, str(error))
                else:
                    labels = ", ".join(canonical.field_label(name) for name in changes)
                    request._public_change_outcome = (
                        messages.WARNING,
                        f"Your change ({labels}) waits for an editor's approval: readers still see the published "
                        "version. An editor sees it as a list of differences on this page.",
                    )
                return False
        requested = getattr(trial, "_requested_state", trial.curation_state)
        if requested == CurationState.PUBLISHED and (problems := actions.published_problems(trial.pk)):
            transaction.savepoint_rollback(savepoint)
            request._public_change_outcome = (
                messages.ERROR,
                "Nothing was saved: a published trial must keep what publishing needs. " + " ".join(problems),
            )
            return False
        transaction.savepoint_commit(savepoint)
        return True

    def log_change(self, request, obj, message):
        if getattr(request, "_public_change_outcome", None):
            return None  # nothing changed
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if outcome := getattr(request, "_public_change_outcome", None):
            self.message_user(request, outcome[1], outcome[0])
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)
