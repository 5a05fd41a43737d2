"""Reading ClinicalTrials.gov API v2 JSON: split a document into studies, check each one's shape, NCT numbers; refuse
the older formats with where to get the right one."""

import json
import re

from trials.ctgov import CtgovError, Study
from trials.ctgov.validation import parse_json

STUDY_URL = "https://clinicaltrials.gov/study/{id}"
NCT_PATTERN = re.compile(r"NCT\d{8}")


def normalize_nct_id(value: str | None) -> str:
    """An NCT number in canonical form, or CtgovError when it is not one."""
    value = (value or "").strip().upper()
    if not NCT_PATTERN.fullmatch(value):
        raise CtgovError(f"{value or '(empty)'!r} is not an NCT number: NCT followed by 8 digits, e.g. NCT04786262.")
    return value


V2_STUDY_URL = "https://clinicaltrials.gov/api/v2/studies/{id}"
V1_SHAPES = ("FullStudiesResponse", "StudyFieldsResponse", "FullStudy", "Study", "ProtocolSection")
_XML_NCT = re.compile(rb"<nct_id>\s*(NCT\d{8})\s*</nct_id>", re.I)


def read_studies(data: str | bytes, label: str) -> list[tuple[str, Study | CtgovError]]:
    """The studies of a JSON document (bytes or text): [(label, study or CtgovError)], one per study.

    A document is one study record or a page {"studies": [...]}. Raises CtgovError when the whole document is
    unusable: too large, too deeply nested (`validation.parse_json`), not JSON, one of ClinicalTrials.gov's older
    formats (with where to get the right one), not a study. A page's bad element becomes that element's error.
    """
    if legacy := legacy_format_error(data, label):
        raise CtgovError(f"{label}: {legacy}")
    parsed = parse_json(data, label)
    if isinstance(parsed, dict) and isinstance(parsed.get("studies"), list):
        items: list[tuple[str, Study | CtgovError]] = []
        for position, study in enumerate(parsed["studies"], start=1):
            item_label = f"{label}, study {position}"
            if shape := study_shape_error(study):
                items.append((item_label, CtgovError(f"{item_label}: {shape}")))
            else:
                items.append((item_label, study))
        return items
    if problem := legacy_format_error(parsed, label) or study_shape_error(parsed):
        raise CtgovError(f"{label}: {problem}")
    return [(label, parsed)]


def legacy_format_error(data: object, label: str) -> str:
    """What to do with a document in one of ClinicalTrials.gov's older formats, or ''. Never raises.

    `data` is a document's bytes or text (legacy XML, <clinical_study>) or its parsed JSON (API v1 JSON,
    retired in 2024: FullStudiesResponse, StudyFieldsResponse, capitalised modules).
    """
    if isinstance(data, bytes | str):
        head = data[:100_000] if isinstance(data, bytes) else data[:100_000].encode("utf-8", "replace")
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not head.startswith(b"<"):
            return ""
        if b"<clinical_study" not in head:
            return "XML or HTML, not JSON; expected ClinicalTrials.gov API v2 study JSON."
        match = _XML_NCT.search(head)
        return "this is ClinicalTrials.gov's legacy XML (<clinical_study>), which the registry does not read; " + (
            _download_hint(match.group(1).decode() if match else "", label)
        )
    if not isinstance(data, dict) or not (shape := next((key for key in V1_SHAPES if key in data), "")):
        return ""
    found = NCT_PATTERN.search(json.dumps(data)[:100_000])
    return (
        f"this is the old ClinicalTrials.gov API v1 JSON ({shape}), retired in 2024, which the registry does not "
        "read; " + _download_hint(found.group() if found else "", label)
    )


def _download_hint(nct_id: str, label: str) -> str:
    named = re.search(r"NCT\d{8}", label, re.I)
    nct_id = nct_id or (named.group().upper() if named else "NCTxxxxxxxx (its NCT number)")
    return f"download the study's API v2 JSON from {V2_STUDY_URL.format(id=nct_id)} and import that file."


def study_shape_error(study: object) -> str | None:
    """Why `study` is not an API v2 study record, or None."""
    if not isinstance(study, dict):
        return "not a ClinicalTrials.gov study: expected a JSON object with a protocolSection."
    protocol = study.get("protocolSection")
    if not isinstance(protocol, dict):
        return "not a ClinicalTrials.gov API v2 study: it has no protocolSection."
    if not isinstance(protocol.get("identificationModule"), dict):
        return "the study has no identificationModule (needed for its NCT number and title)."
    return None


def study_nct_id(study: Study) -> str:
    """The study's NCT number as written, or '' (never raises)."""
    try:
        return str(study["protocolSection"]["identificationModule"]["nctId"]).strip()
    except (KeyError, TypeError):
        return ""
