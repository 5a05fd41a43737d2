"""A trial's public page tells where each fact comes from and how good it is, and never contradicts itself
(trials/trial_page.py, templates/trials/trial_detail.html)."""

import datetime
import html as html_module
import re

import pytest

from tests.factories import PublicationFactory, RegistryIdentifierFactory, SourceFactory, TrialFactory, trial_with
from trials.models import Outcome, Site, Source, TrialRelation
from trials.vocabularies import CurationState, OverallStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def text(response):
    assert response.status_code == 200
    return html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


def section(response, heading_id):
    """The text of the page's section whose heading has this id."""
    html = response.content.decode()
    start = html.index(f'id="{heading_id}"')
    end = html.find("<section", start)
    return html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", html[start : end if end > 0 else None]).split()))


def test_sources_are_grouped_by_kind_strongest_first_with_their_dates_and_what_they_support(client):
    trial = trial_with(identifier="NCT05555555")
    trial.sources.all().delete()
    news = Source.objects.create(
        trial=trial,
        url="https://news.example/a",
        title="A news story",
        kind="NEWS",
        source_date=datetime.date(2024, 5, 1),
        date_precision="MONTH",
        used_for="the dose",
    )
    copy = Source.objects.create(
        trial=trial,
        url="https://copy.example/b",
        title="A copy",
        kind="REGISTRY_COPY",
        source_date=datetime.date(2026, 9, 2),
        date_precision="DAY",
        used_for="status, enrollment",
    )
    Source.objects.create(
        trial=trial,
        url="https://sponsor.example/c",
        title="Press release",
        kind="SPONSOR",
        date_notes="2023 (no day given)",
        used_for="the product",
    )
    Source.objects.create(trial=trial, url="https://blog.example/d", kind="", used_for="background")
    trial.status_source = copy
    trial.save()
    response = client.get(trial.get_absolute_url())
    sources = section(response, "sources-heading")
    order = [
        sources.index(label)
        for label in (
            "Copy of a registry record",
            "Sponsor or institution",
            "News or trade press",
            "Not yet classified",
        )
    ]
    assert order == sorted(order)
    assert "A copy , GitHub" not in sources  # no publisher invented
    assert "Dated 2 September 2026. The source of the status above. Supports: status, enrollment" in sources
    assert "Dated May 2024. Supports: the dose" in sources  # a month, not "1 May 2024"
    assert "2023 (no day given). Supports: the product" in sources
    assert "never the only support of a fact here" in sources
    status = section(response, "status-heading")
    assert "Status from: A copy (2 September 2026)." in status
    assert news.url in response.content.decode()


def test_where_it_runs_lists_sites_by_country_and_how_to_take_part_links_the_registry(client):
    trial = trial_with(
        identifier="NCT06666666",
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 9, 1),
        countries=["SE", "CA"],
    )
    Site.objects.create(trial=trial, facility="Uppsala University Hospital", city="Uppsala", country_id="SE")
    Site.objects.create(trial=trial, facility="Toronto General Hospital", city="Toronto", country_id="CA")
    response = client.get(trial.get_absolute_url())
    sites = section(response, "sites-heading")
    assert sites.index("Canada") < sites.index("Toronto General Hospital, Toronto") < sites.index("Sweden")
    assert "Uppsala University Hospital, Uppsala" in sites
    take_part = section(response, "take-part-heading")
    assert "NCT06666666 on ClinicalTrials.gov" in take_part
    assert 'href="https://clinicaltrials.gov/study/NCT06666666"' in response.content.decode()
    assert "A listing here is not an endorsement" in take_part


@pytest.mark.parametrize(
    ("status", "confirmed", "said"),
    [
        (OverallStatus.RECRUITING, datetime.date(2020, 1, 1), "has not been confirmed for over two years"),
        (OverallStatus.COMPLETED, datetime.date(2025, 1, 1), "This trial is not taking participants (completed)."),
        ("", None, "whether it takes participants is not known"),
    ],
)
def test_how_to_take_part_never_invites_to_a_trial_not_open(client, status, confirmed, said):
    trial = trial_with(overall_status=status, status_confirmed_on=confirmed)
    take_part = section(client.get(trial.get_absolute_url()), "take-part-heading")
    assert said in take_part
    assert "whom to contact" not in take_part
    assert "A listing here is not an endorsement" in take_part


def test_a_trial_with_no_site_says_so_and_names_its_countries(client):
    trial = trial_with(countries=["JP"])
    assert "No site is recorded; the sources name Japan." in section(
        client.get(trial.get_absolute_url()), "sites-heading"
    )


def test_published_outcomes_show_as_a_table_with_the_publication_that_reports_them(client):
    trial = trial_with(overall_status=OverallStatus.COMPLETED, key_results="10 of 12 off insulin.")
    paper = PublicationFactory(trial=trial, journal="N Engl J Med", year=2025, doi="10.1056/x", kind="RESULTS")
    Outcome.objects.create(
        trial=trial,
        measure="INSULIN_INDEPENDENCE",
        result="10 of 12 insulin-independent",
        n=12,
        timepoint="day 365",
        publication=paper,
    )
    response = client.get(trial.get_absolute_url())
    results = section(response, "results-heading")
    assert "10 of 12 off insulin." in results
    assert "Insulin independence 10 of 12 insulin-independent 12 day 365 N Engl J Med 2025" in results
    assert "no results" not in results.lower()
    assert '<a href="https://doi.org/10.1056/x">N Engl J Med 2025</a>' in response.content.decode()


def test_a_results_paper_without_a_summary_never_reads_as_no_results(client):
    trial = trial_with(overall_status=OverallStatus.COMPLETED, key_results="")
    PublicationFactory(trial=trial, kind="RESULTS")
    page = text(client.get(trial.get_absolute_url()))
    assert "no results have been reported" not in page.lower()
    assert "Results are reported in the publication listed below" in page


