"""The JSON API (/api/v1/, trials/api/): its contract, the list's filters (the count equals the CSV's rows), drafts
and curator notes never shown, the 400, CORS, the rate limit per client, and a fixed number of queries."""

import csv
import datetime
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from tests.factories import PublicationFactory, RegistryIdentifierFactory, SourceFactory, trial_with
from trials.exports import COLUMNS
from trials.models import Country, Outcome, Site, Trial
from trials.vocabularies import CellSource, CurationState, OutcomeMeasure, OverallStatus, Phase, Registry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

TRIALS = "/api/v1/trials/"
SECRET = "CURATOR-ONLY-NOTE"


@pytest.fixture
def registry():
    """Published trials of several kinds, a draft and one in review (with notes that must never show)."""
    trials = [
        trial_with(
            brief_title="Islet cells made from stem cells",
            identifier="NCT07654321",
            mechanisms=["beta-cell-regeneration"],
            diabetes_types=["T1D"],
            countries=["US", "CA"],
            routes=["PORTAL_VEIN"],
            phase=Phase.PHASE1_PHASE2,
            overall_status=OverallStatus.RECRUITING,
            status_confirmed_on=datetime.date(2026, 6, 1),
            cell_source=CellSource("ESC"),
            start_date=datetime.date(2023, 5, 1),
            start_date_precision="MONTH",
            enrollment=37,
            curator_notes=SECRET,
        ),
        trial_with(
            brief_title="Stromal cells for new type 1 diabetes",
            identifier="NCT01234567",
            mechanisms=["immune-regulation"],
            diabetes_types=["T1D"],
            countries=["SE"],
            routes=["INTRAVENOUS"],
            phase=Phase.PHASE2,
            overall_status=OverallStatus.COMPLETED,
            cell_source=CellSource("MSC_BM"),
            start_date=datetime.date(2019, 1, 1),
            start_date_precision="YEAR",
        ),
        trial_with(
            brief_title="Cord blood in type 2 diabetes",
            identifier=False,
            slug="cord-blood-t2d",
            mechanisms=["immune-regulation", "trophic-support"],
            diabetes_types=["T2D"],
            countries=["CN"],
            phase=Phase.PHASE1,
            overall_status=OverallStatus.UNKNOWN,
            cell_source=CellSource("CORD_BLOOD"),
        ),
    ]
    for trial in trials:
        SourceFactory(trial=trial)
    publication = PublicationFactory(trial=trials[0], doi="10.1056/NEJMoa2506549", pmid="40544428")
    Outcome.objects.create(
        trial=trials[0],
        measure=OutcomeMeasure.INSULIN_INDEPENDENCE,
        result="10 of 12 insulin-independent",
        n=12,
        timepoint="day 365",
        publication=publication,
    )
    Site.objects.create(trial=trials[0], facility="University Hospital", city="Toronto", country_id="CA")
    RegistryIdentifierFactory(trial=trials[1], registry=Registry.EUCT, value="2019-001234-56", is_primary=False)
    for state in (CurationState.DRAFT, CurationState.REVIEW):
        hidden = trial_with(
            brief_title=f"Hidden islet trial ({state})",
            mechanisms=["beta-cell-regeneration"],
            countries=["US"],
            phase=Phase.PHASE1_PHASE2,
            curation_state=state,
            curator_notes=SECRET,
        )
        SourceFactory(trial=hidden)
    return trials


def get_json(client, url, status=200, **headers):
    response = client.get(url, **headers)
    assert response.status_code == status, response.content
    return response.json()


def csv_rows(client, query):
    response = client.get(reverse("trials:export") + "?" + query)
    assert response.status_code == 200
    header, *rows = csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline=""))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_list_answers_count_next_previous_results(client, registry):
    page = get_json(client, TRIALS + "?page_size=10")
    assert list(page) == ["count", "next", "previous", "results"]
    assert page["count"] == 3 and page["next"] is None and page["previous"] is None
    first = page["results"][0]
    # The CSV's columns, in its order, then the address and the parts.
    assert list(first) == [column.name for column in COLUMNS] + ["key", "api_url", "sites", "outcomes", "sources"]


