"""Is a ClinicalTrials.gov study record safe to map? Bounded JSON parsing and the shape of what the mapping reads.

- `parse_json(data, label)` parses a JSON document within bounds: its size, its nesting depth and its number
  of objects and lists are checked before Python's parser sees it (no RecursionError on "[" * 100000, no
  memory blown on a million empty objects). Raises CtgovError naming the document.
- `study_problems(study, name)` lists what is wrong with one API v2 study record, each problem naming the
  record and the field by its path (`protocolSection.designModule.enrollmentInfo.count`): a wrong type, text
  longer than the registry's field can hold, a list longer than any real record has, a character PostgreSQL
  cannot store (NUL, a lone surrogate), nesting deeper than a record has. An empty list means the mapping
  can read every field it reads without a surprise. What a value means (a code, a date's format) is the
  mapping's business: it refuses an unknown one with its own message.

Only the fields the mapping reads are checked; the API's other fields are left alone.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from django.db import models

from trials.ctgov import CtgovError
from trials.models import Country, Publication, RegistryIdentifier, Trial

# --- Bounds on a document ------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 5_000_000  # one file or one answer of the API: a whole study is 10-100 kB
MAX_DEPTH = 32  # objects and lists inside each other: a real record has at most 11
MAX_CONTAINERS = 200_000  # objects and lists in one document: a real record has a few hundred


def _max_length(model: type[models.Model], name: str) -> int:
    length = getattr(model._meta.get_field(name), "max_length", None)
    assert isinstance(length, int)
    return length


# Text mapped onto a field of the registry that has a length: longer is refused (ClinicalTrials.gov's
# own limits are below these, so only a damaged or forged record goes past them).
TITLE_LENGTH = _max_length(Trial, "brief_title")
ACRONYM_LENGTH = _max_length(Trial, "acronym")
NAME_LENGTH = _max_length(Trial, "sponsor")  # a sponsor's or a collaborator's name
IDENTIFIER_LENGTH = _max_length(RegistryIdentifier, "value")
COUNTRY_LENGTH = _max_length(Country, "name")
PMID_LENGTH = _max_length(Publication, "pmid")
CODE_LENGTH = 40  # a code (status, phase, type), a date, an age: short by nature
# Free text (titles, summaries, notes, citations) is not refused for its length: the import cuts it at
# the registry's limits and says so (trials/ctgov/limits.py).

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def parse_json(data: bytes | str, label: str) -> Any:
    """The JSON document `data` (bytes or text), parsed within the bounds above. CtgovError naming `label`."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CtgovError(
            f"{label}: {len(data):,} bytes is larger than a study record can be "
            f"(at most {MAX_DOCUMENT_BYTES // 1_000_000} MB)."
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CtgovError(f"{label}: not UTF-8 text; expected ClinicalTrials.gov API v2 JSON.") from None
    if problem := _structure_problem(data):
        raise CtgovError(f"{label}: {problem}")
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise CtgovError(
            f"{label}: malformed JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from None
    except ValueError as error:  # NaN or Infinity, or a number of more than 4,300 digits
        problem = "a number of more than 4,300 digits" if "digits" in str(error) else str(error)
        raise CtgovError(f"{label}: malformed JSON ({problem}).") from None
    except RecursionError:  # not reached within MAX_DEPTH; kept so that no document can ever crash the import
        raise CtgovError(f"{label}: nested too deeply to read.") from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _structure_problem(text: str) -> str | None:
    """Why the text's objects and lists are nested too deeply or too many, or None. Strings are skipped."""
    depth = containers = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            containers += 1
            if depth > MAX_DEPTH:
                return (
                    f"objects and lists nested more than {MAX_DEPTH} deep (a study record has about 10); "
                    "this is not a study record."
                )
            if containers > MAX_CONTAINERS:
                return (
                    f"more than {MAX_CONTAINERS:,} objects and lists (a study record has a few hundred); "
                    "import fewer studies per file."
                )
        else:
            depth -= 1
    return None


# --- The shape of a study record, as far as the mapping reads it ---------------------------------------


@dataclass(frozen=True)
class Text:
    max_length: int | None = None  # None: any length (the import cuts free text at the registry's limits)
    required: bool = False


@dataclass(frozen=True)
class Number:
    """A whole number, 0 or more."""

    required: bool = False


@dataclass(frozen=True)
class Object:
    fields: dict = field(default_factory=dict)
    required: bool = False


@dataclass(frozen=True)
class ListOf:
    item: object
    max_items: int
    required: bool = False


CODE = Text(CODE_LENGTH)
DATE_STRUCT = Object({"date": CODE, "type": CODE})

STUDY = Object(
    {
        "protocolSection": Object(
            required=True,
            fields={
                "identificationModule": Object(
                    required=True,
                    fields={
                        "nctId": Text(CODE_LENGTH, required=True),
                        "briefTitle": Text(TITLE_LENGTH, required=True),
                        "officialTitle": Text(),
                        "acronym": Text(ACRONYM_LENGTH),
                        "orgStudyIdInfo": Object({"id": Text(IDENTIFIER_LENGTH)}),
                        "secondaryIdInfos": ListOf(
                            Object({"id": Text(IDENTIFIER_LENGTH), "type": CODE, "domain": Text(NAME_LENGTH)}), 200
                        ),
                    },
                ),
                "statusModule": Object(
                    {
                        "overallStatus": CODE,
                        "lastKnownStatus": CODE,
                        "whyStopped": Text(),
                        "statusVerifiedDate": CODE,
                        "startDateStruct": DATE_STRUCT,
                        "primaryCompletionDateStruct": DATE_STRUCT,
                        "completionDateStruct": DATE_STRUCT,
                        "lastUpdatePostDateStruct": DATE_STRUCT,
                    }
                ),
                "sponsorCollaboratorsModule": Object(
                    {
                        "leadSponsor": Object({"name": Text(NAME_LENGTH), "class": CODE}),
                        "collaborators": ListOf(Object({"name": Text(NAME_LENGTH)}), 200),
                    }
                ),
                "descriptionModule": Object({"briefSummary": Text()}),
                "conditionsModule": Object({"conditions": ListOf(Text(), 1_000)}),
                "designModule": Object(
                    {
                        "studyType": CODE,
                        "phases": ListOf(CODE, 10),
                        "enrollmentInfo": Object({"count": Number(), "type": CODE}),
                    }
                ),
                "armsInterventionsModule": Object(
                    {
                        "interventions": ListOf(
                            Object(
                                {
                                    "type": CODE,
                                    "name": Text(),
                                    "description": Text(),
                                    "otherNames": ListOf(Text(), 100),
                                }
                            ),
                            500,
                        )
                    }
                ),
                "eligibilityModule": Object({"minimumAge": CODE, "maximumAge": CODE, "sex": CODE}),
                "contactsLocationsModule": Object(
                    {"locations": ListOf(Object({"country": Text(COUNTRY_LENGTH)}), 20_000)}
                ),
                "referencesModule": Object(
                    {"references": ListOf(Object({"pmid": Text(PMID_LENGTH), "type": CODE, "citation": Text()}), 1_000)}
                ),
            },
        )
    }
)

MAX_PROBLEMS = 10  # listed per record; a record this broken is named with the count of the rest


def study_problems(study: object, name: str) -> list[str]:
    """What is wrong with `study` for the mapping: ["<name>: <field path>: <problem>", ...]; [] when nothing.

    Never raises, whatever `study` is. Iterative (no recursion), so any nesting is safe.
    """
    if not isinstance(study, dict):
        expected = "expected a JSON object with a protocolSection"
        return [f"{name}: not a ClinicalTrials.gov study: {expected}; got {_describe(study)}."]
    problems = []
    if path := _too_deep(study):
        problems.append(f"{path}: objects and lists nested more than {MAX_DEPTH} deep (a study record has about 10)")
    pending: list[tuple[Any, Any, str]] = [(STUDY, study, "")]
    while pending and len(problems) <= MAX_PROBLEMS:
        spec, value, path = pending.pop()
        in_list = path.endswith("]")  # a list's item: null is not an absent field there, but a wrong value
        problem = _value_problem(spec, value) if value is not None or not in_list else "should not be null"
        if problem:
            problems.append(f"{path or 'the record'}: {problem}")
            continue
        if isinstance(spec, Object) and value is not None:
            for key, child in reversed(spec.fields.items()):
                child_path = f"{path}.{key}" if path else key
                if key not in value or value[key] is None:
                    if child.required:
                        problems.append(f"{child_path}: missing; the record has no {key}")
                    continue
                pending.append((child, value[key], child_path))
        elif isinstance(spec, ListOf) and value is not None:
            for position in reversed(range(len(value))):
                pending.append((spec.item, value[position], f"{path}[{position}]"))
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = ["and more problems, not listed"]
    return [f"{name}: {problem}." for problem in problems]


def _value_problem(spec: object, value: object) -> str:
    """Why `value` does not fit `spec` (not looking inside it), or ''."""
    if value is None:
        return ""
    if isinstance(spec, Text):
        if not isinstance(value, str):
            return f"should be text; got {_describe(value)}"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"{len(value):,} characters, more than the registry holds here ({spec.max_length:,})"
        if bad := _BAD_CHARACTER.search(value):
            character = bad.group()
            if character == "\x00":
                return f"contains a NUL character (at position {bad.start():,}), which the database cannot store"
            return (
                f"contains a lone surrogate (U+{ord(character):04X} at position {bad.start():,}), "
                "which is not a character"
            )
        return ""
    if isinstance(spec, Number):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"should be a whole number; got {_describe(value)}"
        return ""
    if isinstance(spec, Object):
        return "" if isinstance(value, dict) else f"should be a JSON object; got {_describe(value)}"
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return f"should be a list; got {_describe(value)}"
        if len(value) > spec.max_items:
            return f"{len(value):,} items, more than a study record has (at most {spec.max_items:,})"
        return ""
    raise TypeError(f"unknown spec {spec!r}")  # a mistake in STUDY above, not in the record


def _describe(value: object) -> str:
    """A value's JSON type and a short preview, for messages."""
    kind = (
        "true/false"
        if isinstance(value, bool)
        else "a number"
        if isinstance(value, int | float)
        else "text"
        if isinstance(value, str)
        else "a list"
        if isinstance(value, list)
        else "a JSON object"
        if isinstance(value, dict)
        else type(value).__name__
    )
    if isinstance(value, list | dict):
        return f"{kind} of {len(value):,} item(s)"
    preview = repr(value)
    if len(preview) > 40:
        preview = preview[:37] + "..."
    return f"{kind} ({_BAD_CHARACTER.sub('?', preview)})"


def _too_deep(value: object) -> str | None:
    """The path to where objects and lists nest more than MAX_DEPTH deep in `value`, or None. Iterative."""
    pending: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while pending:
        item, depth, path = pending.pop()
        if depth > MAX_DEPTH:
            shown = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path[:6]).lstrip(".")
            return (shown or "the record") + ("…" if len(path) > 6 else "")
        children = item.items() if isinstance(item, dict) else enumerate(item)
        pending.extend((child, depth + 1, (*path, key)) for key, child in children if isinstance(child, dict | list))
    return None
