"""The curation's format (version 2) onto the registry's data format: dates, identifiers, vocabularies."""

import pytest

from trials import curation_format as cf

COUNTRIES = {"sweden": "SE", "united states": "US", "china": "CN"}

RECORD = {
    "id": "example-msc",
    "registry_ids": ["NCT03406585", "EUCTR2017-002766-50-SE"],
    "registry_search_note": None,
    "brief_title": "Wharton's jelly cells in type 1 diabetes",
    "official_title": None,
    "acronym": None,
    "org_study_id": "ProTrans-T1D",
    "sponsor": "NextCell Pharma AB",
    "collaborators": None,
    "product_name": "ProTrans",
    "condition": "Recently diagnosed type 1 diabetes",
    "diabetes_types": ["T1D"],
    "population_notes": "Adults aged 18 to 40.",
    "phase": "PHASE1/PHASE2",
    "study_type": "INTERVENTIONAL",
    "overall_status": "COMPLETED",
    "status_as_of": "2023-03",
    "status_source": 1,
    "why_stopped": None,
    "start_date": "2017-11-28",
    "start_date_type": None,
    "primary_completion_date": "2020-07",
    "primary_completion_date_type": "ACTUAL",
    "completion_date": "2020",
    "completion_date_type": None,
    "enrollment": {"count": 24, "type": "ACTUAL"},
    "countries": ["Sweden"],
    "locations": [{"facility": "Karolinska University Hospital", "city": None, "country": "Sweden"}],
    "cell_source": "Allogeneic (donor) mesenchymal stromal cells from umbilical cord Wharton's jelly",
    "autologous_or_allogeneic": "allogeneic",
    "differentiated_in_vitro": False,
    "product_form": "Undifferentiated mesenchymal stromal cells",
    "route": "Single intravenous infusion",
    "encapsulation": "none",
    "immunosuppression": "none",
    "mechanisms": [{"mechanism": "immunomodulation", "role": "primary", "rationale": "Calms the attack."}],
    "key_results": None,
    "outcomes": [{"measure": "c_peptide", "result": "90% vs 53%", "n": 15, "timepoint": "1 year", "source": 0}],
    "publications": [
        {"citation": "Carlsson PO", "doi": "10.1/x", "pmid": None, "journal": "D", "year": 2023, "kind": "results"}
    ],
    "sources": [
        {"url": "https://a.example/1", "title": "Copy", "publisher": "X", "kind": "registry_copy", "date": "2023-04-03",
         "used_for": "status"},
        {"url": "https://clinicaltrials.gov/study/NCT03406585", "title": "Record", "publisher": "ClinicalTrials.gov",
         "kind": "registry", "date": None, "used_for": "canonical record"},
    ],
    "related": [],
    "programme": "ProTrans",
    "public_caveats": "Names differ between documents.",
    "curator_notes": "Not re-read.",
}  # fmt: skip


def convert(record=RECORD, previous=None):
    return cf.convert_record(record, countries=COUNTRIES, previous=previous, reviewed_on="2026-11-30")