def test_pages_link_to_each_other(client):
    for number in range(12):
        trial_with(brief_title=f"Trial {number:02d}", mechanisms=["immune-regulation"])
    first = get_json(client, TRIALS + "?page_size=10&sort=title&phase=PHASE1_PHASE2")
    assert first["count"] == 12 and len(first["results"]) == 10 and first["previous"] is None
    assert first["next"] == "http://127.0.0.1:8000/api/v1/trials/?page=2&page_size=10&phase=PHASE1_PHASE2&sort=title"
    second = get_json(client, first["next"].removeprefix("http://127.0.0.1:8000"))
    assert [t["brief_title"] for t in second["results"]] == ["Trial 10", "Trial 11"]
    assert second["next"] is None and second["previous"].endswith("page=1&page_size=10&phase=PHASE1_PHASE2&sort=title")
    past = get_json(client, TRIALS + "?page_size=10&page=3", status=404)
    assert past == {"detail": "Page 3 is past the last page (2)."}


def test_a_trial_has_the_csv_values_and_its_parts(client, registry):
    trial = get_json(client, TRIALS + "NCT07654321/")
    row = csv_rows(client, "q=NCT07654321")[0]
    for name, cell in row.items():
        value = trial[name]
        expected = "; ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
        assert expected == cell, name
    assert trial["countries"] == ["CA", "US"] and trial["mechanisms"] == ["beta-cell-regeneration"]
    assert trial["enrollment"] == 37 and trial["acronym"] is None and trial["start_date"] == "2023-05"
    assert trial["key"] == "NCT07654321"
    assert trial["api_url"] == "http://127.0.0.1:8000/api/v1/trials/NCT07654321/"
    assert trial["sites"] == [
        {"facility": "University Hospital", "city": "Toronto", "country": "CA", "country_name": "Canada"}
    ]
    assert trial["outcomes"] == [
        {
            "measure": "INSULIN_INDEPENDENCE",
            "measure_label": "Insulin independence",
            "result": "10 of 12 insulin-independent",
            "participants": 12,
            "timepoint": "day 365",
            "publication": {
                "citation": "Author A et al. A trial of cells. J Trials 2025;1:1-10",
                "doi": "10.1056/NEJMoa2506549",
                "pmid": "40544428",
                "year": 2025,
            },
            "source_url": None,
        }
    ]
    assert [source["kind"] for source in trial["sources"]] == ["REGISTRY"]
    assert trial["publications"] == ["doi:10.1056/NEJMoa2506549 PMID:40544428"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "phase=PHASE1_PHASE2&phase=PHASE2",
        "mechanism=immune-regulation",
        "mechanism=immune-regulation&diabetes_type=t2d",
        "status=RECRUITING&status=UNKNOWN",
        "country=us&country=SE",
        "cell_source=MSC_BM&cell_source=ESC&route=INTRAVENOUS",
        "started_after=2020-01-01",
        "started_before=2020-01-01&sort=-start",
        "q=islet",
        "q=stem+cells&sort=relevance",
        "q=2019-001234-56",
        "sponsor_class=OTHER&immunosuppression=NONE",
        "mechanism=beta-cell-regeneration&country=CN",
    ],
)
def test_the_count_equals_the_csv_rows_for_the_same_parameters(client, registry, query):
    page = get_json(client, TRIALS + "?page_size=100&" + query)
    rows = csv_rows(client, query)
    assert page["count"] == len(rows) == len(page["results"])
    assert [trial["url"] for trial in page["results"]] == [row["url"] for row in rows]  # in the same order


