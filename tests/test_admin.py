"""The curators' admin: pages and their query counts, roles, the workflow, validation, staleness, history, CSV."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mechanisms.models import Mechanism, PathwayStep
from tests.factories import (
    PublicationFactory,
    RegistryIdentifierFactory,
    SourceFactory,
    TrialFactory,
    TrialMechanismFactory,
    UserFactory,
    publishable_trial,
)
from trials import stored_problems
from trials.exports import COLUMNS
from trials.models import Comment, Publication, RegistryIdentifier, Source, Trial, TrialMechanism
from trials.vocabularies import CurationState, OverallStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

DRAFT, REVIEW, PUBLISHED = CurationState.DRAFT, CurationState.REVIEW, CurationState.PUBLISHED


@pytest.fixture
def superuser():
    return UserFactory(is_superuser=True)


def signed_in(client, user):
    client.force_login(user)
    return client


def change_url(trial):
    return reverse("admin:trials_trial_change", args=[trial.pk])


def form_data(response):
    """The POST data of an admin change form as it was rendered: the form and every inline formset."""
    data = {}

    def add(form):
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.value()
            widget = bound.field.widget.__class__.__name__
            if widget == "NullBooleanSelect":
                value = {True: "true", False: "false"}.get(value, "unknown")
            elif widget == "CheckboxInput":
                if not value:
                    continue
                value = "on"
            elif value is None:
                value = ""
            elif isinstance(value, list | tuple):
                value = [str(item) for item in value]
            elif isinstance(value, datetime.date):
                value = value.isoformat()
            elif hasattr(value, "pk"):
                value = value.pk
            data[bound.html_name] = value

    add(response.context["adminform"].form)
    inlines = response.context.get("inline_admin_formsets", [])  # none on a history (revert) page
    for inline in inlines:
        formset = inline.formset
        management = formset.management_form  # a page shown again after a POST has it bound to what was posted
        for key, value in (management.cleaned_data if management.is_bound else management.initial).items():
            data[f"{formset.prefix}-{key}"] = value
        data[f"{formset.prefix}-TOTAL_FORMS"] = len(formset.initial_forms)
        for form in formset.initial_forms:
            add(form)
    return data


def post_change(client, trial, **changes):
    response = client.get(change_url(trial))
    assert response.status_code == 200
    data = form_data(response)
    data.update(changes)
    return client.post(change_url(trial), data)


def run_action(client, action, trials):
    return client.post(
        reverse("admin:trials_trial_changelist"),
        {"action": action, "_selected_action": [trial.pk for trial in trials]},
        follow=True,
    )


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


# --- Access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name",
    ["admin:index", "admin:trials_trial_changelist", "admin:trials_trial_add", "admin:mechanisms_mechanism_changelist"],
)
def test_anonymous_users_reach_no_admin_page(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_anonymous_users_cannot_see_a_trial_or_its_history(client):
    trial = TrialFactory()
    for url in (change_url(trial), reverse("admin:trials_trial_history", args=[trial.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_a_staff_user_without_a_role_cannot_open_trials(client):
    signed_in(client, UserFactory())
    assert client.get(reverse("admin:trials_trial_changelist")).status_code == 403


def test_the_admin_is_titled_for_the_registry(client, curator):
    response = signed_in(client, curator).get(reverse("admin:index"))
    assert "Stem-cell diabetes trials registry" in response.content.decode()


# --- Roles ------------------------------------------------------------------------------------------


def test_curator_adds_and_edits_but_cannot_delete(client, curator):
    trial = TrialFactory(curation_state=DRAFT)
    signed_in(client, curator)
    assert client.get(reverse("admin:trials_trial_add")).status_code == 200
    assert client.get(change_url(trial)).status_code == 200
    assert client.get(reverse("admin:trials_trial_delete", args=[trial.pk])).status_code == 403
    assert client.post(reverse("admin:trials_trial_delete", args=[trial.pk]), {"post": "yes"}).status_code == 403
    response = run_action(client, "delete_selected", [trial])
    assert Trial.objects.filter(pk=trial.pk).exists()
    assert "No action selected." in messages_of(response)


def test_editor_deletes(client, editor):
    trial = TrialFactory()
    signed_in(client, editor)
    response = client.post(reverse("admin:trials_trial_delete", args=[trial.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Trial.objects.filter(pk=trial.pk).exists()


def test_curator_sees_no_publish_actions_and_posting_one_is_refused(client, curator):
    trial = publishable_trial(curation_state=REVIEW)
    signed_in(client, curator)
    page = client.get(reverse("admin:trials_trial_changelist")).content.decode()
    assert 'value="send_to_review"' in page
    assert 'value="publish"' not in page
    assert 'value="unpublish"' not in page
    assert 'value="delete_selected"' not in page
    response = run_action(client, "publish", [trial])
    assert "No action selected." in messages_of(response)
    assert Trial.objects.get(pk=trial.pk).curation_state == REVIEW


def test_editor_sees_publish_actions(client, editor):
    TrialFactory()
    page = signed_in(client, editor).get(reverse("admin:trials_trial_changelist")).content.decode()
    for action in ("send_to_review", "publish", "unpublish", "mark_reviewed_today", "export_csv", "delete_selected"):
        assert f'value="{action}"' in page


def test_curator_posting_published_in_the_change_form_is_refused(client, curator):
    trial = publishable_trial(curation_state=REVIEW, brief_title="Before")
    response = post_change(signed_in(client, curator), trial, curation_state=PUBLISHED, brief_title="After")
    assert response.status_code == 200  # the form again, with the error
    assert "Only editors can publish or unpublish a trial." in response.content.decode()
    trial.refresh_from_db()
    assert (trial.curation_state, trial.brief_title) == (REVIEW, "Before")


def test_curator_cannot_unpublish_through_the_change_form(client, curator):
    trial = publishable_trial(curation_state=PUBLISHED)
    response = post_change(signed_in(client, curator), trial, curation_state=DRAFT)
    assert "Only editors can publish or unpublish a trial." in response.content.decode()
    assert Trial.objects.get(pk=trial.pk).curation_state == PUBLISHED


def test_curator_sends_to_review_through_the_change_form(client, curator):
    trial = publishable_trial(curation_state=DRAFT)
    response = post_change(signed_in(client, curator), trial, curation_state=REVIEW)
    assert response.status_code == 302
    assert Trial.objects.get(pk=trial.pk).curation_state == REVIEW


def test_editor_publishes_through_the_change_form(client, editor):
    trial = publishable_trial(curation_state=REVIEW)
    response = post_change(signed_in(client, editor), trial, curation_state=PUBLISHED)
    assert response.status_code == 302
    assert Trial.objects.get(pk=trial.pk).curation_state == PUBLISHED


def test_change_form_skipping_review_is_refused(client, editor):
    trial = publishable_trial(curation_state=DRAFT)
    response = post_change(signed_in(client, editor), trial, curation_state=PUBLISHED)
    assert "cannot go from “Draft” to “Published”; send it to review first." in response.content.decode()
    assert Trial.objects.get(pk=trial.pk).curation_state == DRAFT


def test_publishing_an_incomplete_trial_from_the_form_saves_edits_and_says_what_is_missing(client, editor):
    trial = TrialFactory(curation_state=REVIEW, last_reviewed_on=None, brief_title="Before")
    response = post_change(signed_in(client, editor), trial, curation_state=PUBLISHED, brief_title="After")
    assert response.status_code == 302
    trial.refresh_from_db()
    assert (trial.curation_state, trial.brief_title) == (REVIEW, "After")
    shown = messages_of(client.get(response.url))
    assert any(
        "stays “In review”: Add at least one mechanism link with a rationale. Add at least one source. "
        "Give the date the record was last reviewed" in message
        for message in shown
    )


def test_publishing_sees_links_and_sources_added_in_the_same_post(client, editor):
    trial = TrialFactory(curation_state=REVIEW)
    signed_in(client, editor)
    data = form_data(client.get(change_url(trial)))
    mechanism = Mechanism.objects.get(slug="beta-cell-regeneration")
    data.update(
        {
            "curation_state": PUBLISHED,
            "mechanism_links-TOTAL_FORMS": 1,
            "mechanism_links-0-mechanism": mechanism.pk,
            "mechanism_links-0-role": "PRIMARY",
            "mechanism_links-0-rationale": "Stem-cell-derived islets replace the lost beta cells.",
            "sources-TOTAL_FORMS": 1,
            "sources-0-url": "https://clinicaltrials.gov/study/NCT04786262",
            "sources-0-kind": "REGISTRY",  # a published trial rests on a registry, publication or sponsor source
            "sources-0-used_for": "status, design",
        }
    )
    response = client.post(change_url(trial), data)
    assert response.status_code == 302
    assert Trial.objects.get(pk=trial.pk).curation_state == PUBLISHED


def test_a_new_trial_is_a_draft_whatever_is_posted(client, editor):
    signed_in(client, editor)
    response = client.get(reverse("admin:trials_trial_add"))
    assert "curation_state" not in response.context["adminform"].form.fields
    data = minimal_add_data(curation_state=PUBLISHED)
    response = client.post(reverse("admin:trials_trial_add"), data)
    assert response.status_code == 302
    assert Trial.objects.get(slug="new-trial").curation_state == DRAFT


def test_revert_restores_content_never_the_curation_state(client, curator, editor):
    trial = publishable_trial(curation_state=REVIEW, brief_title="Old title")
    post_change(signed_in(client, editor), trial, curation_state=PUBLISHED, brief_title="New title")
    old_version = trial.history.filter(brief_title="Old title").first()
    url = reverse("admin:trials_trial_simple_history", args=[trial.pk, old_version.history_id])
    signed_in(client, curator)
    response = client.get(url)
    assert "curation_state" not in response.context["adminform"].form.fields
    response = client.post(url, form_data(response) | {"curation_state": DRAFT})
    assert response.status_code == 302
    trial.refresh_from_db()
    assert (trial.brief_title, trial.curation_state) == ("Old title", PUBLISHED)


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("send_to_review", DRAFT, REVIEW),
        ("publish", REVIEW, PUBLISHED),
    ],
)
def test_editor_moves_trials_with_admin_actions(client, editor, action, start, end):
    trials = [publishable_trial(curation_state=start) for _ in range(2)]
    response = run_action(signed_in(client, editor), action, trials)
    assert set(Trial.objects.filter(pk__in=[t.pk for t in trials]).values_list("curation_state", flat=True)) == {end}
    assert any(message.startswith("2 trial(s)") for message in messages_of(response))


def unpublish_confirmed(client, trials, reason):
    """The unpublish action's confirmation page, posted with `reason` (as the page's own form posts it)."""
    return client.post(
        reverse("admin:trials_trial_changelist"),
        {
            "action": "unpublish",
            "_selected_action": [trial.pk for trial in trials],
            "confirmed": "yes",
            "reason": reason,
        },
        follow=True,
    )


def test_unpublishing_from_the_list_asks_a_reason_first_and_an_empty_one_moves_nothing(client, editor):
    trials = [publishable_trial(curation_state=PUBLISHED, brief_title=f"Trial {n}") for n in (1, 2)]
    response = run_action(signed_in(client, editor), "unpublish", trials)
    page = response.content.decode()
    assert "Unpublish these trials?" in page and "Trial 1" in page and "Trial 2" in page
    assert 'name="reason"' in page and 'name="confirmed"' in page
    assert set(Trial.objects.values_list("curation_state", flat=True)) == {PUBLISHED}

    response = unpublish_confirmed(client, trials, "   ")
    page = response.content.decode()
    assert "Unpublish these trials?" in page  # the page again, with the error next to the reason
    assert "Say why the trial goes back to draft" in page
    assert set(Trial.objects.values_list("curation_state", flat=True)) == {PUBLISHED}
    assert not Comment.objects.exists()


def test_unpublishing_with_a_reason_moves_the_trials_and_says_why_on_each(client, editor):
    trials = [publishable_trial(curation_state=PUBLISHED, brief_title=f"Trial {n}") for n in (1, 2)]
    public = trials[0].get_absolute_url()
    assert client.get(public).status_code == 200
    response = unpublish_confirmed(signed_in(client, editor), trials, "The sponsor withdrew both records.")
    assert "2 trial(s) unpublished." in messages_of(response)
    for trial in trials:
        trial.refresh_from_db()
        assert trial.curation_state == DRAFT
        (comment,) = trial.comments.all()
        assert comment.text == "Published → Draft: The sponsor withdrew both records." and comment.author == editor
        assert trial.history.latest().history_change_reason == comment.text
    client.logout()
    assert client.get(public).status_code == 404  # readers no longer see it


def test_publish_action_names_what_each_trial_lacks(client, editor):
    ready = publishable_trial(curation_state=REVIEW)
    lacking = TrialFactory(curation_state=REVIEW, brief_title="Lacking a source")
    TrialMechanismFactory(trial=lacking)
    response = run_action(signed_in(client, editor), "publish", [ready, lacking])
    shown = messages_of(response)
    assert "1 trial(s) published." in shown
    assert "Not published: Lacking a source: Add at least one source." in shown
    assert Trial.objects.get(pk=lacking.pk).curation_state == REVIEW


def test_mark_reviewed_today_action(client, curator, frozen_today):
    trial = TrialFactory(last_reviewed_on=datetime.date(2024, 1, 1), curation_state=DRAFT)  # published: it waits
    response = run_action(signed_in(client, curator), "mark_reviewed_today", [trial])
    assert Trial.objects.get(pk=trial.pk).last_reviewed_on == frozen_today
    assert "1 trial(s) marked reviewed on 24 November 2026." in messages_of(response)


# --- Mechanisms -------------------------------------------------------------------------------------


def test_curators_edit_mechanism_wording_but_cannot_add_or_delete(client, curator):
    mechanism = Mechanism.objects.get(slug="angiogenesis")
    signed_in(client, curator)
    assert client.get(reverse("admin:mechanisms_mechanism_add")).status_code == 403
    assert client.get(reverse("admin:mechanisms_mechanism_delete", args=[mechanism.pk])).status_code == 403
    assert client.get(reverse("admin:mechanisms_pathwaystep_add")).status_code == 403
    url = reverse("admin:mechanisms_mechanism_change", args=[mechanism.pk])
    data = form_data(client.get(url)) | {"summary": "New blood vessels for the cells."}
    assert client.post(url, data).status_code == 302
    # A curator's change of public wording waits for an editor (tests/test_wording_changes.py).
    assert mechanism.wording_changes.get().changes["summary"]["new"] == "New blood vessels for the cells."
    mechanism.refresh_from_db()
    assert mechanism.slug == "angiogenesis"


def test_even_the_superuser_cannot_add_a_mechanism(client, superuser):
    signed_in(client, superuser)
    assert client.get(reverse("admin:mechanisms_mechanism_add")).status_code == 403
    assert client.get(reverse("admin:mechanisms_mechanism_changelist")).status_code == 200


# --- Validation -------------------------------------------------------------------------------------


def minimal_add_data(**changes):
    data = {
        "brief_title": "A new trial",
        "slug": "new-trial",
        "study_type": "INTERVENTIONAL",
        "immunosuppression": "UNKNOWN",
        "gene_edited": "unknown",
    }
    for prefix in ("identifiers", "mechanism_links", "publications", "sources", "outcomes", "sites", "related_links"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    data.update(changes)
    return data


def identifier_rows(*rows):
    data = {"identifiers-TOTAL_FORMS": len(rows)}
    for number, (registry, value, primary) in enumerate(rows):
        data |= {f"identifiers-{number}-registry": registry, f"identifiers-{number}-value": value}
        if primary:
            data[f"identifiers-{number}-is_primary"] = "on"
    return data


def add_errors(client, **changes):
    response = client.post(reverse("admin:trials_trial_add"), minimal_add_data(**changes))
    assert response.status_code == 200, "the form should have been refused"
    assert not Trial.objects.filter(slug="new-trial").exists()
    return response.content.decode()


def test_adding_a_trial_with_its_identifiers_and_links(client, curator):
    signed_in(client, curator)
    mechanism = Mechanism.objects.get(slug="immune-regulation")
    data = minimal_add_data(
        **identifier_rows(("NCT", " nct04786262 ", True), ("EUDRACT", "2017-002766-50", False)),
        **{
            "mechanism_links-TOTAL_FORMS": 1,
            "mechanism_links-0-mechanism": mechanism.pk,
            "mechanism_links-0-role": "PRIMARY",
            "mechanism_links-0-rationale": "Cells damp the immune attack.",
            "countries": ["SE", "NO"],
            "diabetes_types": ["T1D"],
            "routes": ["INTRAVENOUS"],
        },
    )
    response = client.post(reverse("admin:trials_trial_add"), data)
    assert response.status_code == 302
    trial = Trial.objects.get(slug="new-trial")
    assert trial.public_key == "NCT04786262"  # trimmed and upper-cased
    assert sorted(trial.countries.values_list("code", flat=True)) == ["NO", "SE"]
    assert list(trial.diabetes_types.values_list("code", flat=True)) == ["T1D"]
    assert trial.mechanism_links.get().mechanism == mechanism
    assert trial.history.first().history_user == curator


@pytest.mark.parametrize(
    ("registry", "value", "message"),
    [
        ("NCT", "NCT123", "A ClinicalTrials.gov identifier is NCT followed by 8 digits, e.g. NCT04786262; got"),
        ("ISRCTN", "ISRCTN1", "A ISRCTN identifier is ISRCTN followed by 8 digits, e.g. ISRCTN12345678"),
        ("EUDRACT", "2017-2766-50", "year, a 6-digit number and a 2-digit check number, e.g. 2017-002766-50"),
    ],
)
def test_identifier_format_messages(client, curator, registry, value, message):
    page = add_errors(signed_in(client, curator), **identifier_rows((registry, value, True)))
    assert message in page


def test_a_duplicate_identifier_links_to_the_trial_that_has_it(client, curator):
    other = TrialFactory(brief_title="The first trial")
    RegistryIdentifierFactory(trial=other, value="NCT04786262")
    page = add_errors(signed_in(client, curator), **identifier_rows(("NCT", "nct04786262", True)))
    assert "NCT04786262 is already in the registry, on the trial" in page
    assert f'<a href="{change_url(other)}">The first trial</a>' in page


def test_exactly_one_primary_identifier(client, curator):
    signed_in(client, curator)
    page = add_errors(client, **identifier_rows(("NCT", "NCT04786262", False), ("EUDRACT", "2017-002766-50", False)))
    assert "Mark exactly one identifier as primary (now 0)" in page
    page = add_errors(client, **identifier_rows(("NCT", "NCT04786262", True), ("EUDRACT", "2017-002766-50", True)))
    assert "Mark exactly one identifier as primary (now 2)" in page


def test_dates_in_the_wrong_order(client, curator):
    page = add_errors(
        signed_in(client, curator),
        start_date="2024-05-01",
        start_date_precision="MONTH",
        completion_date="2023-01-01",
        completion_date_precision="YEAR",
    )
    assert "The completion date (1 January 2023) is before the start date (1 May 2024)" in page


def test_a_date_needs_its_precision_and_a_precision_needs_its_date(client, curator):
    signed_in(client, curator)
    page = add_errors(client, start_date="2024-05-01")
    assert "Give the precision of the start date (day, month or year)" in page
    page = add_errors(client, completion_date_precision="YEAR")
    assert "Give the completion date, or clear its precision and type." in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"enrollment": "-3"}, "Enrollment is a number of participants: 0 or more, e.g. 12."),
        ({"enrollment": "12000000"}, "Enrollment is the number of participants, e.g. 12; 12000000 looks like"),
        ({"enrollment_type": "ACTUAL"}, "Give the number of participants, or clear the enrollment type."),
    ],
)
def test_enrollment_messages(client, curator, changes, message):
    assert message in add_errors(signed_in(client, curator), **changes)


# --- Staleness in the list ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confirmed", "shown"),
    [
        (datetime.date(2024, 11, 24), "Recruiting"),  # exactly 2 years: still confirmed
        (datetime.date(2024, 11, 23), "Not confirmed for over 2 years (last confirmed on 23 November 2024)"),
        (None, "Not confirmed for over 2 years (never confirmed)"),
    ],
)
def test_list_shows_an_unconfirmed_active_status_as_unknown(client, curator, confirmed, shown):
    TrialFactory(overall_status=OverallStatus.RECRUITING, status_confirmed_on=confirmed)
    page = signed_in(client, curator).get(reverse("admin:trials_trial_changelist")).content.decode()
    assert f'<td class="field-status_column">{shown}</td>' in page


def test_list_shows_status_not_recorded(client, curator):
    TrialFactory(overall_status="", status_confirmed_on=None)
    page = signed_in(client, curator).get(reverse("admin:trials_trial_changelist")).content.decode()
    assert '<td class="field-status_column">Status not recorded</td>' in page


def test_completed_status_never_goes_stale(client, curator):
    TrialFactory(overall_status=OverallStatus.COMPLETED, status_confirmed_on=datetime.date(2015, 1, 1))
    page = signed_in(client, curator).get(reverse("admin:trials_trial_changelist")).content.decode()
    assert '<td class="field-status_column">Completed</td>' in page


@pytest.mark.parametrize(
    ("reviewed", "flag"),
    [
        (datetime.date(2025, 11, 24), "—"),  # exactly 12 months: not overdue
        (datetime.date(2025, 11, 23), "Review overdue"),
        (None, "Review overdue"),
    ],
)
def test_list_flags_a_record_not_reviewed_for_over_12_months(client, curator, reviewed, flag):
    TrialFactory(last_reviewed_on=reviewed)
    page = signed_in(client, curator).get(reverse("admin:trials_trial_changelist")).content.decode()
    assert f'<td class="field-stale_column">{flag}</td>' in page


def test_staleness_filter_at_its_boundaries(client, curator, frozen_today):
    fresh = TrialFactory(
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2024, 11, 24),
        last_reviewed_on=datetime.date(2025, 11, 24),
    )
    status_stale = TrialFactory(
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2024, 11, 23),
        last_reviewed_on=frozen_today,
    )
    review_stale = TrialFactory(last_reviewed_on=datetime.date(2025, 11, 23))
    signed_in(client, curator)

    def listed(value):
        response = client.get(reverse("admin:trials_trial_changelist"), {"stale": value})
        return set(response.context["cl"].result_list)

    assert listed("status") == {status_stale}
    assert listed("review") == {review_stale}
    assert listed("any") == {status_stale, review_stale}
    assert listed("fresh") == {fresh}


# --- Finding trials -----------------------------------------------------------------------------------


def test_search_covers_titles_every_identifier_sponsor_and_product(client, curator):
    trial = TrialFactory(brief_title="Islet cells", sponsor="Vertex", product_name="zimislecel")
    RegistryIdentifierFactory(trial=trial, value="NCT04786262")
    RegistryIdentifierFactory(trial=trial, registry="EUDRACT", value="2017-002766-50", is_primary=False)
    TrialFactory(brief_title="Something else")
    signed_in(client, curator)
    for query in ("islet", "NCT04786262", "2017-002766-50", "vertex", "zimislecel"):
        response = client.get(reverse("admin:trials_trial_changelist"), {"q": query})
        assert list(response.context["cl"].result_list) == [trial], query


def test_filters(client, curator):
    linked = TrialFactory(curation_state=DRAFT, cell_source="ESC")
    TrialMechanismFactory(trial=linked, mechanism=Mechanism.objects.get(slug="angiogenesis"))
    linked.diabetes_types.set(["T2D"])
    TrialFactory(curation_state=PUBLISHED)
    signed_in(client, curator)
    for params in (
        {"curation_state__exact": DRAFT},
        {"mechanism": "angiogenesis"},
        {"diabetes_type": "T2D"},
        {"cell_source__exact": "ESC"},
    ):
        response = client.get(reverse("admin:trials_trial_changelist"), params)
        assert list(response.context["cl"].result_list) == [linked], params


def test_list_columns(client, curator):
    trial = TrialFactory(brief_title="Islet cells", phase="PHASE1_PHASE2", curation_state=REVIEW)
    RegistryIdentifierFactory(trial=trial, value="NCT04786262")
    page = signed_in(client, curator).get(reverse("admin:trials_trial_changelist")).content.decode()
    for text in ("NCT04786262", "Islet cells", "Phase 1/2", "In review", "Nov. 24, 2026", "Jan. 15, 2026"):
        assert text in page


# --- Query counts: bounded, and not growing with rows ---------------------------------------------------


def make_trials(count):
    for _ in range(count):
        trial = TrialFactory()
        RegistryIdentifierFactory(trial=trial)
        TrialMechanismFactory(trial=trial)
        trial.diabetes_types.set(["T1D"])


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("params", [{}, {"q": "study"}, {"stale": "any", "mechanism": "immune-regulation"}])
def test_trial_list_queries_do_not_grow_with_rows(client, editor, params):
    signed_in(client, editor)
    url = reverse("admin:trials_trial_changelist")
    make_trials(5)
    stored_problems.recheck_pending()  # what their commit does (trials/stored_problems.py)
    with_5 = count_queries(client, url, params)
    make_trials(45)
    stored_problems.recheck_pending()
    with_50 = count_queries(client, url, params)
    assert with_5 == with_50
    assert with_50 <= 15


def test_trial_list_with_facets_is_bounded(client, editor, django_assert_max_num_queries):
    make_trials(20)
    stored_problems.recheck_pending()  # what their commit does (trials/stored_problems.py)
    signed_in(client, editor)
    with django_assert_max_num_queries(30):
        assert client.get(reverse("admin:trials_trial_changelist"), {"_facets": "True"}).status_code == 200


def full_trial():
    trial = publishable_trial(curation_state=REVIEW)
    RegistryIdentifierFactory(trial=trial, registry="EUDRACT", value="2017-002766-50", is_primary=False)
    TrialMechanismFactory(trial=trial, mechanism=Mechanism.objects.get(slug="angiogenesis"), role="CONTRIBUTING")
    PublicationFactory(trial=trial)
    SourceFactory(trial=trial, url="https://example.org/second")
    trial.countries.set(["SE", "NO", "US"])
    trial.diabetes_types.set(["T1D"])
    trial.routes.set(["INTRAVENOUS", "PORTAL_VEIN"])
    return trial


def test_trial_pages_are_bounded(client, editor, django_assert_max_num_queries):
    trial = full_trial()
    for number in range(5):  # a history long enough to matter
        trial.brief_title = f"Title {number}"
        trial.save()
        trial.countries.set(["SE"] if number % 2 else ["NO", "US"])
    signed_in(client, editor)
    for url, limit in [
        (reverse("admin:trials_trial_add"), 15),
        (change_url(trial), 32),  # 25 before sites, outcomes and related trials (their inlines, the outcome's and
        # the status's source choices) and the integrity problems (sources, publications, outcomes read once)
        # The history: 20 before its versions (the trial's and its 7 parts' records, the m2m rows, 3 for the labels).
        (reverse("admin:trials_trial_history", args=[trial.pk]), 34),
        (reverse("admin:trials_trial_simple_history", args=[trial.pk, trial.history.last().history_id]), 25),
    ]:
        with django_assert_max_num_queries(limit):
            assert client.get(url).status_code == 200, url


def test_history_page_queries_do_not_grow_with_entries(client, editor):
    trial = full_trial()
    signed_in(client, editor)
    url = reverse("admin:trials_trial_history", args=[trial.pk])
    count_queries(client, url)  # the first request also fills the content types' cache
    before = count_queries(client, url)
    for number in range(10):
        trial.brief_title = f"Title {number}"
        trial.save()
        trial.routes.set(["INTRAVENOUS"] if number % 2 else ["DEVICE"])
        trial.identifiers.filter(is_primary=False).update(value=f"2017-00276{number}-50")
        source = trial.sources.first()
        source.used_for = f"status {number}"
        source.save()
    assert count_queries(client, url) == before


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        (RegistryIdentifier, RegistryIdentifierFactory),
        (TrialMechanism, TrialMechanismFactory),
        (Publication, PublicationFactory),
        (Source, SourceFactory),
    ],
)
def test_each_inline_model_has_bounded_pages(client, editor, django_assert_max_num_queries, model, factory):
    rows = [factory() for _ in range(5)]
    row = rows[0]
    name = model._meta.model_name
    signed_in(client, editor)
    for url in [
        reverse(f"admin:trials_{name}_changelist"),
        reverse(f"admin:trials_{name}_add"),
        reverse(f"admin:trials_{name}_change", args=[row.pk]),
        reverse(f"admin:trials_{name}_history", args=[row.pk]),
        reverse(f"admin:trials_{name}_simple_history", args=[row.pk, row.history.first().history_id]),
    ]:
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("model", "pk"),
    [(Mechanism, "angiogenesis"), (PathwayStep, "preparation"), ("country", "SE")],
)
def test_vocabulary_pages_are_bounded(client, editor, django_assert_max_num_queries, model, pk):
    signed_in(client, editor)
    if model == "country":
        app, name, object_id = "trials", "country", pk
    else:
        app, name, object_id = model._meta.app_label, model._meta.model_name, model.objects.get(slug=pk).pk
    for url in [
        reverse(f"admin:{app}_{name}_changelist"),
        reverse(f"admin:{app}_{name}_change", args=[object_id]),
        reverse(f"admin:{app}_{name}_history", args=[object_id]),
    ]:
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200, url


def test_country_autocomplete(client, curator):
    signed_in(client, curator)
    response = client.get(
        reverse("admin:autocomplete"),
        {"term": "swed", "app_label": "trials", "model_name": "trial", "field_name": "countries"},
    )
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": "SE", "text": "Sweden"}]


def test_add_page_has_checkboxes_autocomplete_and_defaults(client, curator):
    page = signed_in(client, curator).get(reverse("admin:trials_trial_add")).content.decode()
    assert 'type="checkbox" name="diabetes_types" value="T1D"' in page
    assert 'type="checkbox" name="routes" value="INTRAVENOUS"' in page
    assert "admin-autocomplete" in page
    assert '<option value="INTERVENTIONAL" selected>' in page
    for legend in ("Who and what", "Design and status", "Cells, route, immunosuppression", "Evidence", "Curation"):
        assert legend in page


# --- History ------------------------------------------------------------------------------------------


def test_history_records_who_changed_which_fields_with_old_and_new_values(client, curator):
    trial = publishable_trial(curation_state=DRAFT, phase="PHASE1", brief_title="Before")
    post_change(signed_in(client, curator), trial, phase="PHASE2", brief_title="After", countries=["SE"])
    latest = trial.history.first()
    assert latest.history_user == curator
    page = client.get(reverse("admin:trials_trial_history", args=[trial.pk])).content.decode()
    assert "Before" in page and "After" in page
    assert "Phase 1" in page and "Phase 2" in page  # labels, not codes
    assert "<strong>Countries:</strong> — &nbsp;&rarr;&nbsp;&nbsp;Sweden" in " ".join(page.split())
    assert curator.username in page
    assert " style=" not in page  # no inline styles: the page works under a strict CSP


def test_inline_changes_show_on_the_trial_history_page(client, curator):
    trial = publishable_trial(curation_state=DRAFT)
    signed_in(client, curator)
    data = form_data(client.get(change_url(trial)))
    data["mechanism_links-0-rationale"] = "A new rationale."
    data["sources-0-DELETE"] = "on"
    assert client.post(change_url(trial), data).status_code == 302
    page = client.get(reverse("admin:trials_trial_history", args=[trial.pk])).content.decode()
    assert "Changes to its identifiers, mechanism links, publications and sources" in page
    assert "<strong>Rationale:</strong> Mesenchymal stromal cells damp the autoimmune attack on beta cells." in page
    assert "A new rationale." in page
    assert "Deleted" in page
    assert "https://clinicaltrials.gov/study/NCT00000000" in page


def test_a_previous_version_can_be_restored(client, editor):
    trial = publishable_trial(curation_state=DRAFT, brief_title="Right title", enrollment=12)
    trial.countries.set(["SE"])
    signed_in(client, editor)
    post_change(client, trial, brief_title="Wrong title", enrollment="99", countries=["NO"])
    assert Trial.objects.get(pk=trial.pk).brief_title == "Wrong title"
    right = trial.history.filter(brief_title="Right title").first()
    url = reverse("admin:trials_trial_simple_history", args=[trial.pk, right.history_id])
    response = client.get(url)
    assert response.status_code == 200
    data = form_data(response)
    assert client.post(url, data).status_code == 302
    trial.refresh_from_db()
    assert (trial.brief_title, trial.enrollment) == ("Right title", 12)
    assert list(trial.countries.values_list("code", flat=True)) == ["SE"]
    assert trial.history.first().history_user == editor


def test_a_deleted_inline_row_can_be_restored_from_its_history(client, curator):
    trial = publishable_trial(curation_state=DRAFT)
    source = trial.sources.get()
    source_id = source.pk
    source.delete()
    signed_in(client, curator)
    version = Source.history.filter(id=source_id, history_type="+").first()
    url = reverse("admin:trials_source_simple_history", args=[source_id, version.history_id])
    data = form_data(client.get(url))
    assert client.post(url, data).status_code == 302
    assert trial.sources.get().pk == source_id


# --- CSV ----------------------------------------------------------------------------------------------


def test_csv_of_selected_trials_has_public_columns_and_curation_fields(client, curator):
    chosen = publishable_trial(curation_state=DRAFT, curator_notes="=check the dose", brief_title="Chosen")
    TrialFactory(brief_title="Not chosen")
    response = run_action(signed_in(client, curator), "export_csv", [chosen])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="stem-cell-diabetes-trials-curation-2026-11-24.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [column.name for column in COLUMNS] + ["curation_state", "curator_notes"]
    assert len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["brief_title"] == "Chosen"
    assert record["curation_state"] == "DRAFT"
    assert record["curator_notes"] == "'=check the dose"  # never run as a formula


def test_csv_queries_do_not_grow_with_rows(client, curator):
    signed_in(client, curator)

    def export_count(count):
        make_trials(count)
        trials = list(Trial.objects.all())
        with CaptureQueriesContext(connection) as queries:
            response = run_action(client, "export_csv", trials)
            b"".join(response.streaming_content)
        return len(queries)

    assert export_count(5) == export_count(45)


def test_the_trial_page_follows_the_curators_order(client, curator):
    page = signed_in(client, curator).get(change_url(full_trial())).content.decode()
    page = re.sub(r">\s+", ">", re.sub(r"\s+<", "<", page))
    headings = [
        "Who and what",
        "Registry identifiers (exactly one primary)",
        "Design and status",
        "Cells, route, immunosuppression",
        "Mechanisms the trial relies on (with your rationale)",
        "Evidence",
        "Publications",
        "Sources",
        "Curation",
    ]
    positions = [page.lower().index(f">{heading.lower()}<") for heading in headings]
    assert positions == sorted(positions)
    assert page.count('id="identifiers-group"') == 1


def test_other_change_forms_keep_django_s_layout(client, editor):
    mechanism = Mechanism.objects.get(slug="angiogenesis")
    page = signed_in(client, editor).get(reverse("admin:mechanisms_mechanism_change", args=[mechanism.pk]))
    assert "Explanation for readers" in page.content.decode()