def test_a_whole_record():
    trial = convert()
    assert trial["identifiers"] == [
        {"registry": "NCT", "value": "NCT03406585", "primary": True},
        {"registry": "EUDRACT", "value": "2017-002766-50", "primary": False},
        {"registry": "OTHER", "value": "ProTrans-T1D", "primary": False},
    ]
    assert trial["phase"] == "PHASE1_PHASE2"
    assert (trial["status_confirmed_on"], trial["status_confirmed_on_precision"]) == ("2023-03-01", "MONTH")
    assert trial["status_source"] == 1
    assert trial["start_date"] == {"date": "2017-11-28", "precision": "DAY", "type": ""}  # type not given: unknown
    assert trial["primary_completion_date"] == {"date": "2020-07-01", "precision": "MONTH", "type": "ACTUAL"}
    assert trial["completion_date"] == {"date": "2020-01-01", "precision": "YEAR", "type": ""}
    assert (trial["enrollment"], trial["enrollment_type"]) == (24, "ACTUAL")
    assert trial["countries"] == ["SE"]
    assert trial["sites"] == [{"facility": "Karolinska University Hospital", "city": "", "country": "SE"}]
    assert (trial["cell_source"], trial["cell_origin"], trial["differentiation"]) == (
        "MSC_UC",
        "ALLOGENEIC",
        "UNDIFFERENTIATED",
    )
    assert trial["routes"] == ["INTRAVENOUS"]
    assert trial["route_notes"] == "Single intravenous infusion"
    assert (trial["immunosuppression"], trial["encapsulation"]) == ("NONE", "NONE")
    assert trial["mechanisms"] == [
        {"mechanism": "immune-regulation", "role": "PRIMARY", "rationale": "Calms the attack."}
    ]
    assert trial["sources"][0] == {
        "url": "https://a.example/1",
        "title": "Copy",
        "publisher": "X",
        "kind": "REGISTRY_COPY",
        "date": "2023-04-03",
        "date_precision": "DAY",
        "used_for": "status",
    }
    assert trial["sources"][1]["date"] is None and trial["sources"][1]["date_precision"] == ""
    assert trial["publications"][0]["kind"] == "RESULTS"
    assert trial["outcomes"][0] == {
        "measure": "C_PEPTIDE",
        "result": "90% vs 53%",
        "n": 15,
        "timepoint": "1 year",
        "publication": None,
        "source": 0,
    }
    assert trial["population_notes"] == "Recently diagnosed type 1 diabetes. Adults aged 18 to 40."
    assert trial["public_caveats"] == "Names differ between documents."
    assert trial["curator_notes"] == "Not re-read."
    assert trial["key_results"] == ""
    assert trial["last_reviewed_on"] == "2026-11-30"
    assert trial["curation_state"] == "PUBLISHED"


def test_no_status_means_no_confirmation_date_and_no_status_source():
    trial = convert(dict(RECORD, overall_status=None, status_as_of=None, status_source=None))
    assert (trial["overall_status"], trial["status_confirmed_on"], trial["status_source"]) == ("", None, None)


def test_facts_the_curation_does_not_carry_come_from_the_previous_file():
    previous = {"summary": "Plain words.", "sponsor_class": "INDUSTRY", "follow_up_months": 12, "gene_edited": False}
    trial = convert(previous=previous)
    assert (trial["summary"], trial["sponsor_class"], trial["follow_up_months"], trial["gene_edited"]) == (
        "Plain words.",
        "INDUSTRY",
        12,
        False,
    )
    new = convert()
    assert (new["summary"], new["sponsor_class"], new["follow_up_months"], new["gene_edited"]) == ("", "", None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NCT04786262", {"registry": "NCT", "value": "NCT04786262"}),
        ("EUCTR2017-002766-50-SE", {"registry": "EUDRACT", "value": "2017-002766-50"}),
        ("ChiCTR2300072200", {"registry": "CHICTR", "value": "ChiCTR2300072200"}),
        ("ChiCTR-ONC-10000985", {"registry": "CHICTR", "value": "ChiCTR-ONC-10000985"}),
        ("IRCT2016070428786N1", {"registry": "IRCT", "value": "IRCT2016070428786N1"}),
    ],
)
def test_identifiers(value, expected):
    assert cf.identifier(value) == expected


def test_an_unknown_identifier_is_an_error():
    with pytest.raises(cf.FormatError):
        cf.identifier("ABC-123")


