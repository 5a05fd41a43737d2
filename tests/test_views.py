"""The public pages: what they say, what they never show (drafts), bad input, and a fixed number of queries."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mechanisms.content import PATHWAY_STEPS
from mechanisms.models import Mechanism
from tests.factories import (
    PublicationFactory,
    RegistryIdentifierFactory,
    SourceFactory,
    TrialFactory,
    trial_with,
)
from trials.models import Publication, RegistryIdentifier, Source, Trial, TrialMechanism
from trials.vocabularies import CurationState, OverallStatus, Phase, Registry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

NOTICE = "Investigational therapies only."


@pytest.fixture
def published():
    return trial_with(
        brief_title="Stromal cells for new type 1 diabetes",
        identifier="NCT01234567",
        mechanisms=["immune-regulation"],
        diabetes_types=["T1D"],
        routes=["INTRAVENOUS"],
        countries=["SE"],
        phase=Phase.PHASE2,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 6, 1),
        cell_source="MSC_UC",
    )


@pytest.fixture
def hidden():
    """A draft and a trial in review, with distinctive titles."""
    return [
        trial_with(
            brief_title="Secret draft trial",
            identifier="NCT07654321",
            mechanisms=["immune-regulation"],
            countries=["SE"],
            curation_state=CurationState.DRAFT,
        ),
        trial_with(
            brief_title="Secret trial in review",
            identifier="NCT07654322",
            mechanisms=["immune-regulation"],
            curation_state=CurationState.REVIEW,
        ),
    ]


def text(response):
    """The page's text, tags removed and spaces collapsed, for assertions on what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


# --- Every page ----------------------------------------------------------------------------------

