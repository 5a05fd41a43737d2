"""The public list's filters (trials/filters.py): every parameter alone and combined, search, sorting, bad input."""

import datetime

import pytest
from django.http import QueryDict

from tests.factories import TrialFactory, trial_with
from trials.facets import facet_counts
from trials.filters import filtered_trials
from trials.vocabularies import CurationState, OverallStatus, Phase

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def titles(query, **kwargs):
    filterset, trials = filtered_trials(QueryDict(query), **kwargs)
    assert filterset.is_valid(), filterset.errors
    return [trial.brief_title for trial in trials]


def errors(query):
    filterset, trials = filtered_trials(QueryDict(query))
    assert trials is None
    return filterset.errors


@pytest.fixture
def registry():
    """Four published trials that differ in every filtered field, and a draft and a trial in review."""
    trial_with(
        brief_title="Alpha",
        identifier="NCT00000001",
        mechanisms=["immune-regulation"],
        diabetes_types=["T1D"],
        routes=["INTRAVENOUS"],
        countries=["SE"],
        phase=Phase.PHASE1,
        overall_status=OverallStatus.COMPLETED,
        cell_source="MSC_UC",
        sponsor_class="OTHER",
        immunosuppression="NONE",
        start_date=datetime.date(2015, 3, 1),
        start_date_precision="MONTH",
        last_reviewed_on=datetime.date(2026, 1, 1),
    )
    trial_with(
        brief_title="Bravo",
        identifier="NCT00000002",
        mechanisms=["beta-cell-regeneration"],
        diabetes_types=["T1D"],
        routes=["PORTAL_VEIN"],
        countries=["US", "CA"],
        phase=Phase.PHASE3,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 4, 20),
        cell_source="PSC",
        sponsor_class="INDUSTRY",
        immunosuppression="CHRONIC",
        start_date=datetime.date(2021, 3, 29),
        start_date_precision="DAY",
        last_reviewed_on=datetime.date(2026, 11, 1),
    )
    trial_with(
        brief_title="Charlie",
        identifier="NCT00000003",
        mechanisms=["immune-regulation", "trophic-support"],
        diabetes_types=["T2D"],
        routes=["PANCREATIC_ARTERY", "INTRAVENOUS"],
        countries=["CN"],
        phase=Phase.PHASE1_PHASE2,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2020, 5, 1),  # stale: shown as unknown
        cell_source="MSC_BM",
        sponsor_class="OTHER",
        immunosuppression="UNKNOWN",
        start_date=datetime.date(2019, 1, 1),
        start_date_precision="YEAR",
        last_reviewed_on=datetime.date(2025, 6, 1),
    )
    trial_with(
        brief_title="Delta",
        identifier=False,
        phase="",
        overall_status="",
        status_confirmed_on=None,
        last_reviewed_on=None,
        sponsor="Cells Inc",
        product_name="Zeta-cells",
        summary="Encapsulated islet-like cells under the skin.",
    )
    trial_with(
        brief_title="Echo draft",
        mechanisms=["immune-regulation"],
        countries=["SE"],
        phase=Phase.PHASE1,
        curation_state=CurationState.DRAFT,
    )
    trial_with(
        brief_title="Foxtrot in review",
        mechanisms=["immune-regulation"],
        phase=Phase.PHASE1,
        curation_state=CurationState.REVIEW,
    )


def test_no_filters_lists_every_published_trial_open_ones_first(registry):
    assert titles("") == ["Bravo", "Alpha", "Charlie", "Delta"]
    assert titles("sort=-reviewed") == ["Bravo", "Alpha", "Charlie", "Delta"]


