"""The evidence side by side (trials/evidence.py, trials/evidence_views.py): /evidence/, /evidence/export.csv and
each mechanism's part of it. Only published trials' outcomes, filtered by measure, mechanism and cell source."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from tests.factories import PublicationFactory, SourceFactory, trial_with
from trials.actions import INITIAL_DATA
from trials.evidence import EVIDENCE_COLUMNS
from trials.models import Outcome, Trial
from trials.vocabularies import CellSource, CurationState, OutcomeMeasure

pytestmark = pytest.mark.django_db


def outcome(trial, measure=OutcomeMeasure.HBA1C, result="HbA1c fell below 7% in 8 of 10", **fields):
    if "publication" not in fields and "source" not in fields:
        fields["publication"] = PublicationFactory(trial=trial)
    return Outcome.objects.create(trial=trial, measure=measure, result=result, **fields)


def csv_rows(response):
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def evidence():
    """Two published trials with outcomes (different mechanisms and cell sources) and a draft with one."""
    islets = trial_with(
        identifier="NCT04786262",
        brief_title="Stem cell-derived islets",
        acronym="FORWARD",
        mechanisms=["beta-cell-regeneration"],
        cell_source=CellSource.EMBRYONIC,
    )
    msc = trial_with(
        identifier="NCT01068951",
        brief_title="Mesenchymal cells at onset",
        mechanisms=["immune-regulation"],
        cell_source=CellSource.MSC_UMBILICAL_CORD,
    )
    draft = trial_with(brief_title="A draft", mechanisms=["immune-regulation"], curation_state=CurationState.DRAFT)
    return {
        "islets-c-peptide": outcome(
            islets, OutcomeMeasure.C_PEPTIDE, "C-peptide detectable in all 12", n=12, timepoint="day 365"
        ),
        "islets-independence": outcome(islets, OutcomeMeasure.INSULIN_INDEPENDENCE, "10 of 12 insulin-independent"),
        "msc-hba1c": outcome(msc, result="HbA1c 0.5 points lower", source=SourceFactory(trial=msc, title="Press")),
        "draft": outcome(draft, OutcomeMeasure.SAFETY, "Draft result never shown"),
    }


def page(client, **params):
    return client.get(reverse("evidence:list"), params)


# --- The page --------------------------------------------------------------------------------------------


def test_every_published_outcome_and_no_draft_is_listed_with_its_caveat(client, evidence):
    response = page(client)
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("islets-c-peptide", "islets-independence", "msc-hba1c"):
        assert evidence[name].result in html
    assert "Draft result never shown" not in html and "A draft" not in html
    assert "3 published results" in html
    assert "not proof" in html and "cannot be compared like for like" in html
    # Its trial (linked, with its identifier), mechanism, cell source, participants, timepoint and publication
    assert 'href="/trials/NCT04786262/"' in html and "FORWARD" in html
    assert "Beta-cell" in html or "beta-cell" in html.lower()
    assert escape(CellSource.EMBRYONIC.label) in html and escape(CellSource.MSC_UMBILICAL_CORD.label) in html
    assert ">12<" in html and "day 365" in html
    publication = evidence["islets-c-peptide"].publication
    assert f'href="https://doi.org/{publication.doi}"' in html
    assert f'href="https://pubmed.ncbi.nlm.nih.gov/{publication.pmid}/"' in html
    assert '">Press</a>' in html  # an outcome reported by a source, not a publication


def test_rows_come_by_measure_in_the_vocabularys_order(client, evidence):
    html = page(client).content.decode()
    positions = [html.index(evidence[name].result) for name in ("islets-independence", "islets-c-peptide", "msc-hba1c")]
    assert positions == sorted(positions)  # insulin independence, C-peptide, HbA1c


@pytest.mark.parametrize(
    "params, shown",
    [
        ({"measure": "C_PEPTIDE"}, {"islets-c-peptide"}),
        ({"measure": ["C_PEPTIDE", "HBA1C"]}, {"islets-c-peptide", "msc-hba1c"}),
        ({"measure": "hba1c"}, {"msc-hba1c"}),  # codes are read in any case
        ({"mechanism": "immune-regulation"}, {"msc-hba1c"}),
        (
            {"mechanism": ["immune-regulation", "beta-cell-regeneration"]},
            {"islets-c-peptide", "islets-independence", "msc-hba1c"},
        ),
        ({"cell_source": "ESC"}, {"islets-c-peptide", "islets-independence"}),
        ({"cell_source": "ESC", "measure": "HBA1C"}, set()),
        ({"mechanism": "angiogenesis"}, set()),
    ],
)
def test_filters_by_measure_mechanism_and_cell_source(client, evidence, params, shown):
    response = page(client, **params)
    assert response.status_code == 200
    html = response.content.decode()
    assert {name for name, item in evidence.items() if item.result in html} == shown
    rows = csv_rows(client.get(reverse("evidence:export"), params))
    assert {row["result"] for row in rows} == {evidence[name].result for name in shown}
    if not shown:
        assert "No published result matches these filters" in html


def test_values_not_understood_get_a_400_that_says_which(client, evidence):
    response = page(client, measure="CURE", cell_source="MAGIC", mechanism="telepathy")
    html = response.content.decode()
    assert response.status_code == 400
    assert "“CURE” is not a measure this registry knows" in html
    assert "“MAGIC” is not a cell source this registry knows" in html
    assert "“telepathy” is not a mechanism this registry knows" in html
    assert evidence["msc-hba1c"].result not in html  # never a wider table than asked for
    export = client.get(reverse("evidence:export"), {"measure": "CURE"})
    assert export.status_code == 400 and "“CURE” is not a measure" in export.content.decode()


def test_no_outcome_at_all(client):
    html = page(client).content.decode()
    assert "No trial in the registry has published results yet." in html


def test_a_filtered_page_is_not_served_for_another_filter(client, evidence):
    assert evidence["msc-hba1c"].result not in page(client, measure="C_PEPTIDE").content.decode()
    assert evidence["msc-hba1c"].result in page(client, measure="HBA1C").content.decode()
    assert page(client, measure=["HBA1C", "C_PEPTIDE"])["X-Page-Cache"] == "miss"
    assert page(client, measure=["C_PEPTIDE", "HBA1C"])["X-Page-Cache"] == "hit"  # the same set of measures


# --- The CSV -----------------------------------------------------------------------------------------------


def test_the_csv_has_the_pages_rows_and_columns(client, evidence):
    response = client.get(reverse("evidence:export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stem-cell-diabetes-evidence-')
    rows = csv_rows(response)
    assert [row["result"] for row in rows] == [
        evidence[name].result for name in ("islets-independence", "islets-c-peptide", "msc-hba1c")
    ]
    first = rows[1]
    publication = evidence["islets-c-peptide"].publication
    assert first == {
        "trial": "NCT04786262",
        "trial_title": "Stem cell-derived islets",
        "trial_url": first["trial_url"],  # below
        "mechanisms": "beta-cell-regeneration",
        "cell_source": "ESC",
        "measure": "C_PEPTIDE",
        "result": "C-peptide detectable in all 12",
        "participants": "12",
        "timepoint": "day 365",
        "publication": publication.citation,
        "doi": publication.doi,
        "pmid": publication.pmid,
        "source_url": "",
    }
    assert first["trial_url"].endswith("/trials/NCT04786262/")
    assert rows[2]["source_url"] == evidence["msc-hba1c"].source.url and rows[2]["publication"] == ""


def test_the_csv_cells_never_run_as_formulas(client):
    trial = trial_with(mechanisms=["immune-regulation"])
    outcome(trial, result='=HYPERLINK("http://evil.example","click")', timepoint="-1+1")
    (row,) = csv_rows(client.get(reverse("evidence:export")))
    assert row["result"].startswith("'=") and row["timepoint"] == "'-1+1"


def make_outcomes(count):
    for number in range(count):
        trial = trial_with(mechanisms=["immune-regulation", "angiogenesis"], cell_source=CellSource.MSC_ADIPOSE)
        publication = PublicationFactory(trial=trial)
        Outcome.objects.bulk_create(
            Outcome(trial=trial, measure=measure, result=f"Result {number}", publication=publication)
            for measure in (OutcomeMeasure.SAFETY, OutcomeMeasure.HBA1C)
        )


# The data version (page cache), the form's mechanisms, the outcomes with their trials, publications and sources,
# the trials' mechanism links; one more to validate a mechanism asked for.
EVIDENCE_QUERIES = {"": 4, "measure=HBA1C&cell_source=MSC_AD": 4, "mechanism=immune-regulation": 5}


@pytest.mark.parametrize("query", list(EVIDENCE_QUERIES))
def test_the_page_and_the_csv_run_a_fixed_number_of_queries(client, django_assert_num_queries, query):
    make_outcomes(2)
    with django_assert_num_queries(EVIDENCE_QUERIES[query]):
        assert client.get(f"/evidence/?{query}").status_code == 200
    make_outcomes(20)
    cache.clear()
    with django_assert_num_queries(EVIDENCE_QUERIES[query]):
        html = client.get(f"/evidence/?{query}").content.decode()
    assert f"{22 if 'HBA1C' in query else 44} published results" in html
    # The CSV: its rows in one query (and the mechanism's validation), not cached.
    with django_assert_num_queries(1 + ("mechanism" in query)):
        assert len(csv_rows(client.get(f"/evidence/export.csv?{query}"))) == 22 * (1 if "HBA1C" in query else 2)


# --- Each mechanism's part --------------------------------------------------------------------------------


def test_a_mechanisms_page_shows_its_own_part(client, evidence):
    html = client.get(reverse("mechanisms:detail", args=["immune-regulation"])).content.decode()
    assert evidence["msc-hba1c"].result in html
    assert evidence["islets-c-peptide"].result not in html  # another mechanism's trial
    assert "Draft result never shown" not in html
    assert "not proof" in html and 'href="/evidence/?mechanism=immune-regulation"' in html
    empty = client.get(reverse("mechanisms:detail", args=["angiogenesis"])).content.decode()
    assert "None of the trials that test this idea has published results yet." in empty


# --- The curated data -----------------------------------------------------------------------------------------


def test_the_table_lists_every_published_outcome_of_the_initial_data_and_never_a_drafts(client):
    call_command("load_initial_data", stdout=io.StringIO())
    data = json.loads(INITIAL_DATA.read_text())["trials"]
    published = [t for t in data if t["curation_state"] == CurationState.PUBLISHED]
    expected = sorted(o["result"] for t in published for o in t.get("outcomes", []))
    assert len(expected) > 100

    rows = csv_rows(client.get(reverse("evidence:export")))
    assert sorted(row["result"] for row in rows) == expected
    html = page(client).content.decode()
    assert f"{len(expected)} published results" in html
    assert html.count("<tr>") == len(expected) + 1  # the header and one row per outcome

    # A trial taken back to draft: its outcomes leave the table and the file.
    hidden = Trial.objects.filter(outcomes__isnull=False).distinct().first()
    hidden_results = set(hidden.outcomes.values_list("result", flat=True))
    Trial.objects.filter(pk=hidden.pk).update(curation_state=CurationState.DRAFT)
    rows = csv_rows(client.get(reverse("evidence:export")))
    assert len(rows) == len(expected) - hidden.outcomes.count()
    assert not hidden_results & {row["result"] for row in rows if row["trial"] == hidden.public_key}
    assert hidden.public_key not in {row["trial"] for row in rows}
    assert f"{len(rows)} published results" in page(client).content.decode()


def test_the_csv_columns_are_the_documented_contract():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = readme.split("## The evidence side by side", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == [column.name for column in EVIDENCE_COLUMNS]