def test_without_a_registry_identifier_no_identifier_is_primary():
    trial = convert(dict(RECORD, registry_ids=[], registry_search_note="Searched CT.gov and ICTRP."))
    assert trial["identifiers"] == [{"registry": "OTHER", "value": "ProTrans-T1D", "primary": False}]
    assert trial["registry_search_note"] == "Searched CT.gov and ICTRP."


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Human embryonic stem cells, made into pancreatic progenitor cells", "ESC"),
        ("Allogeneic induced pluripotent stem (iPS) cells", "IPSC"),
        ("Allogeneic (donor) stem cell-derived islet cells", "PSC"),
        ("Umbilical cord mesenchymal stem cells (donor)", "MSC_UC"),
        ("The patient's own bone marrow mesenchymal stem cells", "MSC_BM"),
        ("Allogeneic adipose tissue-derived stromal/stem cells", "MSC_AD"),
        ("Human menstrual blood-derived mesenchymal stem cells (MenSCs)", "MSC_OTHER"),
        ("The patient's own blood-forming (haematopoietic) stem cells", "HSC"),
        ("The child's own (autologous) umbilical cord blood", "CORD_BLOOD"),
        ("The patient's own bone marrow mononuclear cells combined with umbilical cord MSCs", "BM_MNC"),
        ("Perinatal tissue-derived cells", "OTHER"),
        (None, ""),
    ],
)
def test_cell_source(text, code):
    assert cf.cell_source(text) == code


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Single infusion into the hepatic portal vein", ["PORTAL_VEIN"]),
        ("Intra-arterial infusion into the pancreas by angiography", ["PANCREATIC_ARTERY"]),
        ("Intrapancreatic infusion", ["INTRAPANCREATIC"]),
        ("Implantation of devices behind the muscles of the abdominal wall", ["DEVICE"]),
        ("Day 0 through the pancreatic artery, then intravenously", ["INTRAVENOUS", "PANCREATIC_ARTERY"]),
        ("Extracorporeal closed loop", ["EXTRACORPOREAL"]),
        ("Infusion (route not stated in the sources seen)", []),
        (None, []),
    ],
)
def test_routes(text, codes):
    assert cf.routes(text) == codes


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("none", "NONE"),
        ("None (immune-suppressing medication is an exclusion criterion)", "NONE"),
        ("None described in the registry record", "UNKNOWN"),
        ("none stated", "UNKNOWN"),
        ("required - glucocorticoid-free immunosuppressive therapy, continued as maintenance", "CHRONIC"),
        ("Immunoablative conditioning with high-dose cyclophosphamide", "SHORT_COURSE"),
        ("Immunosuppressants given with the transplant", "UNKNOWN"),
        (None, "UNKNOWN"),
    ],
)
def test_immunosuppression(text, code):
    assert cf.immunosuppression(text) == code


def test_differentiation_and_encapsulation():
    assert cf.differentiation(True, "Pancreatic endoderm (progenitor) cells") == "PROGENITOR"
    assert cf.differentiation(True, "Fully differentiated islet cells") == "DIFFERENTIATED"
    assert cf.differentiation(None, "x") == ""
    assert cf.encapsulation("immunoprotective device (Encaptra)") == "IMMUNOPROTECTIVE"
    assert cf.encapsulation("open device (perforated)") == "OPEN_DEVICE"
    assert cf.encapsulation(None) == ""


def test_a_whole_file_checks_related_trials_and_indexes():
    other = dict(RECORD, id="other", registry_ids=[], org_study_id=None, related=[])
    first = dict(RECORD, related=[{"id": "other", "relation": "successor"}])
    data = cf.convert([first, other], countries=COUNTRIES, reviewed_on="2026-11-30")
    assert data["format"] == cf.DATA_FORMAT_VERSION and data["version"] == "2026-11-30"
    assert data["trials"][0]["related"] == [{"slug": "other", "relation": "SUCCESSOR"}]
    with pytest.raises(cf.FormatError, match="related trial 'missing'"):
        cf.convert(
            [dict(RECORD, related=[{"id": "missing", "relation": "successor"}])],
            countries=COUNTRIES,
            reviewed_on="2026-11-30",
        )
    with pytest.raises(cf.FormatError, match="status_source"):
        cf.convert([dict(RECORD, status_source=5)], countries=COUNTRIES, reviewed_on="2026-11-30")


@pytest.mark.parametrize(
    "change",
    [{"phase": None, "sources": [dict(RECORD["sources"][0], kind="blog")]}, {"countries": ["Atlantis"]}],
)
def test_a_record_that_does_not_fit_names_itself(change):
    with pytest.raises(cf.FormatError, match="record 'example-msc'"):
        convert(dict(RECORD, **change))