@pytest.mark.django_db
def test_the_default_order_puts_open_then_active_trials_first_whatever_the_review_dates():
    """Every record may share one review date: the default order says something a reader can use instead."""
    same_review = datetime.date(2026, 11, 1)

    def trial(title, status, confirmed):
        trial_with(
            brief_title=title, overall_status=status, status_confirmed_on=confirmed, last_reviewed_on=same_review
        )

    trial("Completed lately", OverallStatus.COMPLETED, datetime.date(2026, 10, 1))
    trial("Active", OverallStatus.ACTIVE_NOT_RECRUITING, datetime.date(2026, 3, 1))
    trial("Recruiting, confirmed long ago", OverallStatus.RECRUITING, datetime.date(2020, 1, 1))  # shown as unknown
    trial("Recruiting", OverallStatus.RECRUITING, datetime.date(2025, 6, 1))
    trial("Not yet recruiting", OverallStatus.NOT_YET_RECRUITING, datetime.date(2026, 9, 1))
    trial("No status", "", None)
    assert titles("") == [
        "Not yet recruiting",
        "Recruiting",
        "Active",
        "Completed lately",
        "Recruiting, confirmed long ago",
        "No status",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mechanism=immune-regulation", ["Alpha", "Charlie"]),
        ("mechanism=trophic-support", ["Charlie"]),
        ("phase=PHASE1", ["Alpha"]),
        ("phase=PHASE1_PHASE2", ["Charlie"]),
        ("diabetes_type=T1D", ["Bravo", "Alpha"]),
        ("diabetes_type=t2d", ["Charlie"]),
        ("cell_source=MSC_UC", ["Alpha"]),
        ("route=INTRAVENOUS", ["Alpha", "Charlie"]),
        ("route=PORTAL_VEIN", ["Bravo"]),
        ("country=SE", ["Alpha"]),
        ("country=ca", ["Bravo"]),
        ("sponsor_class=INDUSTRY", ["Bravo"]),
        ("immunosuppression=NONE", ["Alpha"]),
        ("immunosuppression=UNKNOWN", ["Charlie", "Delta"]),
        ("started_after=2019-01-01", ["Bravo", "Charlie"]),
        ("started_before=2019-01-01", ["Alpha", "Charlie"]),
        ("started_after=2016-01-01&started_before=2020-12-31", ["Charlie"]),
    ],
)
def test_each_filter_alone(registry, query, expected):
    assert titles(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=COMPLETED", ["Alpha"]),
        # a recruiting status not confirmed for over two years is shown, and filtered, as unknown
        ("status=RECRUITING", ["Bravo"]),
        ("status=STALE", ["Charlie"]),
        ("status=UNKNOWN", []),  # the registry's own "Unknown status" is another value
        ("status=NOT_RECORDED", ["Delta"]),
        ("status=not_recorded", ["Delta"]),
        ("status=TERMINATED", []),
    ],
)
def test_status_filters_on_the_status_as_shown(registry, query, expected):
    assert titles(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("phase=PHASE1&phase=PHASE3", ["Bravo", "Alpha"]),
        ("mechanism=trophic-support&mechanism=beta-cell-regeneration", ["Bravo", "Charlie"]),
        ("country=SE&country=CN", ["Alpha", "Charlie"]),
        ("status=STALE&status=NOT_RECORDED", ["Charlie", "Delta"]),
        ("route=PORTAL_VEIN&route=PANCREATIC_ARTERY", ["Bravo", "Charlie"]),
        ("diabetes_type=T1D&diabetes_type=T2D", ["Bravo", "Alpha", "Charlie"]),
    ],
)
def test_values_of_one_parameter_combine_with_or(registry, query, expected):
    assert titles(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mechanism=immune-regulation&route=INTRAVENOUS", ["Alpha", "Charlie"]),
        ("mechanism=immune-regulation&country=CN", ["Charlie"]),
        ("mechanism=immune-regulation&phase=PHASE3", []),
        ("diabetes_type=T1D&status=RECRUITING&sponsor_class=INDUSTRY", ["Bravo"]),
        ("route=INTRAVENOUS&started_before=2016-01-01&immunosuppression=NONE", ["Alpha"]),
        ("phase=PHASE1&phase=PHASE1_PHASE2&country=SE&country=US", ["Alpha"]),
        ("cell_source=MSC_UC&cell_source=MSC_BM&diabetes_type=T2D", ["Charlie"]),
    ],
)
def test_different_parameters_combine_with_and(registry, query, expected):
    assert titles(query) == expected


