"""Study records checked before mapping: bounded JSON parsing and the shape of what the mapping reads."""

import copy
import json
from pathlib import Path

import pytest

from trials.ctgov import CtgovError, validation

DATA = Path(__file__).resolve().parent / "data" / "ctgov"
FILES = sorted(DATA.glob("NCT*.json"))


def study(nct_id="NCT00763412"):
    return json.loads((DATA / f"{nct_id}.json").read_text())


def deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


# (what, change to a real record, the field path the message names): the type-confused records of the
# review (a sponsor, enrollment or eligibility of the wrong type, lists given as numbers, locations [1], a NUL
# byte, a lone surrogate, deep nesting), and more of the same kinds.
def set_path(path, value):
    def change(record):
        *parents, last = path.split(".")
        target = record
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return change


PS = "protocolSection"
SPONSORS = f"{PS}.sponsorCollaboratorsModule"
IDS = f"{PS}.identificationModule"
HOSTILE = [
    ("a module given as text", set_path(f"{PS}.descriptionModule", "x"), f"{PS}.descriptionModule"),
    ("sponsor as text", set_path(f"{SPONSORS}.leadSponsor", "Acme"), "leadSponsor"),
    ("sponsor as a list", set_path(f"{SPONSORS}.leadSponsor", ["Acme"]), "leadSponsor"),
    ("sponsor name as a number", set_path(f"{SPONSORS}.leadSponsor.name", 12), "leadSponsor.name"),
    (
        "sponsor class as a list",
        set_path(f"{SPONSORS}.leadSponsor.class", ["X"]),
        "leadSponsor.class",
    ),
    ("collaborators as text", set_path(f"{SPONSORS}.collaborators", "Acme"), "collaborators"),
    (
        "collaborators as names",
        set_path(f"{SPONSORS}.collaborators", ["Acme"]),
        "collaborators[0]",
    ),
    ("enrollment as a number", set_path(f"{PS}.designModule.enrollmentInfo", 12), "enrollmentInfo"),
    ("enrollment count as text", set_path(f"{PS}.designModule.enrollmentInfo.count", "12"), "enrollmentInfo.count"),
    ("enrollment count as a fraction", set_path(f"{PS}.designModule.enrollmentInfo.count", 12.5), "count"),
    ("enrollment count as true", set_path(f"{PS}.designModule.enrollmentInfo.count", True), "count"),
    ("eligibility as text", set_path(f"{PS}.eligibilityModule", "adults"), "eligibilityModule"),
    ("eligibility sex as a list", set_path(f"{PS}.eligibilityModule.sex", ["ALL"]), "eligibilityModule.sex"),
    ("conditions as a number", set_path(f"{PS}.conditionsModule.conditions", 5), "conditionsModule.conditions"),
    ("phases as a number", set_path(f"{PS}.designModule.phases", 1), "designModule.phases"),
    ("interventions as a number", set_path(f"{PS}.armsInterventionsModule.interventions", 3), "interventions"),
    ("secondary IDs as a number", set_path(f"{PS}.identificationModule.secondaryIdInfos", 2), "secondaryIdInfos"),
    ("references as a number", set_path(f"{PS}.referencesModule.references", 4), "referencesModule.references"),
    ("locations [1]", set_path(f"{PS}.contactsLocationsModule.locations", [1]), "locations[0]"),
    ("a null collaborator", set_path(f"{SPONSORS}.collaborators", [None]), "collaborators[0]: should not be null"),
    ("a date as text", set_path(f"{PS}.statusModule.startDateStruct", "2020-01"), "statusModule.startDateStruct"),
    ("the sponsor's ID as text", set_path(f"{PS}.identificationModule.orgStudyIdInfo", "X"), "orgStudyIdInfo"),
    ("a status as a number", set_path(f"{PS}.statusModule.overallStatus", 1), "statusModule.overallStatus"),
    ("a NUL byte", set_path(f"{PS}.identificationModule.briefTitle", "Stem\x00cells"), "briefTitle"),
    ("a lone surrogate", set_path(f"{PS}.identificationModule.acronym", "AB\ud800"), "acronym"),
    ("deep nesting", set_path(f"{PS}.conditionsModule.keywords", deep(100)), "conditionsModule.keywords[0][0][0]"),
    (
        "a title longer than the registry holds",
        set_path(f"{IDS}.briefTitle", "t" * 301),
        "briefTitle",
    ),
]


def test_real_records_have_no_problem():
    assert len(FILES) == 5
    for path in FILES:
        record = validation.parse_json(path.read_bytes(), path.name)
        assert validation.study_problems(record, path.name) == []


