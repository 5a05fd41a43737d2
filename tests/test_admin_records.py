"""The admin for the record's new parts: sites, outcomes and related trials inline, the integrity problems as a
column, a filter and a section, publishing refused on a blocking problem, and proposals from the curated data."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from tests.factories import PublicationFactory, SourceFactory, TrialFactory, publishable_trial
from tests.test_admin import change_url, form_data, messages_of, post_change, run_action, signed_in
from trials import actions
from trials.models import Outcome, RegistryUpdate, Site, Trial, TrialRelation
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC), tick=False):
        yield


def test_the_trial_page_has_inlines_for_sites_outcomes_and_related_trials(client, curator):
    trial = publishable_trial(curation_state="DRAFT")  # a published trial's change would wait for an editor
    other = TrialFactory(brief_title="The earlier trial")
    publication = PublicationFactory(trial=trial, kind="RESULTS")
    signed_in(client, curator)
    data = form_data(client.get(change_url(trial)))
    data.update(
        {
            "sites-TOTAL_FORMS": 1,
            "sites-0-facility": "Karolinska University Hospital",
            "sites-0-city": "Stockholm",
            "sites-0-country": "SE",
            "outcomes-TOTAL_FORMS": 1,
            "outcomes-0-measure": "C_PEPTIDE",
            "outcomes-0-result": "Kept 90% of their own insulin production",
            "outcomes-0-n": 15,
            "outcomes-0-timepoint": "1 year",
            "outcomes-0-publication": publication.pk,
            "related_links-TOTAL_FORMS": 1,
            "related_links-0-relation": "PREDECESSOR",
            "related_links-0-related": other.pk,
        }
    )
    response = client.post(change_url(trial), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert Site.objects.get(trial=trial).country_id == "SE"
    assert Outcome.objects.get(trial=trial).publication == publication
    assert TrialRelation.objects.get(trial=trial).related == other
    page = client.get(change_url(trial)).content.decode()
    for text in (
        "published outcomes",
        "never a person",
        "related trials",
        "public caveats",
        "the status&#x27;s source",
    ):
        assert text.lower() in page.lower()
    # The trial's history lists the new rows, each linking to its own history page.
    history = client.get(reverse("admin:trials_trial_history", args=[trial.pk]))
    assert history.status_code == 200
    for row in (Site.objects.get(trial=trial), Outcome.objects.get(trial=trial), TrialRelation.objects.get()):
        record = row.history.latest()
        url = reverse(f"admin:trials_{row._meta.model_name}_simple_history", args=[row.pk, record.history_id])
        assert url in history.content.decode()
        assert client.get(url).status_code == 200


def test_an_outcome_links_only_to_the_trials_own_publications(client, curator):
    trial = publishable_trial()
    mine = PublicationFactory(trial=trial, citation="Mine 2025")
    theirs = PublicationFactory(citation="Theirs 2025")
    signed_in(client, curator)
    data = form_data(client.get(change_url(trial)))
    data.update(
        {
            "outcomes-TOTAL_FORMS": 1,
            "outcomes-0-measure": "SAFETY",
            "outcomes-0-result": "No serious adverse events",
            "outcomes-0-publication": theirs.pk,
        }
    )
    response = client.post(change_url(trial), data)
    assert response.status_code == 200  # refused: not one of the choices
    assert not Outcome.objects.exists()
    choices = client.get(change_url(trial)).context["inline_admin_formsets"]
    outcome_forms = next(inline.formset for inline in choices if inline.formset.prefix == "outcomes")
    assert list(outcome_forms.empty_form.fields["publication"].queryset) == [mine]


def test_problems_column_filter_and_section(client, curator):
    fine = publishable_trial(brief_title="A consistent trial")
    stale = publishable_trial(
        brief_title="A trial past its end",
        overall_status="RECRUITING",
        completion_date=datetime.date(2025, 3, 1),
        completion_date_precision="MONTH",
    )
    signed_in(client, curator)
    listing = client.get(reverse("admin:trials_trial_changelist")).content.decode()
    assert "Active status, completion date passed" in listing
    filtered = client.get(reverse("admin:trials_trial_changelist"), {"problem": "active_after_completion"})
    shown = list(filtered.context["cl"].result_list)
    assert shown == [stale]
    assert (
        list(client.get(reverse("admin:trials_trial_changelist"), {"problem": "blocking"}).context["cl"].result_list)
        == []
    )
    page = client.get(change_url(stale)).content.decode()
    assert "completion date, March 2025, has passed" in page
    assert "contradicts itself nowhere" in client.get(change_url(fine)).content.decode()


def test_publishing_is_refused_on_a_blocking_problem(client, editor):
    trial = publishable_trial(curation_state=CurationState.REVIEW, last_reviewed_on=datetime.date(2026, 12, 24))
    with pytest.raises(actions.WorkflowError, match="still to come"):
        actions.publish(trial=trial, user=editor)
    response = run_action(signed_in(client, editor), "publish", [trial])
    assert any("still to come" in message for message in messages_of(response))
    assert Trial.objects.get(pk=trial.pk).curation_state == CurationState.REVIEW


def test_a_trial_resting_on_news_only_cannot_be_published(editor):
    trial = publishable_trial(curation_state=CurationState.REVIEW)
    trial.sources.update(kind="NEWS")
    with pytest.raises(actions.WorkflowError, match="no registry record, publication or sponsor source"):
        actions.publish(trial=trial, user=editor)
    SourceFactory(trial=trial, kind="SPONSOR", url="https://sponsor.example/release")
    actions.publish(trial=trial, user=editor)


def test_a_published_trial_cannot_be_saved_with_a_blocking_problem(client, curator):
    trial = publishable_trial()
    response = post_change(signed_in(client, curator), trial, last_reviewed_on="2027-01-05")
    assert response.status_code == 200
    page = response.content.decode()
    assert "5 January 2027 is still to come" in page  # the form's own message, once: not the rule's again
    assert "cannot be saved with this problem" not in page
    assert Trial.objects.get(pk=trial.pk).last_reviewed_on == datetime.date(2026, 11, 24)


def test_a_published_trial_keeps_a_source_it_can_rest_on(client, curator):
    trial = publishable_trial()
    response = post_change(signed_in(client, curator), trial, **{"sources-0-kind": "NEWS"})
    assert response.status_code == 200
    assert "cannot be its only support" in response.content.decode()


def test_a_proposal_from_the_curated_data_is_reviewed_field_by_field(client, editor, time_machine):
    # After the data file's review dates: a published trial reviewed "in the future" could take no change.
    time_machine.move_to(datetime.datetime(2027, 1, 15, 12, tzinfo=datetime.UTC), tick=False)
    actions.load_trials(actions.read_data_file())
    trial = Trial.objects.get(slug="vx264")
    trial.public_caveats = "Reworded by a curator."
    trial.save()
    data = actions.read_data_file()
    for record in data.trials:
        if record["slug"] == "vx264":
            record["why_stopped"] = "Programme discontinued by the sponsor"
    data.version = "2027-01-01"
    actions.load_trials(data)
    update = RegistryUpdate.objects.get(trial=trial)
    assert set(update.changes) == {"why_stopped", "public_caveats"}
    signed_in(client, editor)  # the trial is published: an editor accepts what reaches readers
    assert "The curated data file differs from this record" in client.get(change_url(trial)).content.decode()
    review = client.get(reverse("admin:trials_registryupdate_change", args=[update.pk]))
    assert "In the curated data file" in review.content.decode()
    response = client.post(
        reverse("admin:trials_registryupdate_change", args=[update.pk]),
        {"_accept": "1", "accept": ["why_stopped"]},
        follow=True,
    )
    assert response.status_code == 200
    trial.refresh_from_db()
    assert (trial.why_stopped, trial.public_caveats) == (
        "Programme discontinued by the sponsor",
        "Reworded by a curator.",
    )
