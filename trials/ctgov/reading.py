"""Reading ClinicalTrials.gov API v2 JSON: split a document into studies, check each one's shape, NCT numbers."""

import json
import re

from trials.ctgov import CtgovError, Study

STUDY_URL = "https://clinicaltrials.gov/study/{id}"
NCT_PATTERN = re.compile(r"NCT\d{8}")


def normalize_nct_id(value: str | None) -> str:
    """An NCT number in canonical form, or CtgovError when it is not one."""
    value = (value or "").strip().upper()
    if not NCT_PATTERN.fullmatch(value):
        raise CtgovError(f"{value or '(empty)'!r} is not an NCT number: NCT followed by 8 digits, e.g. NCT04786262.")
    return value


def read_studies(text: str | bytes, label: str) -> list[tuple[str, Study | CtgovError]]:
    """The studies of a JSON document: [(label, study or CtgovError)], one per study.

    A document is one study record or a page {"studies": [...]}. Raises CtgovError when the whole
    document is unusable (not JSON, not a study); a page's bad element becomes that element's error.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CtgovError(f"{label}: not UTF-8 text; expected ClinicalTrials.gov API v2 JSON.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CtgovError(
            f"{label}: malformed JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from None
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        items: list[tuple[str, Study | CtgovError]] = []
        for position, study in enumerate(data["studies"], start=1):
            item_label = f"{label}, study {position}"
            if problem := study_shape_error(study):
                items.append((item_label, CtgovError(f"{item_label}: {problem}")))
            else:
                items.append((item_label, study))
        return items
    if problem := study_shape_error(data):
        raise CtgovError(f"{label}: {problem}")
    return [(label, data)]


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
