"""No lost update (trials/actions/edit_versions.py): a page opened before someone else saved the same trial, or one of
its rows, cannot overwrite that save; the curator is told who saved what and when, and keeps their input."""

import html

import pytest
from django.urls import reverse

from tests.factories import SourceFactory, UserFactory, publishable_trial
from tests.test_admin import change_url, form_data, messages_of
from tests.test_ctgov import changed_record, import_studies, study
from trials import actions, versions
from trials.models import RegistryUpdateStatus, Site, Source, Trial
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


# --- Inline rows: a stale page's rows take over what someone else changed since ---------------------


def row_key(data, prefix, row, name):
    """The POST key of field `name` of `row` in the inline formset `prefix` of a page's data."""
    index = next(
        i for i in range(int(data[f"{prefix}-TOTAL_FORMS"])) if str(data.get(f"{prefix}-{i}-id")) == str(row.pk)
    )
    return f"{prefix}-{index}-{name}"


def conflict_text(response):
    return html.unescape(response.content.decode())


def test_a_row_changed_since_is_taken_over_so_saving_again_keeps_it(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT, summary="Old summary.")
    source = trial.sources.get()
    site = Site.objects.create(trial=trial, facility="University Hospital", city="Toronto", country_id="CA")
    anas = opened(client, ana, trial)
    bens = opened(client, ben, trial)

    client.force_login(ben)  # Ben changes the source (a text, a choice, a date) and the site's city and country
    changes = {
        row_key(bens, "sources", source, "title"): "Ben's title",
        row_key(bens, "sources", source, "kind"): "SPONSOR",
        row_key(bens, "sources", source, "source_date"): "2024-05-02",
        row_key(bens, "sources", source, "date_precision"): "DAY",
        row_key(bens, "sites", site, "city"): "Montreal",
        row_key(bens, "sites", site, "country"): "US",
    }
    response = client.post(change_url(trial), {**bens, **changes})
    assert response.status_code == 302, response.context and response.context["errors"]
    assert versions.state_at(trial.pk, 0).rows[("trials.Source", source.pk)]["title"] == ""  # as Ana's page showed

    client.force_login(ana)  # Ana's page, opened before, changed only the summary
    response = client.post(change_url(trial), {**anas, "summary": "Ana's summary."})
    assert response.status_code == 200  # refused, nothing saved
    trial.refresh_from_db()
    assert trial.summary == "Old summary."
    assert (
        "In the rows, the fields you had not changed now show their values (source “Ben's title”: title, kind, "
        "date, precision; site “University Hospital, Montreal”: city, country); yours are kept."
    ) in conflict_text(response)
    again = form_data(response)  # the page shown again, as Ana's browser would post it
    assert again["summary"] == "Ana's summary."
    assert {name: again[row_key(again, "sources", source, name)] for name in ("title", "kind", "source_date")} == {
        "title": "Ben's title",
        "kind": "SPONSOR",
        "source_date": "2024-05-02",
    }
    assert (again[row_key(again, "sites", site, "city")], again[row_key(again, "sites", site, "country")]) == (
        "Montreal",
        "US",
    )

    response = client.post(change_url(trial), again)
    assert response.status_code == 302, response.context and response.context["errors"]
    trial.refresh_from_db()
    source.refresh_from_db()
    site.refresh_from_db()
    assert trial.summary == "Ana's summary."  # both saves hold
    assert (source.title, source.kind, str(source.source_date)) == ("Ben's title", "SPONSOR", "2024-05-02")
    assert (site.city, site.country_id) == ("Montreal", "US")


def test_a_row_field_both_changed_keeps_the_stale_pages_value_and_says_so(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    source = trial.sources.get()
    anas = opened(client, ana, trial)
    bens = opened(client, ben, trial)
    client.force_login(ben)
    assert (
        client.post(change_url(trial), {**bens, row_key(bens, "sources", source, "title"): "Ben's"}).status_code == 302
    )

    client.force_login(ana)
    mine = {row_key(anas, "sources", source, "title"): "Ana's", row_key(anas, "sources", source, "publisher"): "WHO"}
    response = client.post(change_url(trial), {**anas, **mine})
    assert response.status_code == 200
    source.refresh_from_db()
    assert (source.title, source.publisher) == ("Ben's", "")
    content = conflict_text(response)
    assert "the fields you both changed show yours, which saving again applies over theirs (source “Ben's”: title)" in (
        content
    )
    assert "you had not changed now show" not in content  # nothing of Ben's taken over: he changed only the title
    again = form_data(response)
    assert (
        again[row_key(again, "sources", source, "title")],
        again[row_key(again, "sources", source, "publisher")],
    ) == (
        "Ana's",
        "WHO",
    )

    assert client.post(change_url(trial), again).status_code == 302  # applied knowingly
    source.refresh_from_db()
    assert (source.title, source.publisher) == ("Ana's", "WHO")


def test_rows_added_since_survive_a_stale_pages_two_saves_and_rows_deleted_since_are_named(client, ana, ben):
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    extra = SourceFactory(trial=trial, url="https://example.org/news", kind="NEWS", title="News")
    anas = opened(client, ana, trial)
    bens = opened(client, ben, trial)

    client.force_login(ben)  # Ben adds a site
    added = {
        "sites-TOTAL_FORMS": int(bens["sites-TOTAL_FORMS"]) + 1,
        f"sites-{bens['sites-TOTAL_FORMS']}-facility": "Ben's hospital",
        f"sites-{bens['sites-TOTAL_FORMS']}-country": "CA",
    }
    response = client.post(change_url(trial), {**bens, **added})
    assert response.status_code == 302, response.context and response.context["errors"]

    client.force_login(ana)  # Ana's page does not show Ben's site
    response = client.post(change_url(trial), {**anas, "summary": "Ana's summary."})
    assert response.status_code == 200
    response = client.post(change_url(trial), form_data(response))
    assert response.status_code == 302, response.context and response.context["errors"]
    trial.refresh_from_db()
    assert trial.summary == "Ana's summary."
    assert list(trial.sites.values_list("facility", flat=True)) == ["Ben's hospital"]

    client.force_login(ben)  # Ben deletes a source; Ana's next page, opened before, still has it
    anas = opened(client, ana, trial)
    client.force_login(ben)
    bens = opened(client, ben, trial)
    response = client.post(change_url(trial), {**bens, row_key(bens, "sources", extra, "DELETE"): "on"})
    assert response.status_code == 302, response.context and response.context["errors"]
    assert not Source.objects.filter(pk=extra.pk).exists()

    client.force_login(ana)
    response = client.post(change_url(trial), {**anas, row_key(anas, "sources", extra, "title"): "Ana's news"})
    assert response.status_code == 200
    content = conflict_text(response)
    assert "A source on this page was deleted by someone else after you opened it" in content
    assert "Title “Ana's news”" in content
    assert trial.sites.count() == 1 and trial.sources.count() == 1
