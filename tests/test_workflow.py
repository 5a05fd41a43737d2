"""The curation workflow and roles (trials/actions/workflow.py, roles.py): every move, its guards, who may make it."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from tests.factories import TrialFactory, UserFactory, publishable_trial
from trials import actions
from trials.models import Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db

DRAFT, REVIEW, PUBLISHED = CurationState.DRAFT, CurationState.REVIEW, CurationState.PUBLISHED


def state(trial):
    return Trial.objects.get(pk=trial.pk).curation_state


def test_curator_sends_a_draft_to_review_and_back(curator):
    trial = TrialFactory(curation_state=DRAFT)
    actions.send_to_review(trial=trial, user=curator)
    assert state(trial) == REVIEW
    actions.transition(trial=trial, to=DRAFT, user=curator)
    assert state(trial) == DRAFT


def test_editor_publishes_a_complete_trial_in_review_and_unpublishes_it(editor):
    trial = publishable_trial(curation_state=REVIEW)
    actions.publish(trial=trial, user=editor)
    assert state(trial) == PUBLISHED
    assert Trial.objects.published().filter(pk=trial.pk).exists()
    actions.unpublish(trial=trial, user=editor, reason="Checking the sponsor's results again.")
    assert state(trial) == DRAFT
    assert not Trial.objects.published().filter(pk=trial.pk).exists()


def test_editor_may_send_a_published_trial_back_to_review(editor):
    trial = publishable_trial(curation_state=PUBLISHED)
    actions.transition(trial=trial, to=REVIEW, user=editor)
    assert state(trial) == REVIEW


def test_curator_may_not_publish(curator):
    trial = publishable_trial(curation_state=REVIEW)
    with pytest.raises(actions.WorkflowError) as excinfo:
        actions.publish(trial=trial, user=curator)
    assert excinfo.value.problems == [
        "Only editors can publish or unpublish a trial. Send it to review and ask an editor."
    ]
    assert state(trial) == REVIEW


def test_curator_may_not_unpublish(curator):
    trial = publishable_trial(curation_state=PUBLISHED)
    with pytest.raises(actions.WorkflowError, match="ask an editor"):
        actions.unpublish(trial=trial, user=curator, reason="Not diabetes after all.")
    assert state(trial) == PUBLISHED


def test_unpublishing_says_why_in_the_conversation_and_the_history(editor):
    trial = publishable_trial(curation_state=PUBLISHED)
    with pytest.raises(actions.WorkflowError, match="Say why the trial goes back to draft"):
        actions.unpublish(trial=trial, user=editor, reason="  ")
    assert state(trial) == PUBLISHED and not trial.comments.exists()
    actions.unpublish(trial=trial, user=editor, reason=" The sponsor withdrew its results. ")
    assert state(trial) == DRAFT
    (comment,) = trial.comments.all()
    assert (comment.author, comment.text) == (editor, "Published → Draft: The sponsor withdrew its results.")
    assert trial.history.latest().history_change_reason == "Published → Draft: The sponsor withdrew its results."


def test_a_draft_goes_to_review_before_it_is_published(editor):
    trial = publishable_trial(curation_state=DRAFT)
    with pytest.raises(actions.WorkflowError) as excinfo:
        actions.publish(trial=trial, user=editor)
    assert excinfo.value.problems == ["A trial cannot go from “Draft” to “Published”; send it to review first."]
    assert state(trial) == DRAFT


def test_publishing_lists_everything_missing(editor):
    trial = TrialFactory(curation_state=REVIEW, last_reviewed_on=None)
    with pytest.raises(actions.WorkflowError) as excinfo:
        actions.publish(trial=trial, user=editor)
    assert excinfo.value.problems == [
        "Add at least one mechanism link with a rationale.",
        "Add at least one source.",
        "Give the date the record was last reviewed (or use “Mark reviewed today”).",
    ]
    assert state(trial) == REVIEW


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("mechanism", "Add at least one mechanism link with a rationale."),
        ("source", "Add at least one source."),
        ("review", "Give the date the record was last reviewed (or use “Mark reviewed today”)."),
    ],
)
def test_each_publishing_guard_alone(editor, missing, problem):
    trial = publishable_trial(curation_state=REVIEW)
    if missing == "mechanism":
        trial.mechanism_links.all().delete()
    elif missing == "source":
        trial.sources.all().delete()
    else:
        Trial.objects.filter(pk=trial.pk).update(last_reviewed_on=None)
    with pytest.raises(actions.WorkflowError) as excinfo:
        actions.publish(trial=trial, user=editor)
    assert excinfo.value.problems == [problem]


def test_moving_to_the_same_state_changes_nothing(curator):
    trial = TrialFactory(curation_state=DRAFT)
    before = trial.history.count()
    actions.transition(trial=trial, to=DRAFT, user=curator)
    assert trial.history.count() == before


def test_a_move_is_recorded_in_history_with_its_author_and_reason(editor):
    trial = publishable_trial(curation_state=REVIEW)
    actions.publish(trial=trial, user=editor)
    latest = trial.history.first()
    assert latest.curation_state == PUBLISHED
    assert latest.history_user == editor
    assert latest.history_change_reason == "Published"


def test_mark_reviewed_sets_today_and_records_who(curator):
    trials = [TrialFactory(last_reviewed_on=datetime.date(2024, 1, 1)) for _ in range(2)]
    changed = actions.mark_reviewed(trials=trials, user=curator, today=datetime.date(2026, 11, 24))
    assert changed == 2
    for trial in trials:
        trial.refresh_from_db()
        assert trial.last_reviewed_on == datetime.date(2026, 11, 24)
        assert trial.history.first().history_user == curator
    assert actions.mark_reviewed(trials=trials, user=curator, today=datetime.date(2026, 11, 24)) == 0


def test_mark_reviewed_needs_the_change_permission():
    viewer = UserFactory()
    with pytest.raises(PermissionDenied):
        actions.mark_reviewed(trials=[TrialFactory()], user=viewer)


def test_setup_roles_is_idempotent_and_gives_each_role_its_rights():
    first = actions.setup_roles()
    second = actions.setup_roles()
    assert first == second
    assert Group.objects.filter(name__in=["Curator", "Editor"]).count() == 2
    curator, editor = UserFactory(role="Curator"), UserFactory(role="Editor")
    for user in (curator, editor):
        assert user.has_perm("trials.add_trial")
        assert user.has_perm("trials.change_trial")
        assert user.has_perm("mechanisms.change_mechanism")
        assert not user.has_perm("mechanisms.add_mechanism")
        assert not user.has_perm("mechanisms.delete_mechanism")
    assert not curator.has_perm("trials.publish_trial")
    assert not curator.has_perm("trials.delete_trial")
    assert editor.has_perm("trials.publish_trial")
    assert editor.has_perm("trials.delete_trial")


def test_setup_roles_command_prints_a_summary(capsys):
    call_command("setup_roles")
    call_command("setup_roles")
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [out[0], out[0]]
    assert out[0].startswith("Curator: ")
