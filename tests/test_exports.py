"""The CSV export (trials/exports.py, /trials/export.csv, manage.py export_trials), read back with Python's csv."""

import csv
import datetime
import io
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.urls import reverse

from mechanisms.models import Mechanism
from tests.factories import PublicationFactory, RegistryIdentifierFactory, TrialFactory, TrialMechanismFactory
from trials.export_query import SEPARATOR
from trials.exports import COLUMNS, Column, export_filename, export_rows, in_chunks, safe_cell
from trials.models import RegistryIdentifier, Trial, TrialMechanism
from trials.vocabularies import CurationState, Registry

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("trials:export")
LIST_URL = reverse("trials:list")

# The public contract: these names, in this order.
HEADER = [
    "primary_identifier",
    "identifiers",
    "brief_title",
    "acronym",
    "overall_status",
    "status_shown",
    "phase",
    "study_type",
    "diabetes_types",
    "mechanisms",
    "cell_source",
    "cell_origin",
    "differentiation",
    "routes",
    "immunosuppression",
    "sponsor",
    "sponsor_class",
    "countries",
    "enrollment",
    "enrollment_type",
    "start_date",
    "start_date_precision",
    "start_date_type",
    "primary_completion_date",
    "primary_completion_date_precision",
    "primary_completion_date_type",
    "completion_date",
    "completion_date_precision",
    "completion_date_type",
    "status_confirmed_on",
    "last_reviewed_on",
    "url",
    "registry_url",
    "publications",
    "regulatory_status",
]


