"""A record's canonical form, fingerprint and differences (trials/records.py), on plain records."""

import copy

from trials import canonical as records
from trials import vocabularies

RECORD = {
    "slug": "example",
    "brief_title": "Cells in type 1 diabetes",
    "overall_status": "COMPLETED",
    "status_confirmed_on": "2023-03-01",
    "status_confirmed_on_precision": "MONTH",
    "status_source": 1,
    "start_date": {"date": "2019-05-01", "precision": "MONTH", "type": ""},
    "countries": ["SE", "DK"],
    "collaborators": ["B", "A"],
    "immunosuppression": "UNKNOWN",
    "identifiers": [{"registry": "NCT", "value": "NCT01234567", "primary": True}],
    "publications": [{"citation": "A et al. 2023", "doi": "10.1/x", "pmid": "", "year": 2023, "kind": "RESULTS"}],
    "sources": [
        {"url": "https://a.example/", "kind": "NEWS", "date": None, "used_for": "x"},
        {"url": "https://b.example/", "kind": "REGISTRY", "date": "2023-03-01", "date_precision": "MONTH"},
    ],
    "outcomes": [{"measure": "C_PEPTIDE", "result": "kept", "n": None, "publication": 0, "source": None}],
    "curation_state": "PUBLISHED",
}


def test_the_canonical_form_names_links_by_content_and_leaves_out_what_is_empty():
    form = records.canonical(RECORD)
    assert form["status_source"] == "https://b.example/"
    assert form["outcomes"] == [{"measure": "C_PEPTIDE", "result": "kept", "publication": "A et al. 2023"}]
    assert form["countries"] == ["DK", "SE"]  # no order in the database
    assert form["collaborators"] == ["B", "A"]  # one per line: their order is kept
    assert form["start_date"] == {"date": "2019-05-01", "precision": "MONTH"}
    assert "immunosuppression" not in form  # UNKNOWN is the default: the same as not given
    assert "curation_state" not in form
    assert "summary" not in form


def test_the_fingerprint_does_not_depend_on_order_or_on_empty_fields():
    shuffled = copy.deepcopy(RECORD)
    shuffled["sources"].reverse()
    shuffled["status_source"] = 0
    shuffled["countries"].reverse()
    shuffled["why_stopped"] = ""
    shuffled["sites"] = []
    assert records.fingerprint(shuffled) == records.fingerprint(RECORD)


def test_a_date_without_a_precision_is_a_day():
    record = dict(RECORD, status_confirmed_on_precision="")
    assert records.canonical(record)["status_confirmed_on_precision"] == "DAY"
    source = {"url": "https://c.example/", "date": "2020-01-02"}
    assert records.canonical({"sources": [source]})["sources"][0]["date_precision"] == "DAY"


def test_any_change_changes_the_fingerprint():
    changed = copy.deepcopy(RECORD)
    changed["outcomes"][0]["result"] = "lost"
    assert records.fingerprint(changed) != records.fingerprint(RECORD)


def test_differences_field_by_field_in_a_curators_order():
    new = copy.deepcopy(RECORD)
    new["overall_status"] = "TERMINATED"
    new["status_confirmed_on"] = "2024-06-30"
    new["status_confirmed_on_precision"] = "DAY"
    new["why_stopped"] = "Funding"
    new["countries"] = ["SE"]
    new["curation_state"] = "DRAFT"
    changes = records.differences(RECORD, new)
    assert list(changes) == ["overall_status", "status_confirmed_on", "why_stopped", "countries"]
    assert changes["status_confirmed_on"] == {
        "old": {"date": "2023-03-01", "precision": "MONTH"},
        "new": {"date": "2024-06-30", "precision": "DAY"},
    }
    assert changes["why_stopped"] == {"old": None, "new": "Funding"}
    assert records.differences(RECORD, copy.deepcopy(RECORD)) == {}


def test_every_field_has_a_label_and_every_value_a_display():
    for name in records.FIELDS:
        assert records.field_label(name)
    assert records.display("countries", ["DK", "SE"]) == "DK, SE"
    assert records.display("why_stopped", None) == "—"
    assert records.display("overall_status", "ACTIVE_NOT_RECRUITING") == "Active, not recruiting"  # labels, not codes
    assert records.display("phase", "PHASE1_PHASE2") == "Phase 1/2"
    assert records.display("diabetes_types", ["T1D"]) == vocabularies.DiabetesType("T1D").label
    assert records.display("overall_status", "NO_SUCH_CODE") == "NO_SUCH_CODE"
    assert records.display("gene_edited", True) == "Yes"
    shown = records.display("sources", records.canonical(RECORD)["sources"])
    assert "https://b.example/" in shown and "Registry record" in shown