def test_drafts_and_trials_in_review_never_appear(client, registry):
    page = get_json(client, TRIALS + "?page_size=100&q=hidden")
    assert page["count"] == 0 and page["results"] == []
    everything = get_json(client, TRIALS + "?page_size=100")
    assert "Hidden" not in str(everything) and everything["count"] == 3
    hidden = list(Trial.objects.exclude(curation_state=CurationState.PUBLISHED))
    assert len(hidden) == 2
    for trial in hidden:
        assert get_json(client, TRIALS + f"{trial.slug}/", status=404) == {
            "detail": "No published trial has this address."
        }
        identifier = trial.identifiers.first().value
        get_json(client, TRIALS + f"{identifier}/", status=404)
    counts = {m["slug"]: m["trial_count"] for m in get_json(client, "/api/v1/mechanisms/")["results"]}
    assert counts == {"beta-cell-regeneration": 1, "immune-regulation": 2, "angiogenesis": 0, "trophic-support": 1}


def test_curator_notes_never_appear(client, registry):
    for url in (TRIALS + "?page_size=100", TRIALS + "NCT07654321/", "/api/v1/mechanisms/", "/api/v1/schema/"):
        response = client.get(url)
        assert response.status_code == 200
        assert SECRET.encode() not in response.content and b"curator_notes" not in response.content


def test_a_trial_by_its_key_slug_or_other_identifier(client, registry):
    assert get_json(client, TRIALS + "cord-blood-t2d/")["key"] == "cord-blood-t2d"
    assert get_json(client, TRIALS + "cord-blood-t2d/")["primary_identifier"] is None
    response = client.get(TRIALS + "2019-001234-56/")
    assert response.status_code == 301 and response["Location"] == TRIALS + "NCT01234567/"
    trial = Trial.objects.get(slug="cord-blood-t2d")
    trial.slug = "cord-blood-type-2"
    trial.save()
    response = client.get(TRIALS + "cord-blood-t2d/")  # a former slug
    assert response.status_code == 301 and response["Location"] == TRIALS + "cord-blood-type-2/"
    assert get_json(client, TRIALS + "NCT00000000/", status=404) == {"detail": "No published trial has this address."}
    assert client.get(TRIALS + "NCT0\x00/").status_code == 404


def test_a_value_not_understood_answers_400_naming_its_parameter(client, registry):
    answer = get_json(client, TRIALS + "?phase=PHASE9&started_after=yesterday&status=RECRUITING", status=400)
    assert answer["detail"] == "Some query parameters were not understood: phase, started_after."
    assert answer["errors"] == {
        "phase": ["“PHASE9” is not a phase this registry knows."],
        "started_after": ["Enter a date as YYYY-MM-DD, e.g. 2024-03-01."],
    }
    # The list's own 400 for the same parameters.
    assert client.get(reverse("trials:list") + "?phase=PHASE9&started_after=yesterday").status_code == 400
    assert get_json(client, TRIALS + "?page_size=5", status=400)["errors"].keys() == {"page_size"}
    assert get_json(client, TRIALS + "?mechanism=telepathy", status=400)["errors"] == {
        "mechanism": ["“telepathy” is not a mechanism this registry knows."]
    }


def test_the_mechanisms(client, registry):
    answer = get_json(client, "/api/v1/mechanisms/")
    assert answer["count"] == 4 and answer["next"] is None
    first = answer["results"][0]
    assert first["slug"] == "beta-cell-regeneration" and first["url"].endswith("/mechanisms/beta-cell-regeneration/")
    assert first["trials_url"] == "http://127.0.0.1:8000/api/v1/trials/?mechanism=beta-cell-regeneration"