def test_drafts_and_trials_in_review_never_match(registry):
    assert titles("q=Echo") == []
    assert titles("q=Foxtrot") == []
    assert titles("country=SE") == ["Alpha"]
    assert titles("phase=PHASE1") == ["Alpha"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=alpha", ["Alpha"]),
        ("q=cells inc", ["Delta"]),  # sponsor; every word must match
        ("q=zeta-cells", ["Delta"]),  # product
        ("q=islet skin", ["Delta"]),  # summary
        ("q=NCT00000002", ["Bravo"]),  # identifier
        ("q=nct0000000", ["Bravo", "Alpha", "Charlie"]),  # part of identifiers
        ("q=alpha bravo", []),
        ("q=echo draft", []),
    ],
)
def test_search_on_every_database(registry, query, expected):
    assert titles(query + "&sort=-reviewed") == expected


def test_search_ranks_an_exact_identifier_first(registry):
    TrialFactory(brief_title="A trial citing NCT00000003 in its title", last_reviewed_on=datetime.date(2026, 11, 20))
    assert titles("q=NCT00000003")[0] == "Charlie"


def test_full_text_search_stems_words_and_ranks_titles_first(registry):
    TrialFactory(brief_title="Islets in a pouch", summary="Nothing about transplants.")
    TrialFactory(brief_title="Something else", summary="Transplanted islet cells.")
    assert set(titles("q=transplanted")) == {"Something else", "Islets in a pouch"}  # transplants, transplanted
    assert titles("q=islet")[0] == "Islets in a pouch"  # title weighs more than summary; "islets" stems to islet
    assert set(titles("q=islet")) == {"Islets in a pouch", "Something else", "Delta"}


def test_equal_ranks_follow_the_review_date_and_identifier_only_matches_come_after_text_matches(registry):
    """Trials whose text matches alike share a rank: the list's tie-breakers order them (last reviewed first). A trial
    found only by part of an identifier comes after every trial whose text matches, however recently reviewed."""
    for slug, month in [("first", 1), ("second", 6), ("third", 3)]:
        TrialFactory(
            slug=slug, brief_title="Zanzibar", summary="Cells.", last_reviewed_on=datetime.date(2026, month, 5)
        )
    trial_with(slug="by-identifier", identifier="NCT77770001", last_reviewed_on=datetime.date(2026, 11, 20))
    TrialFactory(slug="by-text", summary="Follows NCT7777.", last_reviewed_on=datetime.date(2026, 1, 1))

    def slugs(query):
        return list(filtered_trials(QueryDict(query))[1].values_list("slug", flat=True))

    assert slugs("q=zanzibar") == ["second", "third", "first"]
    assert slugs("q=NCT7777") == ["by-text", "by-identifier"]


def test_quoted_phrases_exclusions_and_or(registry):
    assert titles('q="cells inc"') == ["Delta"]
    assert "Delta" in titles("q=cells") and "Delta" not in titles("q=cells -zeta")
    assert set(titles("q=alpha or bravo")) == {"Alpha", "Bravo"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-reviewed", ["Bravo", "Alpha", "Charlie", "Delta"]),
        ("reviewed", ["Charlie", "Alpha", "Bravo", "Delta"]),
        ("-start", ["Bravo", "Charlie", "Alpha", "Delta"]),
        ("start", ["Alpha", "Charlie", "Bravo", "Delta"]),
        ("phase", ["Alpha", "Charlie", "Bravo", "Delta"]),
        ("-phase", ["Bravo", "Charlie", "Alpha", "Delta"]),
        ("status", ["Bravo", "Alpha", "Charlie", "Delta"]),
        ("title", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("-title", ["Delta", "Charlie", "Bravo", "Alpha"]),
    ],
)
def test_sorts_put_unknown_values_last(registry, sort, expected):
    assert titles(f"sort={sort}") == expected


