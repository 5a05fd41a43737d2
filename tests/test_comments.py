"""The review conversation (trials/actions/comments.py): comments on a trial's admin page between curators and editors,
a reason required to send a trial in review back to draft, and a sent-back change's reason kept there too."""

import pytest

from tests.factories import UserFactory, publishable_trial
from tests.test_admin import change_url, form_data, messages_of
from trials import actions
from trials.models import Comment, RegistryUpdate, Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    return UserFactory(role="Curator", username="ana")


@pytest.fixture
def eve():
    return UserFactory(role="Editor", username="eve")


def post_as(client, user, trial, **changes):
    client.force_login(user)
    data = form_data(client.get(change_url(trial)))
    data.update(changes)
    return client.post(change_url(trial), data, follow=True)


def test_curator_and_editor_talk_on_the_trials_page(client, ana, eve):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    post_as(client, ana, trial, comment="Is the 2023 abstract enough as a source?")
    post_as(client, eve, trial, comment="Yes, with its date.")
    assert [(c.author.username, c.text) for c in Comment.objects.all()] == [
        ("ana", "Is the 2023 abstract enough as a source?"),
        ("eve", "Yes, with its date."),
    ]
    client.force_login(ana)
    page = client.get(change_url(trial)).content.decode()
    assert page.index("Is the 2023 abstract enough") < page.index("Yes, with its date.")
    client.logout()
    assert "Yes, with its date." not in client.get("/trials/").content.decode()


def test_sending_back_to_draft_needs_a_reason(client, ana, eve):
    trial = publishable_trial(curation_state=CurationState.REVIEW)
    response = post_as(client, eve, trial, curation_state=CurationState.DRAFT)
    assert "Say why you send the trial back to draft" in response.content.decode()
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.REVIEW
    post_as(client, eve, trial, curation_state=CurationState.DRAFT, comment="The sponsor's page is gone.")
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.DRAFT
    assert Comment.objects.get().text == "The sponsor's page is gone."


def test_unpublishing_on_the_trials_page_needs_a_reason_too(client, eve):
    trial = publishable_trial(curation_state=CurationState.PUBLISHED, last_reviewed_on="2026-11-01")
    response = post_as(client, eve, trial, curation_state=CurationState.DRAFT)
    assert "Say why you send the trial back to draft" in response.content.decode()
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.PUBLISHED
    post_as(client, eve, trial, curation_state=CurationState.DRAFT, comment="Withdrawn by the sponsor.")
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.DRAFT
    assert Comment.objects.get().text == "Withdrawn by the sponsor."


def test_a_comment_made_with_a_change_that_waits_is_kept(client, ana):
    trial = publishable_trial(curation_state=CurationState.PUBLISHED, last_reviewed_on="2026-11-01")
    response = post_as(client, ana, trial, acronym="NEW", comment="New acronym from the 2026 paper.")
    assert any("waits for an editor" in m for m in messages_of(response))
    assert Comment.objects.get().text == "New acronym from the 2026 paper."


def test_a_sent_back_change_leaves_its_reason_in_the_conversation(ana, eve):
    trial = publishable_trial(curation_state=CurationState.PUBLISHED, last_reviewed_on="2026-11-01")
    change = actions.propose_change(trial=trial, changes={"acronym": {"old": "", "new": "X"}}, user=ana)
    actions.send_back(update=change, user=eve, reason="No source says X.")
    (comment,) = Comment.objects.all()
    assert comment.author == eve and comment.text == "Sent back the change by ana (acronym): No source says X."
    assert RegistryUpdate.objects.get().resolution_note == "No source says X."