def test_the_reviews_reproducer_names_the_record_and_the_field():
    record = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT08880001", "briefTitle": "t"},
            "descriptionModule": "x",
        }
    }
    assert validation.study_problems(record, "bad.json (NCT08880001)") == [
        "bad.json (NCT08880001): protocolSection.descriptionModule: should be a JSON object; got text ('x')."
    ]


@pytest.mark.parametrize("what, change, field", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_each_type_confused_record_is_named_with_its_field(what, change, field):
    record = study()
    change(record)
    problems = validation.study_problems(record, "bad.json")
    assert problems, what
    assert all(problem.startswith("bad.json: ") for problem in problems)
    assert any(field in problem for problem in problems), problems


def test_messages_say_what_was_expected():
    record = study()
    record[PS]["designModule"]["enrollmentInfo"]["count"] = "12"
    record[PS]["identificationModule"]["briefTitle"] = "a\x00b"
    record[PS]["identificationModule"]["acronym"] = "\udfff"
    record[PS]["contactsLocationsModule"]["locations"] = [1]
    record[PS]["identificationModule"]["nctId"] = None
    assert validation.study_problems(record, "x") == [
        f"x: {PS}.identificationModule.nctId: missing; the record has no nctId.",
        f"x: {PS}.identificationModule.briefTitle: contains a NUL character (at position 1), which the database "
        "cannot store.",
        f"x: {PS}.identificationModule.acronym: contains a lone surrogate (U+DFFF at position 0), which is not a "
        "character.",
        f"x: {PS}.designModule.enrollmentInfo.count: should be a whole number; got text ('12').",
        f"x: {PS}.contactsLocationsModule.locations[0]: should be a JSON object; got a number (1).",
    ]


def test_a_list_longer_than_any_record_has():
    record = study()
    record[PS]["designModule"]["phases"] = ["PHASE1"] * 11
    assert validation.study_problems(record, "x") == [
        f"x: {PS}.designModule.phases: 11 items, more than a study record has (at most 10)."
    ]


def test_a_very_broken_record_lists_ten_problems_and_says_there_are_more():
    record = study()
    record[PS]["contactsLocationsModule"]["locations"] = [1] * 50
    problems = validation.study_problems(record, "x")
    assert len(problems) == 11 and problems[-1] == "x: and more problems, not listed."


def test_null_is_an_absent_field_and_unread_fields_are_left_alone():
    record = study()
    record[PS]["descriptionModule"] = None
    record[PS]["outcomesModule"] = "anything"
    record["resultsSection"] = [1, "\x00"]
    assert validation.study_problems(record, "x") == []


@pytest.mark.parametrize("value", [None, 1, "x", [], [1], True])
def test_what_is_not_a_record_at_all(value):
    (problem,) = validation.study_problems(value, "x")
    assert problem.startswith("x: not a ClinicalTrials.gov study: expected a JSON object") or problem == (
        "x: protocolSection: missing; the record has no protocolSection."
    )


def test_the_check_does_not_change_the_record():
    record = study()
    before = copy.deepcopy(record)
    validation.study_problems(record, "x")
    assert record == before


# --- Parsing within bounds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document, message",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 32 deep"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested more than 32 deep"),
        (b"[" + b"{}," * 200_001 + b"{}]", "more than 200,000 objects and lists"),
        (b"1" * 5_000, "a number of more than 4,300 digits"),
        (b'{"count": NaN}', "NaN is not a JSON number"),
        (b'{"count": Infinity}', "Infinity is not a JSON number"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b'{"protocolSection": ', "malformed JSON (Expecting value at line 1, column 21)"),
        (b" " * 5_000_001, "5,000,001 bytes is larger than a study record can be (at most 5 MB)"),
    ],
    ids=["brackets", "objects", "many", "digits", "nan", "infinity", "utf8", "truncated", "size"],
)
def test_documents_refused_before_python_parses_them(document, message):
    with pytest.raises(CtgovError) as info:
        validation.parse_json(document, "bad.json")
    assert str(info.value).startswith("bad.json: ") and message in str(info.value)


def test_brackets_inside_text_do_not_count():
    text = json.dumps({"a": "[" * 1000 + '\\"{' * 100, "b": [[["x"]]]})
    assert validation.parse_json(text.encode(), "x")["b"] == [[["x"]]]


def test_depth_exactly_at_the_bound_parses():
    assert validation.parse_json(b"[" * 32 + b"]" * 32, "x") == deep(31)


def test_a_byte_order_mark_is_allowed():
    assert validation.parse_json("\ufeff{}".encode(), "x") == {}
