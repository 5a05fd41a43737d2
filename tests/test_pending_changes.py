"""Every public change is approved (trials/actions/pending_changes.py, trials/admin/approval.py): a curator's change of
a published trial waits for an editor, readers keep seeing the approved version; editors' own changes go live; a
change sent back says why; publishing's rules hold at every save; staff preview the public page."""

import pytest
from django.urls import reverse

from tests.factories import SourceFactory, UserFactory, publishable_trial
from tests.test_admin import change_url, form_data, messages_of
from trials import actions, queue
from trials.models import RegistryUpdate, RegistryUpdateOrigin, RegistryUpdateStatus, Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db

PUBLISHED = CurationState.PUBLISHED


@pytest.fixture
def ana():
    return UserFactory(role="Curator", username="ana")


@pytest.fixture
def eve():
    return UserFactory(role="Editor", username="eve")


def published(**fields):
    return publishable_trial(curation_state=PUBLISHED, last_reviewed_on="2026-11-01", **fields)


def post_as(client, user, trial, **changes):
    client.force_login(user)
    data = form_data(client.get(change_url(trial)))
    data.update(changes)
    return client.post(change_url(trial), data, follow=True)


def public_page(client, trial):
    client.logout()
    response = client.get(trial.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def review_url(update):
    return reverse("admin:trials_registryupdate_change", args=[update.pk])


def test_a_curators_edit_of_a_published_trial_is_invisible_until_an_editor_approves_it(client, ana, eve):
    trial = published(brief_title="Islet cells for type 1 diabetes")
    assert "Islet cells for type 1 diabetes" in public_page(client, trial)  # cached now

    response = post_as(client, ana, trial, brief_title="Encapsulated islet cells for type 1 diabetes")
    assert any("waits for an editor's approval" in m and "brief title" in m for m in messages_of(response))
    trial.refresh_from_db()
    assert trial.brief_title == "Islet cells for type 1 diabetes"
    page = public_page(client, trial)
    assert "Islet cells for type 1 diabetes" in page and "Encapsulated" not in page

    (change,) = RegistryUpdate.objects.pending().filter(origin=RegistryUpdateOrigin.CURATOR)
    assert change.proposed_by == ana
    assert change.changes["brief_title"] == {
        "old": "Islet cells for type 1 diabetes",
        "new": "Encapsulated islet cells for type 1 diabetes",
    }
    client.force_login(ana)  # the trial's admin page says a change waits
    assert "A change waits for an editor's approval" in client.get(change_url(trial)).content.decode()
    assert client.post(review_url(change), {"_accept": "1", "accept": ["brief_title"]}).status_code == 403

    client.force_login(eve)  # the editor sees the diff, old → new, and approves
    review = client.get(review_url(change)).content.decode()
    assert "Islet cells for type 1 diabetes" in review and "Encapsulated islet cells for type 1 diabetes" in review
    response = client.post(review_url(change), {"_accept": "1", "accept": ["brief_title"]}, follow=True)
    assert any(m.startswith("Approved the change by ana: brief title") for m in messages_of(response))
    trial.refresh_from_db()
    assert trial.brief_title == "Encapsulated islet cells for type 1 diabetes"
    assert "Encapsulated islet cells for type 1 diabetes" in public_page(client, trial)  # the cache knows
    latest = trial.history.latest()
    assert latest.history_user == eve and "Approved the change by ana" in latest.history_change_reason


def test_inline_rows_wait_too_and_the_diff_names_them(client, ana, eve):
    trial = published()
    SourceFactory(trial=trial, url="https://example.org/second", kind="SPONSOR")
    client.force_login(ana)
    data = form_data(client.get(change_url(trial)))
    second = next(key for key, value in data.items() if value == "https://example.org/second")
    data[second.replace("-url", "-DELETE")] = "on"
    client.post(change_url(trial), data)
    assert trial.sources.count() == 2  # still public
    (change,) = RegistryUpdate.objects.pending()
    assert list(change.changes) == ["sources"]
    client.force_login(eve)
    review = client.get(review_url(change)).content.decode()
    assert "https://example.org/second" in review
    client.post(review_url(change), {"_accept": "1", "accept": ["sources"]})
    assert list(trial.sources.values_list("url", flat=True)) != ["https://example.org/second"]
    assert trial.sources.count() == 1


def test_an_editor_sends_a_change_back_with_a_reason(client, ana, eve):
    trial = published(acronym="OLD")
    post_as(client, ana, trial, acronym="NEW")
    (change,) = RegistryUpdate.objects.pending()
    client.force_login(eve)
    response = client.post(review_url(change), {"_dismiss": "1", "reason": "  "}, follow=True)
    assert any("Say why you send the change back" in m for m in messages_of(response))
    response = client.post(review_url(change), {"_dismiss": "1", "reason": "The registry still says OLD."}, follow=True)
    assert any("sent back" in m for m in messages_of(response))
    change.refresh_from_db()
    assert change.status == RegistryUpdateStatus.DISMISSED and change.resolution_note == "The registry still says OLD."
    assert Trial.objects.get(pk=trial.pk).acronym == "OLD"
    client.force_login(ana)
    assert "The registry still says OLD." in client.get(review_url(change)).content.decode()


def test_a_second_change_waits_for_the_first_to_be_resolved(client, ana):
    trial = published(acronym="OLD")
    post_as(client, ana, trial, acronym="ONE")
    ben = UserFactory(role="Curator", username="ben")
    response = post_as(client, ben, trial, acronym="TWO")
    assert any("A change by ana" in m and "already waits" in m for m in messages_of(response))
    assert RegistryUpdate.objects.pending().count() == 1


def test_an_editors_own_edit_goes_live_at_once(client, eve):
    trial = published(acronym="OLD")
    public_page(client, trial)
    response = post_as(client, eve, trial, acronym="EDITED")
    assert not RegistryUpdate.objects.exists()
    assert any("was changed successfully" in m for m in messages_of(response))
    assert "EDITED" in public_page(client, trial)


def test_curator_notes_alone_need_no_approval(client, ana):
    trial = published()
    post_as(client, ana, trial, curator_notes="Checked the sponsor's page.")
    assert Trial.objects.get(pk=trial.pk).curator_notes == "Checked the sponsor's page."
    assert not RegistryUpdate.objects.exists()


def test_drafts_are_saved_at_once(client, ana):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    post_as(client, ana, trial, acronym="DRAFTED")
    assert Trial.objects.get(pk=trial.pk).acronym == "DRAFTED"
    assert not RegistryUpdate.objects.exists()


def test_publishing_rules_hold_at_every_save_of_a_published_trial(client, eve):
    trial = published()
    client.force_login(eve)
    data = form_data(client.get(change_url(trial)))
    data["last_reviewed_on"] = ""
    for key in [k for k in data if k.startswith("mechanism_links-") and k.endswith("-id") and data[k]]:
        data[key.replace("-id", "-DELETE")] = "on"
    response = client.post(change_url(trial), data, follow=True)
    shown = " ".join(messages_of(response))
    assert "Nothing was saved: a published trial must keep what publishing needs." in shown
    assert "mechanism link" in shown and "last reviewed" in shown
    trial.refresh_from_db()
    assert trial.last_reviewed_on is not None and trial.mechanism_links.count() == 1


def test_an_approval_that_would_break_publishing_rules_is_refused(ana, eve):
    trial = published()
    change = actions.propose_change(
        trial=trial, changes={"last_reviewed_on": {"old": "2026-11-01", "new": None}}, user=ana
    )
    with pytest.raises(actions.RecordError, match="A published trial cannot take this change"):
        actions.resolve_registry_update(update=change, accept=["last_reviewed_on"], user=eve)
    assert Trial.objects.get(pk=trial.pk).last_reviewed_on is not None


def test_staff_preview_a_draft_and_a_pending_change_and_nothing_is_kept(client, ana):
    draft = publishable_trial(curation_state=CurationState.DRAFT, brief_title="A draft trial")
    url = reverse("trials:preview", args=[draft.pk])
    assert client.get(url).status_code == 302  # readers: to the login page
    client.force_login(ana)
    response = client.get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    content = response.content.decode()
    assert "Preview, not public." in content and "A draft trial" in content
    assert Trial.objects.get(pk=draft.pk).curation_state == CurationState.DRAFT

    trial = published(brief_title="Published title")
    post_as(client, ana, trial, brief_title="Proposed title")
    change = RegistryUpdate.objects.get()
    content = client.get(f"{reverse('trials:preview', args=[trial.pk])}?change={change.pk}").content.decode()
    assert "Proposed title" in content
    assert Trial.objects.get(pk=trial.pk).brief_title == "Published title"
    assert "Proposed title" not in public_page(client, trial)


def test_the_sent_back_reason_is_on_the_trials_page(client, ana, eve):
    trial = published(acronym="OLD")
    post_as(client, ana, trial, acronym="NEW")
    actions.send_back(update=RegistryUpdate.objects.get(), user=eve, reason="Check the registry first.")
    client.force_login(ana)
    content = client.get(change_url(trial)).content.decode()
    assert "A change was sent back" in content and "Check the registry first." in content


def test_a_curator_marking_a_published_trial_reviewed_proposes_the_date(client, ana):
    trial = published()
    draft = publishable_trial(curation_state=CurationState.DRAFT, last_reviewed_on="2026-01-01")
    client.force_login(ana)
    response = client.post(
        reverse("admin:trials_trial_changelist"),
        {"action": "mark_reviewed_today", "_selected_action": [trial.pk, draft.pk]},
        follow=True,
    )
    assert "1 published trial(s): the review date waits for an editor." in messages_of(response)
    assert str(Trial.objects.get(pk=trial.pk).last_reviewed_on) == "2026-11-01"
    assert str(Trial.objects.get(pk=draft.pk).last_reviewed_on) != "2026-01-01"
    (change,) = RegistryUpdate.objects.pending()
    assert list(change.changes) == ["last_reviewed_on"] and change.trial_id == trial.pk


def registry_update(trial, **changes):
    """A pending update from ClinicalTrials.gov proposing `changes` ({field: new value}) for the trial."""
    return RegistryUpdate.objects.create(
        trial=trial,
        identifier="NCT00000001",
        changes={name: {"old": getattr(trial, name), "new": value} for name, value in changes.items()},
        source="test",
    )


def accept_as(client, user, update, *fields):
    client.force_login(user)
    seen = Trial.objects.get(pk=update.trial_id).edit_version
    return client.post(review_url(update), {"_accept": "1", "accept": list(fields), "seen_version": seen}, follow=True)


def queue_counts():
    return {item.label: item.count for item in queue.queue()}


def test_a_curators_acceptance_onto_a_published_trial_waits_for_an_editor(client, ana, eve):
    trial = published(brief_title="Islet cells")
    update = registry_update(trial, brief_title="Islet cells, the registry's title")
    client.force_login(ana)
    assert (
        "the ticked fields become your change, waiting for an editor" in client.get(review_url(update)).content.decode()
    )
    response = accept_as(client, ana, update, "brief_title")
    assert any("these fields wait for an editor's approval as your change" in m for m in messages_of(response))
    assert "the registry's title" not in public_page(client, trial)
    assert Trial.objects.get(pk=trial.pk).brief_title == "Islet cells"

    update.refresh_from_db()
    assert (update.status, update.accepted_fields, update.resolved_by) == (
        RegistryUpdateStatus.ACCEPTED,
        ["brief_title"],
        ana,
    )
    assert "a change waiting for an editor's approval" in update.resolution_note
    (change,) = RegistryUpdate.objects.pending()
    assert (change.origin, change.proposed_by) == (RegistryUpdateOrigin.CURATOR, ana)
    assert change.changes == {"brief_title": {"old": "Islet cells", "new": "Islet cells, the registry's title"}}
    counts = queue_counts()
    assert counts["Changes to published trials waiting for approval"] == 1
    assert counts["Registry updates to review (ClinicalTrials.gov)"] == 0

    client.force_login(eve)
    review = client.get(review_url(change)).content.decode()
    assert "the update from ClinicalTrials.gov (NCT00000001) accepted by ana" in review
    response = accept_as(client, eve, change, "brief_title")  # the editor approves it as any change
    assert any(
        m.startswith("Approved the update from ClinicalTrials.gov (NCT00000001) accepted by ana: brief title")
        for m in messages_of(response)
    )
    assert "Islet cells, the registry&#x27;s title" in public_page(client, trial)
    latest = Trial.objects.get(pk=trial.pk).history.latest()
    assert latest.history_user == eve
    assert latest.history_change_reason.startswith("Approved the update from ClinicalTrials.gov (NCT00000001)")


def test_the_editor_reads_a_changed_status_in_words(client, ana, eve):
    trial = published(overall_status="RECRUITING")
    post_as(client, ana, trial, overall_status="ACTIVE_NOT_RECRUITING")
    (change,) = RegistryUpdate.objects.pending()
    client.force_login(eve)
    review = client.get(review_url(change)).content.decode()
    assert "Active, not recruiting" in review and "ACTIVE_NOT_RECRUITING" not in review


def test_a_curators_acceptance_is_refused_while_a_change_waits_and_nothing_is_lost(client, ana, eve):
    trial = published(acronym="OLD")
    post_as(client, ana, trial, acronym="ANA")  # Ana's change waits
    update = registry_update(trial, acronym="REG")
    ben = UserFactory(role="Curator", username="ben")
    response = accept_as(client, ben, update, "acronym")
    shown = messages_of(response)
    assert any(
        m.startswith("Nothing changed: A change by ana") and "already waits" in m and "stays pending" in m
        for m in shown
    )
    update.refresh_from_db()
    assert update.status == RegistryUpdateStatus.PENDING and update.resolved_by is None
    (waiting,) = RegistryUpdate.objects.pending().filter(origin=RegistryUpdateOrigin.CURATOR)
    assert waiting.changes["acronym"]["new"] == "ANA"
    assert Trial.objects.get(pk=trial.pk).acronym == "OLD"


def test_a_curators_acceptance_onto_a_draft_and_an_editors_are_made_at_once(client, ana, eve):
    draft = publishable_trial(curation_state=CurationState.DRAFT, acronym="OLD")
    response = accept_as(client, ana, registry_update(draft, acronym="REG"), "acronym")
    assert "Accepted from NCT00000001: acronym." in messages_of(response)
    assert Trial.objects.get(pk=draft.pk).acronym == "REG"
    trial = published(acronym="OLD")
    accept_as(client, eve, registry_update(trial, acronym="REG"), "acronym")
    assert Trial.objects.get(pk=trial.pk).acronym == "REG"
    assert not RegistryUpdate.objects.pending().exists()


def test_a_curators_acceptance_from_a_stale_page_is_refused(ana):
    trial = published(acronym="OLD")
    update = registry_update(trial, acronym="REG")
    seen = trial.edit_version
    actions.mark_reviewed(trials=[trial], user=UserFactory(role="Editor"))  # saved since the page showed it
    with pytest.raises(actions.RecordError, match="saved by someone else"):
        actions.resolve_registry_update(update=update, accept=["acronym"], user=ana, seen_version=seen)
    assert RegistryUpdate.objects.get(pk=update.pk).status == RegistryUpdateStatus.PENDING
    assert not RegistryUpdate.objects.filter(origin=RegistryUpdateOrigin.CURATOR).exists()