def test_cors_is_open_for_get(client, registry):
    response = client.get(TRIALS, headers={"Origin": "https://example.org"})
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    cached = client.get(TRIALS, headers={"Origin": "https://example.org"})
    assert cached["X-Page-Cache"] == "hit" and cached["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        TRIALS, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200 and preflight["Access-Control-Allow-Origin"] == "*"
    assert set(preflight["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    # Only the API: the pages send no CORS header.
    assert "Access-Control-Allow-Origin" not in client.get("/", headers={"Origin": "https://example.org"})


def test_the_api_is_read_only(client, registry):
    for method in (client.post, client.put, client.patch, client.delete):
        assert method(TRIALS).status_code == 405
        assert method(TRIALS + "NCT07654321/").status_code == 405


def test_requests_are_rate_limited_per_client(client, registry, settings):
    settings.API_RATE_LIMIT = "3/minute"
    for number in range(3):  # different answers: none from the pages' cache
        assert client.get(TRIALS + f"?q=islet{number}").status_code == 200
    refused = client.get(TRIALS + "?q=islet9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"]
    assert client.get(TRIALS + "?q=islet9", REMOTE_ADDR="192.0.2.7").status_code == 200  # another client
    # Behind a proxy, the client is the proxy's X-Forwarded-For entry (config.middleware.client_ip).
    settings.BEHIND_PROXY = True
    cache.clear()
    for number in range(3):
        assert client.get(TRIALS + f"?q=a{number}", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert client.get(TRIALS + "?q=a9", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert client.get(TRIALS + "?q=a9", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def make_trials(count):
    for number in range(count):
        trial = trial_with(mechanisms=["immune-regulation"], countries=["SE", "US"], diabetes_types=["T1D"])
        SourceFactory(trial=trial)
        Site.objects.create(trial=trial, facility=f"Hospital {number}", country=Country.objects.get(code="SE"))
        Outcome.objects.create(trial=trial, measure=OutcomeMeasure.SAFETY, result="No serious adverse event")


@pytest.mark.parametrize("trials", [3, 30])
def test_the_list_makes_a_fixed_number_of_queries(client, django_assert_num_queries, trials):
    make_trials(trials)
    # The data version, the count, the trials' columns, their sites, outcomes and sources; on PostgreSQL, a search's
    # reads run in a transaction (here a savepoint) that sets, then resets, enable_seqscan (trials/search.py).
    with django_assert_num_queries(6 + (4 if connection.vendor == "postgresql" else 0)):
        assert len(get_json(client, TRIALS + "?page_size=50&q=cells")["results"]) == trials
    # One more for each of mechanism and country: the values are checked against their tables.
    with django_assert_num_queries(8):
        assert (
            len(get_json(client, TRIALS + "?page_size=50&mechanism=immune-regulation&country=SE")["results"]) == trials
        )


def test_a_trial_and_the_mechanisms_make_a_fixed_number_of_queries(client, django_assert_num_queries, registry):
    with django_assert_num_queries(5):  # the data version, the trial's columns, sites, outcomes, sources
        get_json(client, TRIALS + "NCT07654321/")
    with django_assert_num_queries(2):  # the data version, the mechanisms with their counts
        get_json(client, "/api/v1/mechanisms/")
    with django_assert_num_queries(1):  # from the pages' cache
        get_json(client, "/api/v1/mechanisms/")


def test_the_openapi_schema(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.oai.openapi+json"
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/trials/",
        "/api/v1/trials/{key}/",
        "/api/v1/mechanisms/",
    }
    operation = schema["paths"]["/api/v1/trials/"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters) == {
        "q", "mechanism", "status", "phase", "diabetes_type", "cell_source", "route", "country", "sponsor_class",
        "immunosuppression", "started_after", "started_before", "sort", "page", "page_size",
    }  # fmt: skip
    assert "PHASE1_PHASE2" in parameters["phase"]["schema"]["items"]["enum"]
    assert "NOT_RECORDED" in parameters["status"]["schema"]["items"]["enum"]
    assert set(operation["responses"]) == {"200", "400", "404", "429"}
    trial = schema["components"]["schemas"]["Trial"]
    assert [column.name for column in COLUMNS] == list(trial["properties"])[: len(COLUMNS)]
    assert "curator_notes" not in response.content.decode()


@pytest.mark.parametrize("value", ["lots", "10", "10/fortnight", "-1/minute"])
def test_a_rate_limit_not_understood_stops_the_start(value):
    from tests.test_settings import run

    result = run(["-c", "import django; django.setup()"], API_RATE_LIMIT=value, DEBUG="1")
    assert result.returncode != 0 and "API_RATE_LIMIT must be a number of requests per" in result.stderr
