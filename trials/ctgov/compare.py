"""Comparing a curated trial with its ClinicalTrials.gov record, field by field, and setting accepted values.
No database writes: the caller saves (trials/actions/registry_updates.py).
"""

from datetime import date
from typing import Any

from trials.ctgov import CtgovError, Record
from trials.models import Trial
from trials.vocabularies import (
    PRECISE_DATES,
    DatePrecision,
    DateType,
    EnrollmentType,
    OverallStatus,
    Phase,
    SponsorClass,
    StudyType,
)

# The facts the registry is the authority on: an import proposes changes to these, and only these.
COMPARED_FIELDS = [
    "brief_title",
    "official_title",
    "acronym",
    "sponsor",
    "sponsor_class",
    "collaborators",
    "study_type",
    "phase",
    "overall_status",
    "status_confirmed_on",
    "start_date",
    "primary_completion_date",
    "completion_date",
    "enrollment",
    "enrollment_type",
    "countries",
]
CODED_FIELDS = {
    "sponsor_class": SponsorClass,
    "study_type": StudyType,
    "phase": Phase,
    "overall_status": OverallStatus,
    "enrollment_type": EnrollmentType,
}


def field_label(name: str) -> str:
    field = Trial._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


def current_values(trial: Trial) -> dict[str, Any]:
    """The trial's values of COMPARED_FIELDS, in the registry's data format. Queries its countries once."""
    values: dict[str, Any] = {}
    for name in COMPARED_FIELDS:
        if name == "collaborators":
            values[name] = [line.strip() for line in trial.collaborators.splitlines() if line.strip()]
        elif name == "countries":
            values[name] = sorted(trial.countries.values_list("code", flat=True))
        elif name == "status_confirmed_on":
            values[name] = trial.status_confirmed_on.isoformat() if trial.status_confirmed_on else None
        elif name in PRECISE_DATES:
            day = getattr(trial, name)
            values[name] = (
                {
                    "date": day.isoformat(),
                    "precision": getattr(trial, f"{name}_precision"),
                    "type": getattr(trial, f"{name}_type"),
                }
                if day
                else None
            )
        else:
            values[name] = getattr(trial, name)
    return values


def registry_changes(trial: Trial, record: Record) -> dict[str, dict[str, Any]]:
    """{field: {"old": trial's value, "new": registry's value}} where the registry's record differs.

    The registry never erases: a fact the record does not give is not proposed. A status-verified date
    is proposed only when newer than the one the trial has.
    """
    current = current_values(trial)
    changes = {}
    for name in COMPARED_FIELDS:
        new: Any = record.get(name)
        old = current[name]
        if new in (None, "", []):
            continue
        if name == "countries":
            new = sorted(new)
        if name == "status_confirmed_on" and old and new <= old:
            continue
        if new != old:
            changes[name] = {"old": old, "new": new}
    return changes


def apply_registry_values(trial: Trial, values: dict[str, Any]) -> list[str] | None:
    """Set registry values (data format, e.g. from a RegistryUpdate) on the trial, without saving.

    Countries are many-to-many: returned, for the caller to set after saving.
    """
    countries = None
    for name, value in values.items():
        if name not in COMPARED_FIELDS:
            raise CtgovError(f"{name!r} is not a field a registry update may change.")
        if name == "countries":
            countries = value
        elif name == "collaborators":
            trial.collaborators = "\n".join(value or [])
        elif name == "status_confirmed_on":
            # ClinicalTrials.gov's status-verified date is a month (statusVerifiedDate is YYYY-MM).
            trial.status_confirmed_on = date.fromisoformat(value) if value else None
            trial.status_confirmed_on_precision = DatePrecision.MONTH if value else ""
        elif name in PRECISE_DATES:
            value = value or {}
            setattr(trial, name, date.fromisoformat(value["date"]) if value.get("date") else None)
            setattr(trial, f"{name}_precision", value.get("precision", ""))
            setattr(trial, f"{name}_type", value.get("type", ""))
        else:
            setattr(trial, name, "" if value is None and name != "enrollment" else value)
    return countries


def display_value(name: str, value: Any) -> str:
    """A value of a compared field in words, for curators."""
    if value in (None, "", []):
        return "—"
    if name in CODED_FIELDS:
        try:
            return str(CODED_FIELDS[name](value).label)
        except ValueError:
            return str(value)
    if name in PRECISE_DATES:
        day = value["date"]
        precision = value.get("precision")
        shown = day[:4] if precision == DatePrecision.YEAR else day[:7] if precision == DatePrecision.MONTH else day
        kind = DateType(value["type"]).label.lower() if value.get("type") else "type not stated"
        return f"{shown} ({kind})"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