def parse(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def content(response):
    return b"".join(response.streaming_content)


def export(client, query=""):
    response = client.get(EXPORT_URL + ("?" + query if query else ""))
    assert response.status_code == 200, response
    header, *rows = parse(content(response).decode("utf-8"))
    assert header == HEADER
    return [dict(zip(header, row, strict=True)) for row in rows]


def list_keys(client, query=""):
    """The public keys of every trial the list shows for `query`, page after page, in order."""
    keys, number = [], 1
    while True:
        response = client.get(LIST_URL + "?" + "&".join(filter(None, [query, f"page_size=10&page={number}"])))
        assert response.status_code == 200
        page = response.context["page"]
        keys += [trial.public_key for trial in response.context["trials"]]
        if not page.has_next():
            return keys
        number += 1


def row_key(row):
    return row["primary_identifier"] or row["url"].rstrip("/").rsplit("/", 1)[-1]


# --- A varied registry ---------------------------------------------------------------------------

PHASES = ["PHASE1", "PHASE1_PHASE2", "PHASE2", "PHASE3", "", "EARLY_PHASE1", "NA"]
STATUSES = ["RECRUITING", "COMPLETED", "ACTIVE_NOT_RECRUITING", "", "TERMINATED", "NOT_YET_RECRUITING", "UNKNOWN"]
SOURCES = ["MSC_UC", "ESC", "IPSC", "MSC_BM", "HSC", ""]
SPONSOR_CLASSES = ["OTHER", "INDUSTRY", "NIH", ""]
IMMUNOSUPPRESSION = ["NONE", "CHRONIC", "SHORT_COURSE", "UNKNOWN"]
COUNTRIES = [["SE"], ["US", "CA"], ["CN"], [], ["SE", "DE"]]
DIABETES = [["T1D"], ["T2D"], ["T1D", "LADA"], []]
ROUTES = [["INTRAVENOUS"], ["PORTAL_VEIN"], ["DEVICE", "INTRAMUSCULAR"], [], ["INTRAPANCREATIC"]]
MECHANISMS = [["immune-regulation"], ["beta-cell-regeneration"], ["angiogenesis", "trophic-support"], []]
TITLES = ["Islet cells from stem cells", "Mesenchymal stromal cells", "Stem-cell islets in a device", "Cord blood"]


@pytest.fixture
def registry():
    """24 published trials that differ in every filtered field, plus a draft and a trial in review that match
    every filter the published ones match."""
    mechanisms = {m.slug: m for m in Mechanism.objects.all()}
    trials = []
    for n in range(24):
        start = datetime.date(2015 + n % 10, 1 + n % 12, 1) if n % 6 else None
        stale = n % 5 == 0  # an active status confirmed long ago: shown as unknown
        trial = TrialFactory(
            slug=f"trial-{n:02d}",
            brief_title=f"{TITLES[n % 4]} in diabetes, study {n:02d}",
            phase=PHASES[n % 7],
            overall_status=STATUSES[n % 7],
            status_confirmed_on=datetime.date(2020, 1, 1) if stale else datetime.date(2026, 6, 1),
            cell_source=SOURCES[n % 6],
            sponsor_class=SPONSOR_CLASSES[n % 4],
            immunosuppression=IMMUNOSUPPRESSION[n % 4],
            start_date=start,
            start_date_precision="MONTH" if start else "",
            last_reviewed_on=datetime.date(2025, 1, 1) + datetime.timedelta(days=17 * (n % 9)) if n % 7 else None,
        )
        if n % 8:  # some trials have no registry identifier: their address uses the slug
            RegistryIdentifierFactory(trial=trial, value=f"NCT{10000000 + n:08d}")
        trial.countries.add(*COUNTRIES[n % 5])
        trial.diabetes_types.add(*DIABETES[n % 4])
        trial.routes.add(*ROUTES[(n // 2) % 5])
        for slug in MECHANISMS[n % 4]:
            TrialMechanismFactory(trial=trial, mechanism=mechanisms[slug])
        trials.append(trial)
    for state in (CurationState.DRAFT, CurationState.REVIEW):
        hidden = TrialFactory(
            slug=f"hidden-{state.lower()}",
            brief_title=f"Islet cells from stem cells in diabetes, hidden {state.lower()}",
            curation_state=state,
            overall_status="RECRUITING",
            phase="PHASE1",
            cell_source="MSC_UC",
            sponsor_class="INDUSTRY",
            immunosuppression="NONE",
            start_date=datetime.date(2021, 3, 1),
            start_date_precision="MONTH",
        )
        RegistryIdentifierFactory(trial=hidden)
        hidden.countries.add("SE", "US", "CA", "CN")
        hidden.diabetes_types.add("T1D", "T2D")
        hidden.routes.add("INTRAVENOUS", "PORTAL_VEIN")
        TrialMechanismFactory(trial=hidden, mechanism=mechanisms["immune-regulation"])
    return trials


FILTER_COMBINATIONS = [
    "",
    "status=RECRUITING",
    "status=UNKNOWN&sort=title",
    "status=NOT_RECORDED&status=COMPLETED",
    "phase=PHASE1&phase=PHASE2&sort=-phase",
    "mechanism=immune-regulation&diabetes_type=T1D",
    "mechanism=angiogenesis&mechanism=beta-cell-regeneration&sort=status",
    "country=SE&sort=title",
    "country=us&route=INTRAVENOUS",
    "route=INTRAVENOUS&route=PORTAL_VEIN&sort=-start",
    "cell_source=MSC_UC&immunosuppression=NONE",
    "sponsor_class=INDUSTRY&sort=phase",
    "started_after=2018-01-01&started_before=2022-12-31&sort=start",
    "q=islet",
    "q=islet&sort=relevance&diabetes_type=LADA",
    "sort=reviewed",
    "sort=-title&page=2&page_size=10",
]


@pytest.mark.parametrize("query", FILTER_COMBINATIONS)
def test_rows_are_the_lists_trials_in_order(client, registry, query):
    rows = export(client, query)
    keys = list_keys(client, "&".join(p for p in query.split("&") if not p.startswith(("page=", "page_size="))))
    assert [row_key(row) for row in rows] == keys
    assert "hidden" not in " ".join(keys)


def test_the_combinations_are_not_trivial(client, registry):
    sizes = {query: len(export(client, query)) for query in FILTER_COMBINATIONS}
    assert sizes[""] == 24
    unfiltered = {"", "sort=reviewed", "sort=-title&page=2&page_size=10"}
    assert {query: size for query, size in sizes.items() if not 0 < size < 24} == dict.fromkeys(unfiltered, 24)


def test_all_trials_not_one_page(client):
    for n in range(30):
        TrialFactory(slug=f"many-{n}")
    assert len(export(client, "page_size=10&page=1")) == 30


def test_drafts_and_trials_in_review_are_never_exported(client, registry):
    for query in ["", "q=hidden", "status=RECRUITING&phase=PHASE1", "country=CN&sort=title"]:
        assert not [row for row in export(client, query) if "hidden" in row["brief_title"]]
    assert Trial.objects.exclude(curation_state=CurationState.PUBLISHED).count() == 2


# --- Columns and cells ----------------------------------------------------------------------------


def test_columns_and_order_are_the_documented_contract(client):
    TrialFactory()
    assert [column.name for column in COLUMNS] == HEADER
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## CSV export", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == HEADER
    assert f'"{SEPARATOR}"' in section


def test_a_full_row(client, settings):
    settings.SITE_URL = "https://registry.example.org"
    trial = TrialFactory(
        slug="full",
        brief_title="Islets, from stem cells",
        acronym="FULL",
        overall_status="RECRUITING",
        status_confirmed_on=datetime.date(2026, 4, 20),
        phase="PHASE1_PHASE2",
        study_type="INTERVENTIONAL",
        cell_source="PSC",
        cell_origin="ALLOGENEIC",
        differentiation="DIFFERENTIATED",
        immunosuppression="CHRONIC",
        sponsor="Vertex Pharmaceuticals Incorporated",
        sponsor_class="INDUSTRY",
        enrollment=52,
        enrollment_type="ESTIMATED",
        start_date=datetime.date(2021, 3, 29),
        start_date_precision="DAY",
        start_date_type="ACTUAL",
        primary_completion_date=datetime.date(2027, 1, 1),
        primary_completion_date_precision="YEAR",
        primary_completion_date_type="ESTIMATED",
        completion_date=datetime.date(2030, 6, 1),
        completion_date_precision="MONTH",
        completion_date_type="ESTIMATED",
        last_reviewed_on=datetime.date(2026, 11, 24),
    )
    RegistryIdentifierFactory(trial=trial, registry=Registry.OTHER, value="VX20-880-101", is_primary=False)
    RegistryIdentifierFactory(trial=trial, registry=Registry.EUDRACT, value="2017-002766-50", is_primary=False)
    RegistryIdentifierFactory(trial=trial, value="NCT04786262")
    for slug in ["trophic-support", "beta-cell-regeneration"]:
        TrialMechanismFactory(trial=trial, mechanism=Mechanism.objects.get(slug=slug))
    trial.diabetes_types.add("T2D", "T1D")
    trial.routes.add("DEVICE", "PORTAL_VEIN")
    trial.countries.add("US", "CA")
    PublicationFactory(trial=trial, doi="10.1056/NEJMoa2506549", pmid="40544428", year=2025)
    PublicationFactory(trial=trial, doi="10.1016/old", pmid="", year=2020)
    PublicationFactory(trial=trial, doi="", pmid="999", year=2026)
    PublicationFactory(trial=trial, doi="", pmid="", year=2024)  # neither: not listed

    [row] = export(client)
    assert row == {
        "primary_identifier": "NCT04786262",
        "identifiers": "NCT04786262; 2017-002766-50; VX20-880-101",
        "brief_title": "Islets, from stem cells",
        "acronym": "FULL",
        "overall_status": "RECRUITING",
        "status_shown": "Recruiting",
        "phase": "PHASE1_PHASE2",
        "study_type": "INTERVENTIONAL",
        "diabetes_types": "T1D; T2D",
        "mechanisms": "beta-cell-regeneration; trophic-support",
        "cell_source": "PSC",
        "cell_origin": "ALLOGENEIC",
        "differentiation": "DIFFERENTIATED",
        "routes": "PORTAL_VEIN; DEVICE",
        "immunosuppression": "CHRONIC",
        "sponsor": "Vertex Pharmaceuticals Incorporated",
        "sponsor_class": "INDUSTRY",
        "countries": "CA; US",
        "enrollment": "52",
        "enrollment_type": "ESTIMATED",
        "start_date": "2021-03-29",
        "start_date_precision": "DAY",
        "start_date_type": "ACTUAL",
        "primary_completion_date": "2027",
        "primary_completion_date_precision": "YEAR",
        "primary_completion_date_type": "ESTIMATED",
        "completion_date": "2030-06",
        "completion_date_precision": "MONTH",
        "completion_date_type": "ESTIMATED",
        "status_confirmed_on": "2026-04-20",
        "last_reviewed_on": "2026-11-24",
        "url": "https://registry.example.org/trials/NCT04786262/",
        "registry_url": "https://clinicaltrials.gov/study/NCT04786262",
        "publications": "PMID:999; doi:10.1056/NEJMoa2506549 PMID:40544428; doi:10.1016/old",
        "regulatory_status": "investigational",
    }


def test_an_empty_row_and_the_slug_address(client, settings):
    settings.SITE_URL = "https://registry.example.org"
    TrialFactory(slug="bare", brief_title="Bare", overall_status="", status_confirmed_on=None, last_reviewed_on=None)
    [row] = export(client)
    assert row["url"] == "https://registry.example.org/trials/bare/"
    assert row["status_shown"] == "Status not recorded"
    empty = ["primary_identifier", "identifiers", "mechanisms", "countries", "publications", "enrollment"]
    assert [row[name] for name in empty] == [""] * len(empty)
    assert row["regulatory_status"] == "investigational"


def test_status_shown_follows_the_staleness_rule(client):
    trial = TrialFactory(overall_status="RECRUITING", status_confirmed_on=datetime.date(2021, 5, 3))
    [row] = export(client)
    assert row["overall_status"] == "RECRUITING"
    shown = "Not confirmed for over 2 years (last confirmed on 3 May 2021)"
    assert row["status_shown"] == trial.status_display().label == shown


def test_identifiers_with_a_slash_make_a_working_address(client):
    trial = TrialFactory()
    RegistryIdentifierFactory(trial=trial, registry=Registry.CTRI, value="CTRI/2020/05/025215")
    [row] = export(client)
    assert row["url"].endswith("/trials/CTRI/2020/05/025215/")
    assert client.get(row["url"].removeprefix(settings.SITE_URL)).status_code == 200
    assert row["registry_url"] == "https://trialsearch.who.int/Trial2.aspx?TrialID=CTRI/2020/05/025215"


# --- Safety -------------------------------------------------------------------------------------

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", '=HYPERLINK("http://x.example","y")']


@pytest.mark.parametrize("text", DANGEROUS)
def test_safe_cell_neutralises_each_formula_start(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["Phase 1", "-12", "+3.5", "2017-002766-50", "2024-03", "2024-03-01", "", "a=b", "x-1", 52, 0]
)
def test_safe_cell_keeps_ordinary_values(value):
    assert safe_cell(value) == value


def test_dangerous_cells_are_neutralised_in_the_file(client):
    trial = TrialFactory(
        brief_title="=cmd|' /C calc'!A0",
        acronym="+1+2",
        sponsor="@SUM(1+1)*cmd|' /C calc'!A0",
        start_date=datetime.date(2024, 3, 1),
        start_date_precision="DAY",
    )
    RegistryIdentifierFactory(trial=trial, registry=Registry.OTHER, value="-2+3+cmd|' /C calc'!A0")
    RegistryIdentifierFactory(trial=trial, registry=Registry.OTHER, value="-12345", is_primary=False)
    RegistryIdentifierFactory(trial=trial, registry=Registry.EUDRACT, value="2017-002766-50", is_primary=False)
    other = TrialFactory(brief_title="\tTabbed", sponsor="\r\nNew line", acronym="-")
    RegistryIdentifierFactory(trial=other, registry=Registry.OTHER, value="-12345678")
    rows = {row["sponsor"]: row for row in export(client)}

    row = rows["'@SUM(1+1)*cmd|' /C calc'!A0"]
    assert row["brief_title"] == "'=cmd|' /C calc'!A0"
    assert row["acronym"] == "'+1+2"
    assert row["primary_identifier"] == "'-2+3+cmd|' /C calc'!A0"
    assert row["identifiers"] == "'-2+3+cmd|' /C calc'!A0; 2017-002766-50; -12345"  # the cell as a whole
    assert row["start_date"] == "2024-03-01"

    row = rows["'\r\nNew line"]
    assert row["brief_title"] == "'\tTabbed"
    assert row["acronym"] == "'-"
    assert row["primary_identifier"] == "-12345678"  # a negative-looking identifier survives as it is
    assert row["identifiers"] == "-12345678"


def test_rfc_4180_quoting_and_line_ends(client):
    TrialFactory(brief_title='Cells, "islets"\nand more', sponsor="A; B")
    raw = content(client.get(EXPORT_URL)).decode()
    assert raw.endswith("\r\n")
    assert raw.count("\r\n") == 2
    assert '"Cells, ""islets""\nand more"' in raw
    [row] = export(client)
    assert row["brief_title"] == 'Cells, "islets"\nand more'


def test_non_ascii_text(client):
    TrialFactory(brief_title="Cellules souches à Malmö — 干细胞治疗糖尿病", sponsor="Universitätsklinikum Köln")
    response = client.get(EXPORT_URL)
    raw = content(response)
    assert "Malmö — 干细胞".encode() in raw
    assert not raw.startswith(b"\xef\xbb\xbf")
    [row] = export(client)
    assert row["brief_title"] == "Cellules souches à Malmö — 干细胞治疗糖尿病"
    assert row["sponsor"] == "Universitätsklinikum Köln"


def test_byte_order_mark_on_request(client):
    TrialFactory(sponsor="Université de Genève")
    plain = content(client.get(EXPORT_URL))
    with_bom = content(client.get(EXPORT_URL + "?bom=1"))
    assert with_bom == b"\xef\xbb\xbf" + plain
    header, row = parse(with_bom.decode("utf-8-sig"))
    assert header == HEADER
    assert row[HEADER.index("sponsor")] == "Université de Genève"


# --- The response ---------------------------------------------------------------------------------


def test_streamed_with_headers_and_dated_file_name(client, frozen_today):
    TrialFactory.create_batch(3)
    response = client.get(EXPORT_URL)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="stem-cell-diabetes-trials-2026-11-24.csv"'
    assert export_filename() == "stem-cell-diabetes-trials-2026-11-24.csv"
    chunks = iter(response.streaming_content)
    assert next(chunks).startswith(b"primary_identifier,identifiers,")  # the header leaves before any row is read
    assert [chunk.count(b"\r\n") for chunk in chunks] == [3]  # then the rows, CHUNK_LINES at a time


def test_rows_are_sent_in_chunks_of_lines():
    lines = [f"{number}\r\n" for number in range(7)]
    assert list(in_chunks(lines, size=3)) == ["0\r\n", "1\r\n2\r\n3\r\n", "4\r\n5\r\n6\r\n"]
    assert list(in_chunks(lines[:1], size=3)) == ["0\r\n"] and list(in_chunks([], size=3)) == []


def test_invalid_parameters_get_the_lists_400(client):
    for query in ["status=NOPE", "started_after=yesterday", "mechanism=telepathy&phase=PHASE1", "page_size=5000"]:
        page = client.get(f"{LIST_URL}?{query}")
        response = client.get(f"{EXPORT_URL}?{query}")
        assert page.status_code == response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        # The same page, saying which value was not understood; only the menu's "you are here" and the address
        # a shared link names (og:url, the address asked for) differ.
        expected = page.content.replace(b' aria-current="page"', b"", 1)
        expected = expected.replace(b'/trials/">', b'/trials/export.csv">', 1)
        assert b'<meta property="og:url" content="http://127.0.0.1:8000/trials/export.csv">' in response.content
        assert response.content == expected


def test_the_list_links_to_the_export_with_its_filters(client, registry):
    response = client.get(f"{LIST_URL}?status=RECRUITING&phase=PHASE1&page_size=10&sort=title")
    link = EXPORT_URL + "?" + urlencode({"status": "RECRUITING", "phase": "PHASE1", "sort": "title"})
    assert f'href="{link.replace("&", "&amp;")}"' in response.content.decode()


# --- Queries --------------------------------------------------------------------------------------


def make_trials(count, start=0):
    """`count` published trials with identifiers, mechanisms, countries, types, routes and publications."""
    trials = Trial.objects.bulk_create(
        Trial(
            slug=f"bulk-{start + n}",
            brief_title=f"Bulk trial {n}",
            curation_state=CurationState.PUBLISHED,
            overall_status="RECRUITING",
            status_confirmed_on=datetime.date(2026, 1, 1),
            status_confirmed_on_precision="DAY",
            last_reviewed_on=datetime.date(2026, 1, 1),
        )
        for n in range(count)
    )
    if not trials[0].pk:  # backends that do not return primary keys from bulk_create
        trials = list(Trial.objects.filter(slug__startswith="bulk-").order_by("pk"))[start:]
    mechanism = Mechanism.objects.get(slug="immune-regulation")
    RegistryIdentifier.objects.bulk_create(
        RegistryIdentifier(trial=t, registry="NCT", value=f"NCT{20000000 + start + n:08d}", is_primary=True)
        for n, t in enumerate(trials)
    )
    TrialMechanism.objects.bulk_create(TrialMechanism(trial=t, mechanism=mechanism, rationale="r") for t in trials)
    for relation, values in [("countries", ["SE", "US"]), ("diabetes_types", ["T1D"]), ("routes", ["INTRAVENOUS"])]:
        through = getattr(Trial, relation).through
        target = [f.name for f in through._meta.get_fields() if f.is_relation and f.name != "trial"][0]
        through.objects.bulk_create(through(trial=t, **{f"{target}_id": v}) for t in trials for v in values)
    PublicationFactory._meta.model.objects.bulk_create(
        PublicationFactory.build(trial=t, pmid=str(start + n + 1)) for n, t in enumerate(trials)
    )


@pytest.mark.parametrize("query", ["", "mechanism=immune-regulation&country=SE&q=bulk&sort=status"])
def test_same_number_of_queries_for_10_and_1000_trials(client, django_assert_num_queries, query):
    make_trials(10)
    with django_assert_num_queries(3 if query else 1):  # validating a mechanism and a country: one query each
        assert len(export(client, query)) == 10
    make_trials(990, start=10)
    with django_assert_num_queries(3 if query else 1):
        rows = export(client, query)
    assert len(rows) == 1000
    assert {row["countries"] for row in rows} == {"SE; US"}


# --- manage.py export_trials ----------------------------------------------------------------------


def command_output(*args):
    out = io.StringIO()
    call_command("export_trials", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "query"),
    [
        ([], ""),
        (
            ["--status", "RECRUITING", "--status", "COMPLETED", "--sort", "title"],
            "status=RECRUITING&status=COMPLETED&sort=title",
        ),
        (["--mechanism", "immune-regulation", "--country", "SE"], "mechanism=immune-regulation&country=SE"),
        (["--q", "islet", "--started_after", "2018-01-01"], "q=islet&started_after=2018-01-01"),
        (["--query", "phase=PHASE1&phase=PHASE2&sort=-start"], "phase=PHASE1&phase=PHASE2&sort=-start"),
    ],
)
def test_command_writes_the_same_file_to_stdout(client, registry, args, query):
    expected = content(client.get(f"{EXPORT_URL}?{query}")).decode()
    assert len(parse(expected)) > 1
    assert command_output(*args) == expected


def test_command_writes_a_file_with_a_byte_order_mark(client, registry, tmp_path):
    path = tmp_path / "trials.csv"
    summary = command_output("--diabetes_type", "T1D", "--bom", "-o", str(path))
    expected = content(client.get(f"{EXPORT_URL}?diabetes_type=T1D&bom=1"))
    assert path.read_bytes() == expected
    assert summary == f"Exported {len(parse(expected.decode('utf-8-sig'))) - 1} trials to {path}.\n"


def test_command_refuses_values_it_does_not_understand(tmp_path):
    path = tmp_path / "trials.csv"
    with pytest.raises(CommandError, match="telepathy"):
        command_output("--mechanism", "telepathy", "-o", str(path))
    assert not path.exists()


def test_extra_columns_for_the_admin(django_assert_num_queries):
    TrialFactory(curation_state=CurationState.DRAFT, curator_notes="=check the dose")
    TrialFactory(curation_state=CurationState.PUBLISHED, curator_notes="")
    extra = [
        Column(
            "curation_state", "Draft, in review or published.", lambda t, today: t.curation_state, ("curation_state",)
        ),
        Column("curator_notes", "Never public.", lambda trial, today: trial.curator_notes, fields=("curator_notes",)),
    ]
    with django_assert_num_queries(1):
        header, *rows = export_rows(Trial.objects.order_by("curation_state"), extra_columns=extra)
    assert header == [*HEADER, "curation_state", "curator_notes"]
    assert [row[-2:] for row in rows] == [["DRAFT", "'=check the dose"], ["PUBLISHED", ""]]


@pytest.mark.parametrize(
    "key", ["NCT04786262", "CTRI/2020/05/025215", "-2+3+cmd|' /C calc'!A0", "a b%20c?d#e", "Malmö-干细胞", "slug-only"]
)
def test_the_url_column_is_the_trials_absolute_url(client, key):
    trial = TrialFactory(slug="slug-only")
    if key != "slug-only":
        RegistryIdentifierFactory(trial=trial, registry=Registry.OTHER, value=key)
    [row] = export(client)
    assert row["url"] == settings.SITE_URL + Trial.objects.with_primary_identifier().get().get_absolute_url()
    assert client.get(row["url"].removeprefix(settings.SITE_URL)).status_code == 200


@pytest.mark.postgres
def test_a_column_may_not_query_while_the_rows_stream():
    """On PostgreSQL the rows are streamed: the connection is busy until the last one, so a column that queried
    would wait for itself forever. It raises instead."""
    TrialFactory()
    querying = Column("trials", "A count, queried per row (never do this).", lambda t, today: Trial.objects.count())
    with pytest.raises(RuntimeError, match="streaming an export"):
        list(export_rows(Trial.objects.all(), extra_columns=[querying]))