def test_ties_are_broken_by_primary_key_so_pages_are_stable():
    made = [TrialFactory(brief_title="Same", last_reviewed_on=datetime.date(2026, 1, 1)) for _ in range(5)]
    for sort in ("-reviewed", "title", "status", "phase", "start"):
        _, trials = filtered_trials(QueryDict(f"sort={sort}"))
        assert [t.pk for t in trials] == [t.pk for t in made]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("phase=PHASE9", "phase", "“PHASE9” is not a phase"),
        ("status=RECRUITING&status=SLEEPING", "status", "“SLEEPING”"),
        ("mechanism=telepathy", "mechanism", "“telepathy” is not a mechanism"),
        ("country=XX", "country", "“XX”"),
        ("diabetes_type=T3D", "diabetes_type", "“T3D”"),
        ("cell_source=UNICORN", "cell_source", "“UNICORN”"),
        ("route=ORAL", "route", "“ORAL”"),
        ("sponsor_class=PIRATE", "sponsor_class", "“PIRATE”"),
        ("immunosuppression=SOME", "immunosuppression", "“SOME”"),
        ("started_after=2020-13-01", "started_after", "YYYY-MM-DD"),
        ("started_before=yesterday", "started_before", "YYYY-MM-DD"),
        ("sort=random", "sort", "random"),
        ("page=abc", "page", "whole number"),
        ("page=0", "page", "greater than or equal to 1"),
        ("page_size=5", "page_size", "greater than or equal to 10"),
        ("page_size=100000", "page_size", "less than or equal to 100"),
        ("q=" + "x" * 201, "q", "at most 200"),
    ],
)
def test_invalid_input_makes_the_form_invalid_and_names_the_value(registry, query, field, words):
    found = errors(query)
    assert list(found) == [field]
    assert words in " ".join(found[field])


def test_empty_values_are_ignored():
    assert filtered_trials(QueryDict("phase=&q=&started_after=&sort=&page_size="))[0].is_valid()


def test_relevance_is_the_default_sort_with_a_search_and_open_trials_first_without(registry):
    assert filtered_trials(QueryDict("q=alpha"))[0].sort == "relevance"
    assert filtered_trials(QueryDict(""))[0].sort == "active"
    assert filtered_trials(QueryDict("sort=relevance"))[0].sort == "active"


def facet(facets, name):
    return {option["value"]: option["count"] for option in next(f for f in facets if f["name"] == name)["options"]}


def test_facet_counts_are_counted_over_the_other_parameters(registry):
    filterset, _ = filtered_trials(QueryDict("phase=PHASE1&mechanism=immune-regulation"))
    facets = facet_counts(filterset)
    # phase counts ignore the phase filter but keep the mechanism filter (Alpha, Charlie)
    assert facet(facets, "phase") == {"PHASE1": 1, "PHASE1_PHASE2": 1}
    # mechanism counts ignore the mechanism filter but keep the phase filter (Alpha)
    assert facet(facets, "mechanism") == {"immune-regulation": 1}
    # other facets apply both (Alpha only)
    assert facet(facets, "country") == {"SE": 1}
    assert facet(facets, "status") == {"COMPLETED": 1}


def test_status_facet_counts_the_status_as_shown_and_never_drafts(registry):
    facets = facet_counts(filtered_trials(QueryDict(""))[0])
    assert facet(facets, "status") == {"COMPLETED": 1, "RECRUITING": 1, "STALE": 1, "NOT_RECORDED": 1}
    # Delta has no mechanism, country or route: "not recorded", so that every trial is counted somewhere
    assert facet(facets, "mechanism") == {
        "immune-regulation": 2,
        "beta-cell-regeneration": 1,
        "trophic-support": 1,
        "NOT_RECORDED": 1,
    }
    assert facet(facets, "country") == {"SE": 1, "US": 1, "CA": 1, "CN": 1, "NOT_RECORDED": 1}
    assert facet(facets, "route")["INTRAVENOUS"] == 2


def test_selected_options_are_kept_even_with_no_trial(registry):
    filterset, _ = filtered_trials(QueryDict("country=FR&phase=PHASE4"))
    facets = facet_counts(filterset)
    assert facet(facets, "country")["FR"] == 0
    assert facet(facets, "phase")["PHASE4"] == 0
    selected = [o["value"] for f in facets for o in f["options"] if o["selected"]]
    assert sorted(selected) == ["FR", "PHASE4"]
