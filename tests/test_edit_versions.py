"""No lost update (trials/actions/edit_versions.py): a page opened before someone else saved the same trial, or one of
its rows, cannot overwrite that save; the curator is told who saved what and when, and keeps their input."""

import pytest
from django.urls import reverse

from tests.factories import SourceFactory, UserFactory, publishable_trial
from tests.test_admin import change_url, form_data, messages_of
from tests.test_ctgov import changed_record, import_studies, study
from trials import actions
from trials.models import RegistryUpdateStatus, Source, Trial
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    return UserFactory(role="Curator", username="ana")


@pytest.fixture
def ben():
    return UserFactory(role="Curator", username="ben")


def opened(client, user, trial):
    """The change form's POST data as `user` saw it when opening the trial's page."""
    client.force_login(user)
    response = client.get(change_url(trial))
    assert response.status_code == 200
    return form_data(response)


def test_two_stale_forms_never_lose_a_save_of_the_trial_fields(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT, brief_title="Islets", summary="Old summary.")
    anas = opened(client, ana, trial)
    bens = opened(client, ben, trial)

    client.force_login(ana)
    assert client.post(change_url(trial), {**anas, "brief_title": "Islets, renamed by Ana"}).status_code == 302

    client.force_login(ben)
    response = client.post(change_url(trial), {**bens, "summary": "Ben's summary."})
    assert response.status_code == 200  # the page again, nothing saved
    trial.refresh_from_db()
    assert (trial.brief_title, trial.summary) == ("Islets, renamed by Ana", "Old summary.")
    content = response.content.decode()
    assert "saved by someone else after you opened this page: by ana on" in content
    assert "(Brief title)" in content
    kept = {bound.html_name: bound.value() for bound in response.context["adminform"].form}
    assert kept["summary"] == "Ben's summary."  # Ben's input stays on the page
    assert kept["brief_title"] == "Islets, renamed by Ana"  # a field he left alone now shows Ana's value
    assert "The fields you had not changed now show their values (brief title); yours are kept." in content
    assert int(kept["seen_version"]) == trial.edit_version  # saving again applies his input knowingly

    # Saving again (the page's fields, Ana's title taken over) applies his input knowingly.
    again = {**bens, "summary": "Ben's summary.", "brief_title": "Islets, renamed by Ana"}
    response = client.post(change_url(trial), {**again, "seen_version": kept["seen_version"]})
    assert response.status_code == 302
    trial.refresh_from_db()
    assert (trial.brief_title, trial.summary) == ("Islets, renamed by Ana", "Ben's summary.")
    assert [r.history_user.username for r in trial.history.order_by("history_date")[1:]] == ["ana", "ben"]