PAGES = [
    ("home", []),
    ("about", []),
    ("mechanisms:list", []),
    ("mechanisms:detail", ["immune-regulation"]),
    ("trials:list", []),
    ("trials:detail", ["NCT01234567"]),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_every_page_carries_the_notice_and_loads_nothing_from_another_site(client, published, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    html = response.content.decode()
    assert NOTICE in html
    assert 'class="skip-link" href="#main"' in html
    assert not re.search(r"<(script|img|iframe|link)\b[^>]*\b(src|href)=\"(https?:)?//", html)
    assert "<script" not in html
    assert len(re.findall(r"<h1[ >]", html)) == 1


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_headings_never_skip_a_level(client, published, name, args):
    html = client.get(reverse(name, args=args)).content.decode()
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", html)]
    assert levels[0] == 1
    assert all(later - earlier <= 1 for earlier, later in zip(levels, levels[1:], strict=False))


def test_not_found_page_in_the_sites_look(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in text(response)
    assert NOTICE in response.content.decode()


def test_server_error_page_in_the_sites_look():
    html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert NOTICE in html


# --- Home and about -----------------------------------------------------------------------------


def test_home_counts_published_trials_honestly(client, published, hidden):
    page = text(client.get(reverse("home")))
    assert "1 trial — it is not an approved treatment" in page
    assert "Immune regulation" in page and "Recruiting 1" in page
    assert "Stromal cells for new type 1 diabetes" in page
    assert "Secret" not in page


def test_home_counts_are_cached_until_the_registry_changes(client, published, hidden):
    """The page comes from the cache (trials/page_cache.py) until the registry changes. Checked on the page itself:
    a page from the cache has no template context."""

    def counts():
        html = client.get(reverse("home")).content.decode()
        total = re.search(r"<strong>(\d+) trials?</strong>", html)[1]
        link = re.search(r'mechanism=immune-regulation">(\d+) trials?<', html)[1]
        return int(total), int(link)

    assert counts() == (1, 1)
    assert counts() == (1, 1)  # from the cache
    assert client.get(reverse("home"))["X-Page-Cache"] == "hit"
    draft = hidden[0]
    draft.curation_state = CurationState.PUBLISHED  # what publishing saves
    draft.save()
    assert counts() == (2, 2)
    TrialMechanism.objects.filter(trial=draft).delete()  # a link deleted on its own (its history records it)
    assert counts() == (2, 1)


def test_home_counts_statuses_as_shown(client):
    trial_with(overall_status=OverallStatus.RECRUITING, status_confirmed_on=datetime.date(2020, 1, 1))
    trial_with(overall_status="")
    page = text(client.get(reverse("home")))
    assert "2 trials — none is an approved treatment" in page
    assert "Not confirmed for over 2 years 1" in page and "Status not recorded 1" in page
    assert "Recruiting 1" not in page


def test_home_shows_trials_recruiting_now_not_the_most_recently_reviewed(client):
    """Every record may share one review date; what helps a reader is which trials take participants now."""
    trial_with(
        brief_title="Open", overall_status=OverallStatus.RECRUITING, status_confirmed_on=datetime.date(2026, 5, 1)
    )
    trial_with(
        brief_title="Soon",
        overall_status=OverallStatus.NOT_YET_RECRUITING,
        status_confirmed_on=datetime.date(2026, 9, 1),
    )
    trial_with(
        brief_title="Stale", overall_status=OverallStatus.RECRUITING, status_confirmed_on=datetime.date(2020, 1, 1)
    )
    trial_with(brief_title="Done", overall_status=OverallStatus.COMPLETED, last_reviewed_on=datetime.date(2026, 11, 29))
    html = client.get(reverse("home")).content.decode()
    box = html[html.index('id="open-now"') :]
    shown = re.findall(r'<h3><a href="[^"]+">([^<]+)</a>', box)
    assert shown == ["Soon", "Open"]  # most recently confirmed first; the stale and the completed are not open
    assert "A listing here is not an endorsement" in text(client.get(reverse("home")))
    assert "?status=RECRUITING&amp;status=NOT_YET_RECRUITING&amp;status=ENROLLING_BY_INVITATION" in box


def test_about_cites_public_guidance_as_links(client):
    html = client.get(reverse("about")).content.decode()
    assert 'href="https://www.closerlookatstemcells.org/"' in html
    assert (
        'href="https://www.fda.gov/vaccines-blood-biologics/consumers-biologics/'
        'important-patient-and-consumer-information-about-regenerative-medicine-therapies"' in html
    )
    assert 'id="unproven-clinics"' in html
    for heading in ("What “investigational” means", "How records are curated", "How to read a phase"):
        assert heading in html


# --- Mechanisms ---------------------------------------------------------------------------------


def test_mechanism_list_counts_published_trials(client, published, hidden):
    page = text(client.get(reverse("mechanisms:list")))
    assert "Immune regulation" in page and "1 trial — none is an approved treatment" in page
    assert "Preparation" in page


def test_mechanism_page_shows_the_idea_caveats_counts_and_its_published_trials(client, published, hidden):
    trial_with(brief_title="Beta cells only", mechanisms=["beta-cell-regeneration"])
    response = client.get(reverse("mechanisms:detail", args=["immune-regulation"]))
    page = text(response)
    assert "The idea in plain words" in page and "Caveats" in page and "The treatment pathway" in page
    assert "1 trial — it is not an approved treatment" in page
    assert "Phase 2 1" in page and "Recruiting 1" in page
    assert "Stromal cells for new type 1 diabetes" in page
    assert "Mesenchymal stromal cells damp the autoimmune attack" in page  # the curator's rationale
    assert "Secret" not in page and "Beta cells only" not in page


def test_unknown_mechanism_is_not_found(client):
    assert client.get(reverse("mechanisms:detail", args=["telepathy"])).status_code == 404


# --- The trial list -------------------------------------------------------------------------------


def test_list_shows_published_trials_with_counts_next_to_options(client, published, hidden):
    response = client.get(reverse("trials:list"))
    page = text(response)
    assert "1 trial in the registry" in page and "It is not an approved treatment" in page
    assert "Stromal cells for new type 1 diabetes" in page and "Secret" not in page
    assert "Sweden 1 trial" in page  # the count next to a filter option, drafts not counted
    assert "Phase 2 1 trial" in page


def test_list_filters_and_keeps_the_form(client, published):
    trial_with(brief_title="Phase three trial", phase=Phase.PHASE3)
    response = client.get(reverse("trials:list"), {"phase": "PHASE3", "q": "three"})
    html = response.content.decode()
    assert "1 trial matches" in text(response)
    assert "Phase three trial" in html and "Stromal cells" not in html
    assert 'value="PHASE3" id="f-phase-PHASE3" checked' in html
    assert 'name="q" id="id_q" value="three"' in html


def test_search_hides_drafts(client, published, hidden):
    assert "No trials match" in text(client.get(reverse("trials:list"), {"q": "Secret"}))
    assert "No trials match" in text(client.get(reverse("trials:list"), {"q": "NCT07654321"}))


def test_empty_result_says_so_and_offers_to_clear(client, published):
    response = client.get(reverse("trials:list"), {"country": "FR"})
    assert response.status_code == 200
    page = text(response)
    assert "No trials match" in page and "Clear all filters" in page


def test_an_empty_facet_speaks_of_the_list_not_of_the_registry(client, published):
    # A search that finds nothing leaves every facet empty: that says nothing of what the registry's trials hold.
    page = text(client.get(reverse("trials:list"), {"q": "xylophone"}))
    assert "No trials match" in page
    assert "No trial in this list has a value here." in page and "No trial has a value here" not in page


@pytest.mark.parametrize(
    ("params", "named", "value"),
    [
        ({"phase": "PHASE9"}, "phase", "PHASE9"),
        ({"status": "SLEEPING"}, "status", "SLEEPING"),
        ({"mechanism": "telepathy"}, "mechanism", "telepathy"),
        ({"country": "XX"}, "country", "XX"),
        ({"started_after": "2020-13-01"}, "started_after", "2020-13-01"),
        ({"started_before": "soon"}, "started_before", "soon"),
        ({"sort": "random"}, "sort", "random"),
        ({"page": "abc"}, "page", "abc"),
        ({"page": "0"}, "page", "0"),
        ({"page_size": "100000"}, "page_size", "100000"),
        ({"page_size": "1"}, "page_size", "1"),
    ],
)
def test_bad_input_is_a_400_naming_the_value_and_keeping_the_form(client, published, params, named, value):
    response = client.get(reverse("trials:list"), {"q": "stromal", **params})
    assert response.status_code == 400
    page = text(response)
    assert "were not understood" in page
    assert f"({named}) = “{value}”" in page
    assert "Stromal cells for new type 1 diabetes" not in page  # never a (silently wider) list
    assert 'name="q" id="id_q" value="stromal"' in response.content.decode()


def test_a_400_keeps_what_was_understood_and_says_what_was_not_before_the_form(client, published):
    response = client.get(reverse("trials:list"), {"phase": "PHASE9", "sort": "title", "page_size": "50"})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<option value="title" selected>' in html and '<option value="50" selected>' in html
    assert html.index("were not understood") < html.index('id="filters-heading"')  # read first on a phone


def test_a_page_past_the_end_shows_the_last_page(client):
    for number in range(12):
        TrialFactory(brief_title=f"Trial {number:02d}")
    response = client.get(reverse("trials:list"), {"page": "99", "page_size": "10", "sort": "title"})
    assert response.status_code == 200
    page = text(response)
    assert "Showing 11–12" in page and "Trial 11" in page and "Trial 00" not in page


def test_pagination_links_keep_the_filters(client):
    for _ in range(12):
        trial_with(phase=Phase.PHASE1, countries=["SE"])
    html = client.get(reverse("trials:list"), {"phase": "PHASE1", "country": "SE", "page_size": "10"}).content.decode()
    assert 'href="?phase=PHASE1&amp;country=SE&amp;page_size=10&amp;page=2"' in html


# --- A trial's page -------------------------------------------------------------------------------


def test_trial_page_shows_everything_public_in_plain_words(client, published):
    PublicationFactory(trial=published, doi="10.1056/NEJMoa2506549", pmid="40544428")
    SourceFactory(trial=published, url="https://clinicaltrials.gov/study/NCT01234567", used_for="status")
    RegistryIdentifierFactory(trial=published, registry=Registry.EUDRACT, value="2017-002766-50", is_primary=False)
    response = client.get(published.get_absolute_url())
    html, page = response.content.decode(), text(response)
    assert "Recruiting" in page and "The trial is taking participants now." in page
    assert "Status last confirmed on 1 June 2026" in page and "Record last reviewed on 24 November 2026" in page
    assert "May be out of date" not in page
    assert "This therapy is investigational" in page
    # The source document's three steps, as on /mechanisms/ (mechanisms/content.py names them).
    steps = [step["name"] for step in PATHWAY_STEPS]
    assert [name for name in re.findall(r"<h3>([^<]+)</h3>", html) if name in steps] == steps
    assert 'href="/trials/?route=INTRAVENOUS"' in html  # each step's values lead to the trials that share them
    assert "Mesenchymal stromal cells: umbilical cord" in page and "Intravenous infusion" in page
    assert "Mesenchymal stromal cells damp the autoimmune attack" in page
    assert 'href="https://clinicaltrials.gov/study/NCT01234567"' in html
    assert 'href="https://www.clinicaltrialsregister.eu/ctr-search/search?query=2017-002766-50"' in html
    assert 'href="https://doi.org/10.1056/NEJMoa2506549"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/40544428/"' in html
    assert "Follow-up Not recorded" in page and "Gene-edited Unknown" in page


def test_stale_status_is_shown_as_unknown_with_its_date(client):
    trial = trial_with(
        identifier="NCT05555555",
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2021, 3, 5),
        last_reviewed_on=datetime.date(2024, 1, 1),
    )
    page = text(client.get(trial.get_absolute_url()))
    assert "Not confirmed for over 2 years (last confirmed on 5 March 2021)" in page
    assert "May be out of date" in page


def test_trial_with_nothing_recorded_says_so(client):
    trial = trial_with(identifier=False, slug="vctx-test", overall_status="", phase="", status_confirmed_on=None)
    response = client.get(reverse("trials:detail", args=["vctx-test"]))
    page = text(response)
    assert "No registry identifier found" in page
    assert "No record of what was searched has been written yet." in page
    assert "Status not recorded" in page and "Phase not recorded" in page
    assert "Status never confirmed by a source" in page
    assert trial.get_absolute_url() == "/trials/vctx-test/"


def test_completed_trial_without_results_says_so(client):
    trial = trial_with(identifier="NCT04444444", overall_status=OverallStatus.COMPLETED, key_results="")
    page = text(client.get(trial.get_absolute_url()))
    assert "This trial is completed, but no results have been reported." in page
    list_page = text(client.get(reverse("trials:list")))
    assert "results" not in list_page.lower()  # the card cannot see publications: it says nothing it cannot check


def test_drafts_and_trials_in_review_are_not_found(client, hidden):
    for trial in hidden:
        key = trial.identifiers.get().value
        assert client.get(reverse("trials:detail", args=[key])).status_code == 404
        assert client.get(reverse("trials:detail", args=[trial.slug])).status_code == 404


def test_another_identifier_of_a_trial_redirects_to_its_address(client, published, hidden):
    RegistryIdentifierFactory(trial=published, registry=Registry.EUDRACT, value="2017-002766-50", is_primary=False)
    response = client.get(reverse("trials:detail", args=["2017-002766-50"]))
    assert response.status_code == 301 and response["Location"] == "/trials/NCT01234567/"
    assert client.get("/trials/nct01234567/")["Location"] == "/trials/NCT01234567/"
    assert client.get("/trials/nct07654321/").status_code == 404  # a draft's identifier


# --- Queries: fixed, whatever the data size or the page size ----------------------------------------


def make_trials(count):
    """`count` published trials with every relation filled, and a draft; in bulk (a few queries), as only their
    number matters here."""
    first = Trial.objects.count()
    trials = Trial.objects.bulk_create(
        Trial(
            slug=f"bulk-{first + n}",
            brief_title=f"Bulk trial {first + n}",
            phase=Phase.PHASE1 if n % 2 else Phase.PHASE2,
            overall_status=OverallStatus.COMPLETED,
            status_confirmed_on=datetime.date(2026, 1, 1),
            status_confirmed_on_precision="DAY",
            last_reviewed_on=datetime.date(2026, 11, 1),
            curation_state=CurationState.PUBLISHED,
        )
        for n in range(count)
    )
    mechanisms = list(Mechanism.objects.filter(slug__in=["immune-regulation", "beta-cell-regeneration"]))
    RegistryIdentifier.objects.bulk_create(
        RegistryIdentifier(trial=t, registry=Registry.CTGOV, value=f"NCT{80000000 + t.pk:08d}", is_primary=True)
        for t in trials
    )
    TrialMechanism.objects.bulk_create(
        TrialMechanism(trial=t, mechanism=m, rationale="A reason.") for t in trials for m in mechanisms
    )
    for relation, codes in (("diabetes_types", ["T1D", "T2D"]), ("routes", ["INTRAVENOUS", "PORTAL_VEIN"])):
        through = getattr(Trial, relation).through
        column = through._meta.get_fields()[-1].attname
        through.objects.bulk_create(through(trial=t, **{column: code}) for t in trials for code in codes)
    Trial.countries.through.objects.bulk_create(
        Trial.countries.through(trial=t, country_id=code) for t in trials for code in ("SE", "US")
    )
    Publication.objects.bulk_create(Publication(trial=t, citation="A paper", pmid="123") for t in trials)
    Source.objects.bulk_create(Source(trial=t, url="https://example.org/", used_for="all") for t in trials)
    trial_with(brief_title="Draft", curation_state=CurationState.DRAFT, mechanisms=["immune-regulation"])


def count_queries(client, url, params=None):
    """The queries of one request, counted cold: nothing cached from an earlier request."""
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


LIST_QUERIES = {
    # params: the most queries allowed when nothing is cached, then when the counts are. Nothing cached: the data
    # version, the page's ids (none in the default order narrowed by facets alone: trials/facets.py listed_ids), its
    # rows and their cards' 4 relations (trials/cards.py card_rows), the facet index's 10 (trials/facet_index.py,
    # counted on write), validating a mechanism and a country, and the trials the search keeps; with the counts
    # cached, the index's and the search's are not run.
    "": (16, 6),
    "mechanism=immune-regulation&country=SE&phase=PHASE1&status=COMPLETED&q=stromal": (20, 9),
}


@pytest.mark.parametrize("size", [5, 200])
@pytest.mark.parametrize("query", list(LIST_QUERIES))
def test_list_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries, size, query):
    make_trials(size)
    url = reverse("trials:list") + "?" + query
    counts = {page_size: count_queries(client, url, {"page_size": page_size}) for page_size in (10, 100)}
    assert counts[10] == counts[100]
    cold, counted = LIST_QUERIES[query]
    cache.clear()
    with django_assert_max_num_queries(cold):
        client.get(url, {"page_size": 100})
    with django_assert_max_num_queries(counted):
        client.get(url, {"page_size": 100})  # the counts are cached now


# The most queries allowed when nothing is cached, and when the counts are: the home page's and a mechanism's
# counts are cached like the list's (the data version, then 3 and 2 counts when not cached); their charts are
# counted from the facet index (10 queries when not cached: trials/facet_index.py, trials/chart_counts.py), and a
# mechanism's first trials are the first of its set in the index's order (no query for their ids).
# Each with the data version, read once by the public pages' cache (and reused for the counts).
# A trial's page: the version, the trial, its 10 relations, the pathway steps (+1 for its programme's trials, when it
# names one: tests/test_trial_page.py).
# The pathway's counts (trials/pathway.py): 5 more when not cached, on /mechanisms/ and on a mechanism's page.
PAGE_QUERIES = {"home": 15, "mechanisms:list": 9, "mechanisms:detail": 26, "trials:detail": 13}
CACHED_PAGE_QUERIES = {"home": 6, "mechanisms:detail": 9}


@pytest.mark.parametrize("name", list(PAGE_QUERIES))
def test_pages_run_a_fixed_number_of_queries(client, django_assert_max_num_queries, name):
    def url():
        args = {"mechanisms:detail": ["immune-regulation"]}.get(name, [])
        if name == "trials:detail":
            args = [Trial.objects.published().with_primary_identifier().first().public_key]
        return reverse(name, args=args)

    make_trials(5)
    few = count_queries(client, url())
    make_trials(195)
    many = count_queries(client, url())
    assert few == many
    address = url()
    cache.clear()
    with django_assert_max_num_queries(PAGE_QUERIES[name]):
        client.get(address)
    with django_assert_max_num_queries(CACHED_PAGE_QUERIES.get(name, PAGE_QUERIES[name])):
        client.get(address)


# --- The cards of the lists (trials/cards.py) --------------------------------------------------------


def card_facts(html, title):
    """{term: what it says} of the card of the trial titled `title` on a page."""
    card = next(card for card in re.findall(r'<article class="trial-card">.*?</article>', html, re.S) if title in card)
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", card, re.S))
    facts["rationales"] = re.findall(r'<p class="rationale">(.*?)</p>', card, re.S)
    return facts


def test_a_card_shows_each_relation_in_the_trial_page_s_order_or_says_it_is_not_recorded(client):
    status = {"overall_status": OverallStatus.RECRUITING, "status_confirmed_on": datetime.date(2026, 6, 1)}
    trial_with(
        brief_title="Many parts",
        mechanisms=["angiogenesis", "beta-cell-regeneration"],
        diabetes_types=["LADA", "T1D"],
        routes=["INTRAPANCREATIC", "INTRAVENOUS"],
        countries=["US", "CH", "DE"],
        **status,
    )
    trial_with(brief_title="No parts", **status)
    trial_with(brief_title="Another's parts", mechanisms=["immune-regulation"], countries=["FR"], **status)
    expected = {
        "Mechanisms": "Beta-cell regeneration and replacement; Angiogenesis (new blood vessels)",
        "Diabetes": "Type 1 diabetes; LADA (latent autoimmune diabetes in adults)",
        "Route": "Intravenous infusion; Direct injection into the pancreas",
        "Countries": "Germany, Switzerland, United States",  # by name, not by code
    }
    for url in (reverse("trials:list"), reverse("trials:list") + "?sort=title", reverse("home")):
        html = client.get(url).content.decode()
        many, none = card_facts(html, "Many parts"), card_facts(html, "No parts")
        assert {term: many[term] for term in expected} == expected, url
        assert {term: none[term] for term in expected} == dict.fromkeys(expected, "Not recorded"), url
    # A mechanism's page names no mechanism on its cards, and says why each trial tests that one.
    html = client.get(reverse("mechanisms:detail", args=["angiogenesis"])).content.decode()
    many = card_facts(html, "Many parts")
    assert "Mechanisms" not in many and many["Countries"] == expected["Countries"]
    assert len(many["rationales"]) == 1 and "(primary mechanism)" in many["rationales"][0]
    assert "Another's parts" not in html


def test_a_card_escapes_what_its_relations_say(client):
    trial = trial_with(brief_title="Escaped", mechanisms=["immune-regulation"], overall_status=OverallStatus.RECRUITING)
    Mechanism.objects.filter(slug="immune-regulation").update(name="Immune <b>regulation</b> & more")
    html = client.get(reverse("trials:list")).content.decode()
    assert card_facts(html, trial.brief_title)["Mechanisms"] == "Immune &lt;b&gt;regulation&lt;/b&gt; &amp; more"
