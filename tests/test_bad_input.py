"""Hostile and malformed query strings to the trial list and the CSV export: every answer is 200 or 400, never a 500.

Property-based (hypothesis): arbitrary unicode (NUL bytes, control and private-use characters, right-to-left marks),
enormous values, repeated and unknown parameters, every public parameter of the contract, and raw bytes that are not
even a well-formed query string. A 500 would surface here as the view's exception (the test client re-raises it).
"""

from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import trial_with
from trials.vocabularies import CellSource, Immunosuppression, OverallStatus, Phase, Route, SponsorClass

pytestmark = pytest.mark.django_db

# Query parameters of /trials/ and /trials/export.csv (DESIGN.md's public contract), and the export's own.
PUBLIC = [
    "q",
    "mechanism",
    "status",
    "phase",
    "diabetes_type",
    "cell_source",
    "route",
    "country",
    "sponsor_class",
    "immunosuppression",
    "started_after",
    "started_before",
    "sort",
    "page",
    "page_size",
]
NAMES = [*PUBLIC, "bom", "utm_source", "Q", "page[]", "q ", "", "csrfmiddlewaretoken"]
VALID = [
    "beta-cell-regeneration",
    "immune-regulation",
    "T1D",
    "t2d",
    "SE",
    "us",
    "NOT_RECORDED",
    "2024-03-01",
    "relevance",
    "-title",
    "10",
    "100",
    *OverallStatus.values,
    *Phase.values,
    *CellSource.values,
    *Route.values,
    *SponsorClass.values,
    *Immunosuppression.values,
]
NASTY = [
    "\x00",
    "NCT\x0001234567",
    "immune-regulation\x00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "%",
    "0",
    "-1",
    "1e309",
    "NaN",
    "9" * 5000,  # beyond Python's limit for int() of a string
    "1" * 30,
    "2024-02-30",
    "0000-01-01",
    "9999-12-31",
    "99999-01-01",
    "٣",  # an Arabic-Indic digit: int() accepts it
    "\u202eTD1",
    "\ufeffT1D",
    "ß",
    "ǅ",
    "🧪" * 100,
    " ",
    "\t\n",
    "x" * 201,
    "a" * 20_000,
]

# Everything but surrogates (which cannot reach a view: the request is decoded from UTF-8 first).
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
values = st.one_of(st.sampled_from(VALID), st.sampled_from(NASTY), any_text, st.integers().map(str))
names = st.one_of(st.sampled_from(NAMES), any_text)
pairs = st.lists(st.tuples(names, values), max_size=12)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example database in the working tree: each run explores afresh
)


@pytest.fixture
def trials():
    """A few published trials, so that filters, facets, pages and the export have rows to work on."""
    return [
        trial_with(mechanisms=["immune-regulation"], diabetes_types=["T1D"], countries=["SE"], routes=["INTRAVENOUS"]),
        trial_with(mechanisms=["beta-cell-regeneration"], diabetes_types=["T2D"], countries=["US"], phase=Phase.PHASE3),
        trial_with(identifier=False, mechanisms=["angiogenesis"], overall_status=OverallStatus.RECRUITING),
    ]


def assert_200_or_400(response, url_name):
    assert response.status_code in (200, 400), response.status_code
    if url_name == "trials:export" and response.status_code == 200:
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        body = b"".join(response.streaming_content)  # rows are written while streaming: read them all
        assert body.startswith(b"primary_identifier,") or body.startswith(b"\xef\xbb\xbfprimary_identifier,")
    else:
        assert response["Content-Type"].startswith("text/html")


def query_string(pairs):
    """The pairs as a browser would send them: UTF-8, percent-encoded, in order, repeats kept."""
    return urlencode(pairs, quote_via=quote)


@SETTINGS
@given(pairs=pairs)
@example(pairs=[(name, "\x00") for name in PUBLIC])
@example(pairs=[(name, "9" * 5000) for name in PUBLIC])
@example(pairs=[(name, value) for name in PUBLIC for value in ("", " ", "\x00")])
@example(pairs=[("mechanism", "immune-regulation")] * 50 + [("country", "se"), ("country", "SE")])
def test_the_list_answers_200_or_400(client, trials, pairs):
    response = client.get(reverse("trials:list"), QUERY_STRING=query_string(pairs))
    assert_200_or_400(response, "trials:list")


@SETTINGS
@given(pairs=pairs)
@example(pairs=[(name, "\x00") for name in [*PUBLIC, "bom"]])
@example(pairs=[("bom", "1"), ("q", "'=1+1"), ("sort", "relevance")])
def test_the_export_answers_200_or_400(client, trials, pairs):
    response = client.get(reverse("trials:export"), QUERY_STRING=query_string(pairs))
    assert_200_or_400(response, "trials:export")


@SETTINGS
@given(url_name=st.sampled_from(["trials:list", "trials:export"]), raw=st.binary(max_size=200))
@example(url_name="trials:list", raw=b"q=%ff%fe%00&status=%c0%af&&&==&%zz=%&page=%")
@example(url_name="trials:export", raw=b"mechanism=%E2%80%AEimmune&country=%ED%A0%80")
def test_raw_bytes_as_a_query_string(client, trials, url_name, raw):
    """Not even a well-formed query string: invalid UTF-8, stray % and &, empty names (WSGI passes bytes as latin-1)."""
    response = client.get(reverse(url_name), QUERY_STRING=raw.decode("latin-1"))
    assert_200_or_400(response, url_name)


@pytest.mark.parametrize("url_name", ["trials:list", "trials:export"])
def test_enormous_and_too_many_values_are_refused_not_crashed(client, trials, url_name):
    url = reverse(url_name)
    for pairs in [
        [("q", "islet " * 50_000)],  # 300 kB of search
        [("page", "9" * 100_000)],
        [("page_size", "1" + "0" * 400)],
        [("mechanism", f"m{i}") for i in range(900)],  # many unknown values of one parameter
        [("status", "RECRUITING")] * 1001,  # more fields than Django accepts (DATA_UPLOAD_MAX_NUMBER_FIELDS)
    ]:
        response = client.get(url, QUERY_STRING=query_string(pairs))
        assert response.status_code == 400, pairs[0]


@pytest.mark.parametrize("url_name", ["trials:list", "trials:export"])
def test_a_page_far_past_the_end_is_the_last_page(client, trials, url_name):
    response = client.get(reverse(url_name), {"page": 10**30, "page_size": 10})
    assert response.status_code == 200


@SETTINGS
@given(key=st.one_of(any_text.filter(lambda key: key.strip("/")), st.sampled_from(NASTY)))
@example(key="NCT01234567\x00")
def test_a_trial_address_answers_200_301_or_404(client, trials, key):
    """Any text as a trial's address (identifier or slug): the trial, a redirect to it, or 404."""
    response = client.get(f"/trials/{quote(key.strip('/'), safe='')}/")
    assert response.status_code in (200, 301, 404)