def test_the_programmes_trials_show_in_the_order_they_started_drafts_left_out(client):
    programme = "ViaCyte encapsulated islet programme"

    def member(title, start, **fields):
        return trial_with(
            brief_title=title, programme=programme, start_date=start, start_date_precision="MONTH", **fields
        )

    vc02 = member("VC-02", datetime.date(2017, 7, 1))
    member("VC-01", datetime.date(2014, 9, 1))
    member("VCTX210", datetime.date(2021, 12, 1))
    member("Draft sequel", datetime.date(2023, 1, 1), curation_state=CurationState.DRAFT)
    page = section(client.get(vc02.get_absolute_url()), "programme-heading")
    assert re.search(r"VC-01 .*started september 2014.* VC-02 \(this trial\).* VCTX210", page), page
    assert "Draft sequel" not in page


def test_related_trials_outside_the_programme_are_listed_with_their_relation(client):
    first = trial_with(brief_title="The first study")
    follow_up = trial_with(brief_title="The long-term follow-up")
    draft = trial_with(brief_title="An unpublished sequel", curation_state=CurationState.DRAFT)
    TrialRelation.objects.create(trial=first, related=follow_up, relation="FOLLOW_UP")
    TrialRelation.objects.create(trial=first, related=draft, relation="SUCCESSOR")
    page = section(client.get(first.get_absolute_url()), "programme-heading")
    assert "Follow-up study: The long-term follow-up" in page
    assert "unpublished" not in page


def test_caveats_and_why_stopped_are_shown_curator_notes_never(client):
    trial = trial_with(
        overall_status=OverallStatus.TERMINATED,
        why_stopped="Changed regulations of culture procedure",
        public_caveats="The registry's enrollment differs from the paper's.",
        curator_notes="registry figure not seen; weak secondary",
    )
    page = text(client.get(trial.get_absolute_url()))
    assert "Why it stopped: Changed regulations of culture procedure" in page
    assert "What to bear in mind The registry's enrollment differs from the paper's." in page
    assert "registry figure not seen" not in page and "weak secondary" not in page


def test_no_identifier_says_what_was_searched(client):
    trial = trial_with(identifier=False, slug="sr-02", registry_search_note="Searched ClinicalTrials.gov and ICTRP.")
    page = section(client.get(trial.get_absolute_url()), "registries-heading")
    assert "No registry identifier found." in page
    assert "Searched ClinicalTrials.gov and ICTRP." in page


def test_readers_see_the_contradictions_that_change_what_to_believe(client):
    trial = trial_with(
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 6, 1),
        completion_date=datetime.date(2026, 3, 1),
        completion_date_precision="MONTH",
    )
    status = section(client.get(trial.get_absolute_url()), "status-heading")
    assert "Note: The registry still says recruiting, but its completion date, March 2026, has passed." in status


def test_no_status_beside_a_registry_record_is_not_called_unsourced(client):
    trial = trial_with(overall_status="", status_confirmed_on=None)
    SourceFactory(trial=trial, kind="REGISTRY")
    page = text(client.get(trial.get_absolute_url()))
    assert "No source gave" not in page
    assert "No dated status was found in the sources read." in page


def test_a_status_confirmed_to_the_month_is_shown_to_the_month(client):
    trial = TrialFactory(
        overall_status=OverallStatus.COMPLETED,
        status_confirmed_on=datetime.date(2023, 11, 1),
        status_confirmed_on_precision="MONTH",
    )
    SourceFactory(trial=trial)
    page = text(client.get(trial.get_absolute_url()))
    assert "Status last confirmed in November 2023" in page
    assert "1 November 2023" not in page


def test_the_page_with_a_programme_runs_a_fixed_number_of_queries(client, django_assert_num_queries):
    from django.core.cache import cache

    first = trial_with(programme="P", start_date=datetime.date(2020, 1, 1), start_date_precision="DAY")
    for n in range(5):
        trial_with(programme="P", brief_title=f"Member {n}")
    address = first.get_absolute_url()
    cache.clear()
    with django_assert_num_queries(14):  # tests/test_views.py's 13, and the programme's trials
        client.get(address)


# --- Addresses never break ---------------------------------------------------------------------------


def test_a_former_slug_redirects_permanently_to_the_trials_address(client):
    trial = trial_with(identifier=False, slug="sr-02-old")
    trial.slug = "seraxis-sr02"
    trial.save()
    response = client.get("/trials/sr-02-old/")
    assert (response.status_code, response["Location"]) == (301, "/trials/seraxis-sr02/")


def test_a_corrected_or_removed_identifier_redirects_permanently(client):
    trial = trial_with(identifier="NCT04786226")
    identifier = trial.identifiers.get()
    identifier.value = "NCT04786262"  # a typing error, corrected
    identifier.save()
    response = client.get("/trials/NCT04786226/")
    assert (response.status_code, response["Location"]) == (301, "/trials/NCT04786262/")
    other = RegistryIdentifierFactory(trial=trial, value="NCT01111111", is_primary=False)
    assert client.get("/trials/nct01111111/")["Location"] == "/trials/NCT04786262/"  # another of its identifiers
    other.delete()
    assert client.get("/trials/NCT01111111/")["Location"] == "/trials/NCT04786262/"  # and once removed


def test_a_former_address_of_an_unpublished_trial_is_not_found(client):
    trial = trial_with(identifier=False, slug="old-draft", curation_state=CurationState.DRAFT)
    trial.slug = "new-draft"
    trial.save()
    assert client.get("/trials/old-draft/").status_code == 404
    assert client.get("/trials/never-was/").status_code == 404