def test_a_stale_form_cannot_undo_a_change_of_inline_rows(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    anas = opened(client, ana, trial)
    bens = opened(client, ben, trial)

    client.force_login(ana)  # Ana adds a source
    prefix = "sources"
    total = int(anas[f"{prefix}-TOTAL_FORMS"])
    added = {
        f"{prefix}-TOTAL_FORMS": total + 1,
        f"{prefix}-{total}-url": "https://example.org/paper",
        f"{prefix}-{total}-kind": "PUBLICATION",
        f"{prefix}-{total}-title": "A paper",
        f"{prefix}-{total}-used_for": "The results.",
    }
    response = client.post(change_url(trial), {**anas, **added})
    assert response.status_code == 302, [i.formset.errors for i in response.context["inline_admin_formsets"]]
    assert trial.sources.count() == 2

    client.force_login(ben)  # Ben's page, opened before, still shows one source and his edit of a field
    response = client.post(change_url(trial), {**bens, "acronym": "BEN"})
    assert response.status_code == 200
    assert "(Sources)" in response.content.decode()
    trial.refresh_from_db()
    assert trial.acronym != "BEN" and trial.sources.count() == 2


def test_a_row_saved_on_its_own_page_makes_the_trial_form_stale(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    bens = opened(client, ben, trial)
    source = trial.sources.get()
    client.force_login(ana)
    url = reverse("admin:trials_source_delete", args=[source.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists()
    client.force_login(ben)
    response = client.post(change_url(trial), {**bens, "acronym": "BEN"})
    assert response.status_code == 200
    assert "saved by someone else after you opened this page: by ana on" in response.content.decode()
    assert "(Source deleted on its own page)" in response.content.decode()


def test_an_unchanged_form_saves_twice_in_a_row(client, ana):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    data = opened(client, ana, trial)
    assert client.post(change_url(trial), {**data, "acronym": "ONE"}).status_code == 302
    data = opened(client, ana, trial)
    assert client.post(change_url(trial), {**data, "acronym": "TWO"}).status_code == 302
    trial.refresh_from_db()
    assert trial.acronym == "TWO" and trial.edit_version == 2


def changelist_versions(client, user):
    client.force_login(user)
    content = client.get(reverse("admin:trials_trial_changelist")).content.decode()
    return {
        f"seen_version_{trial.pk}": str(trial.edit_version)
        for trial in Trial.objects.all()
        if f'name="seen_version_{trial.pk}" value="{trial.edit_version}"' in content
    }


def test_a_bulk_action_refuses_a_trial_saved_since_the_list_was_shown(client, ana, ben, editor):
    stale = publishable_trial(curation_state=CurationState.REVIEW, brief_title="Stale", last_reviewed_on="2026-11-01")
    fresh = publishable_trial(curation_state=CurationState.REVIEW, brief_title="Fresh", last_reviewed_on="2026-11-01")
    seen = changelist_versions(client, editor)
    assert set(seen) == {f"seen_version_{stale.pk}", f"seen_version_{fresh.pk}"}

    client.force_login(ana)  # Ana edits one of them meanwhile
    assert client.post(change_url(stale), {**opened(client, ana, stale), "acronym": "NEW"}).status_code == 302

    client.force_login(editor)
    response = client.post(
        reverse("admin:trials_trial_changelist"),
        {"action": "publish", "_selected_action": [stale.pk, fresh.pk], **seen},
        follow=True,
    )
    shown = messages_of(response)
    assert "1 trial(s) published." in shown
    assert any(m.startswith("Not published: Stale: This trial was saved by someone else") and "ana" in m for m in shown)
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.curation_state, fresh.curation_state) == (CurationState.REVIEW, CurationState.PUBLISHED)


def test_unpublishing_with_a_reason_refuses_a_trial_saved_since_the_list_was_shown(client, ana, editor):
    stale = publishable_trial(
        curation_state=CurationState.PUBLISHED, brief_title="Stale", last_reviewed_on="2026-11-01"
    )
    fresh = publishable_trial(
        curation_state=CurationState.PUBLISHED, brief_title="Fresh", last_reviewed_on="2026-11-01"
    )
    seen = changelist_versions(client, editor)
    selected = {"action": "unpublish", "_selected_action": [stale.pk, fresh.pk], **seen}
    page = client.post(reverse("admin:trials_trial_changelist"), selected).content.decode()
    for name, version in seen.items():  # the confirmation page carries the versions the list showed
        assert f'name="{name}" value="{version}"' in page

    client.force_login(ana)  # Ana's note on one of them, saved meanwhile (private: it needs no approval)
    assert (
        client.post(change_url(stale), {**opened(client, ana, stale), "curator_notes": "Ana's note."}).status_code
        == 302
    )

    client.force_login(editor)
    confirmed = {**selected, "confirmed": "yes", "reason": "Both records are under review again."}
    response = client.post(reverse("admin:trials_trial_changelist"), confirmed, follow=True)
    shown = messages_of(response)
    assert "1 trial(s) unpublished." in shown
    assert any(
        m.startswith("Not unpublished: Stale: This trial was saved by someone else") and "ana" in m for m in shown
    )
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.curation_state, fresh.curation_state) == (CurationState.PUBLISHED, CurationState.DRAFT)
    assert not stale.comments.exists() and fresh.comments.count() == 1


def test_mark_reviewed_refuses_a_trial_saved_since_the_list_was_shown(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT, last_reviewed_on="2026-01-01")
    seen = changelist_versions(client, ben)
    client.force_login(ana)
    assert client.post(change_url(trial), {**opened(client, ana, trial), "acronym": "NEW"}).status_code == 302
    client.force_login(ben)
    response = client.post(
        reverse("admin:trials_trial_changelist"),
        {"action": "mark_reviewed_today", "_selected_action": [trial.pk], **seen},
        follow=True,
    )
    assert any(m.startswith("Nothing marked reviewed:") for m in messages_of(response))
    trial.refresh_from_db()
    assert str(trial.last_reviewed_on) == "2026-01-01"


def test_every_write_path_raises_the_version(editor):
    trial = publishable_trial(curation_state=CurationState.REVIEW)
    assert trial.edit_version == 0
    trial = actions.publish(trial=trial, user=editor)
    assert trial.edit_version == 1
    actions.mark_reviewed(trials=[trial], user=editor)
    trial.refresh_from_db()
    assert trial.edit_version == 2
    SourceFactory(trial=trial)
    actions.edit_versions.bump_saved(trial.pk, user=editor, reason="Source added on its own page")
    trial.refresh_from_db()
    assert trial.edit_version == 3
    assert trial.history.latest().edit_version == 3  # history keeps each save's version
    assert trial.history.latest().history_change_reason == "Source added on its own page"


def test_a_transition_from_a_stale_version_is_refused(editor):
    trial = publishable_trial(curation_state=CurationState.REVIEW)
    with pytest.raises(actions.WorkflowError, match="after you opened this page"):
        actions.publish(trial=trial, user=editor, seen_version=trial.edit_version + 5)
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.REVIEW


def test_registry_update_acceptance_refuses_a_trial_saved_since_the_review_page(client, ana, ben):
    (trial,) = import_studies(study("NCT03475563")).created
    (update,) = import_studies(changed_record()).updates
    url = reverse("admin:trials_registryupdate_change", args=[update.pk])
    client.force_login(ben)
    page = client.get(url).content.decode()
    trial.refresh_from_db()
    assert f'name="seen_version" value="{trial.edit_version}"' in page

    client.force_login(ana)
    assert client.post(change_url(trial), {**opened(client, ana, trial), "acronym": "ANA"}).status_code == 302

    client.force_login(ben)
    response = client.post(
        url, {"accept": ["overall_status"], "_accept": "1", "seen_version": str(trial.edit_version)}, follow=True
    )
    assert any(m.startswith("Nothing changed: This trial was saved by someone else") for m in messages_of(response))
    update.refresh_from_db()
    trial.refresh_from_db()
    assert update.status == RegistryUpdateStatus.PENDING and trial.acronym == "ANA"
    assert trial.overall_status != "COMPLETED"

    response = client.post(url, {"accept": ["overall_status"], "_accept": "1", "seen_version": str(trial.edit_version)})
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.overall_status == "COMPLETED" and trial.acronym == "ANA"
