"""Writes that touch several models or must be atomic. Views, commands and tests go through here."""

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from mechanisms.models import Mechanism

from .models import (
    Country,
    CurationState,
    DiabetesTypeTerm,
    Publication,
    RegistryIdentifier,
    RouteTerm,
    Source,
    Trial,
    TrialMechanism,
)

INITIAL_DATA = Path(__file__).resolve().parent / "data" / "initial_trials.json"

# Scalar fields of a record in the registry's data format (see trials/data/README.md).
SCALAR_FIELDS = [
    "slug",
    "brief_title",
    "official_title",
    "acronym",
    "summary",
    "sponsor",
    "sponsor_class",
    "product_name",
    "population_notes",
    "study_type",
    "phase",
    "overall_status",
    "enrollment",
    "enrollment_type",
    "enrollment_notes",
    "cell_source",
    "cell_origin",
    "differentiation",
    "cell_notes",
    "encapsulation",
    "gene_edited",
    "route_notes",
    "immunosuppression",
    "immunosuppression_notes",
    "follow_up_months",
    "key_results",
    "curator_notes",
    "curation_state",
]
DATE_FIELDS = ["status_confirmed_on", "last_reviewed_on"]
PRECISE_DATE_FIELDS = ["start_date", "primary_completion_date", "completion_date"]


class RecordError(Exception):
    """A record of a data file that cannot be saved; the message names the record."""


@dataclass
class LoadSummary:
    created: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    kept: list = field(default_factory=list)  # present, differing from the file: the curators' version is kept

    def __str__(self):
        return (
            f"{len(self.created)} created, {len(self.unchanged)} already up to date, "
            f"{len(self.kept)} changed by curators since and left as they are"
        )


_TEXT_FIELDS = {
    f.name for f in Trial._meta.concrete_fields if f.get_internal_type() in {"CharField", "TextField", "SlugField"}
}


def _parse_date(value):
    return date.fromisoformat(value) if value else None


def trial_fields(record):
    """The Trial model's field values of a record (scalars and dates; no relations)."""
    values = {name: record.get(name) for name in SCALAR_FIELDS if name in record}
    for name in ("official_title", "acronym", "summary", "sponsor", "sponsor_class", "product_name"):
        values[name] = values.get(name) or ""
    values["collaborators"] = "\n".join(record.get("collaborators") or [])
    for name in DATE_FIELDS:
        values[name] = _parse_date(record.get(name))
    for name in PRECISE_DATE_FIELDS:
        given = record.get(name) or {}
        values[name] = _parse_date(given.get("date"))
        values[f"{name}_precision"] = given.get("precision", "")
        values[f"{name}_type"] = given.get("type", "")
    return {name: ("" if value is None and name in _TEXT_FIELDS else value) for name, value in values.items()}


def _clean_and_save(instance, label, exclude=None):
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise RecordError(f"{label}: {'; '.join(_messages(error))}") from None
    instance.save()


def _messages(error):
    if hasattr(error, "message_dict"):
        return [f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items()]
    return error.messages


def create_trial(record, *, change_reason="Created"):
    """Create a trial and everything it links to from one record of the registry's data format.

    Every row is validated (formats, vocabularies, date order) before it is saved; a bad record raises
    RecordError naming it. Call inside a transaction (the loaders do).
    """
    label = f"record {record.get('slug') or record.get('brief_title')!r}"
    trial = Trial(**trial_fields(record))
    trial._change_reason = change_reason
    _clean_and_save(trial, label)

    for name, model in (("diabetes_types", DiabetesTypeTerm), ("routes", RouteTerm), ("countries", Country)):
        codes = set(record.get(name, []))
        terms = list(model.objects.filter(code__in=codes))
        if unknown := codes - {term.code for term in terms}:
            raise RecordError(f"{label}: unknown {name} codes {sorted(unknown)}")
        getattr(trial, name).set(terms)

    for item in record.get("identifiers", []):
        identifier = RegistryIdentifier(
            trial=trial, registry=item["registry"], value=item["value"], is_primary=item.get("primary", False)
        )
        _clean_and_save(identifier, label)
    mechanisms = {m.slug: m for m in Mechanism.objects.all()}
    for item in record.get("mechanisms", []):
        if item["mechanism"] not in mechanisms:
            raise RecordError(f"{label}: unknown mechanism {item['mechanism']!r}")
        link = TrialMechanism(
            trial=trial,
            mechanism=mechanisms[item["mechanism"]],
            role=item.get("role", "PRIMARY"),
            rationale=item["rationale"],
        )
        _clean_and_save(link, label)
    for item in record.get("publications", []):
        publication = Publication(
            trial=trial,
            citation=item["citation"],
            doi=item.get("doi") or "",
            pmid=item.get("pmid") or "",
            journal=item.get("journal") or "",
            year=item.get("year"),
        )
        _clean_and_save(publication, label)
    for item in record.get("sources", []):
        source = Source(
            trial=trial,
            url=item["url"],
            source_date=_parse_date(item.get("date")),
            date_notes=item.get("date_notes") or "",
            used_for=item.get("used_for") or "",
        )
        _clean_and_save(source, label)
    return trial


def read_records(path=INITIAL_DATA):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["trials"]


def load_trials(records, *, dry_run=False):
    """Create every record whose slug is not in the registry yet; never touch one that is.

    Idempotent: a second run creates nothing. A trial already present is reported as up to date when
    its fields equal the record's, and as kept when a curator changed it since (it is not overwritten).
    All or nothing: one transaction, rolled back on any error or when `dry_run` is set.
    """
    summary = LoadSummary()
    with transaction.atomic():
        existing = {trial.slug: trial for trial in Trial.objects.filter(slug__in=[r["slug"] for r in records])}
        for record in records:
            trial = existing.get(record["slug"])
            if trial is None:
                create_trial(record, change_reason="Loaded from the initial curated data")
                summary.created.append(record["slug"])
            elif all(getattr(trial, name) == value for name, value in trial_fields(record).items()):
                summary.unchanged.append(record["slug"])
            else:
                summary.kept.append(record["slug"])
        if dry_run:
            transaction.set_rollback(True)
    return summary


# --- Curation workflow ------------------------------------------------------------------------
# draft → in review → published, and back. Every change of a trial's curation state goes through
# `transition` (the admin's actions and its change form alike); the permission is checked here,
# on the server, whatever the page showed.

PUBLISH_PERMISSION = "trials.publish_trial"

# (from, to): the permission the move needs.
TRANSITIONS = {
    (CurationState.DRAFT, CurationState.REVIEW): "trials.change_trial",
    (CurationState.REVIEW, CurationState.DRAFT): "trials.change_trial",
    (CurationState.REVIEW, CurationState.PUBLISHED): PUBLISH_PERMISSION,
    (CurationState.PUBLISHED, CurationState.REVIEW): PUBLISH_PERMISSION,
    (CurationState.PUBLISHED, CurationState.DRAFT): PUBLISH_PERMISSION,
}


class WorkflowError(Exception):
    """A move of the workflow that is not allowed; `problems` lists each reason in plain words."""

    def __init__(self, trial, problems):
        self.trial = trial
        self.problems = list(problems)
        super().__init__(f"{trial}: {' '.join(self.problems)}")


def publication_problems(trial):
    """What a trial lacks before it may be published, in plain words ([] when nothing). Queries twice."""
    problems = []
    if not trial.mechanism_links.exclude(rationale="").exists():
        problems.append("Add at least one mechanism link with a rationale.")
    if not trial.sources.exists():
        problems.append("Add at least one source.")
    if trial.last_reviewed_on is None:
        problems.append("Give the date the record was last reviewed (or use “Mark reviewed today”).")
    return problems


def transition(*, trial, to, user, reason=""):
    """Move `trial` to the curation state `to`, as `user`, recording who and why in its history.

    Raises WorkflowError (nothing saved) when the move does not exist, the user may not make it, or,
    for publishing, the trial lacks what a published record needs.
    """
    to = CurationState(to)
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        current = CurationState(trial.curation_state)
        if current == to:
            return trial
        permission = TRANSITIONS.get((current, to))
        if permission is None:
            raise WorkflowError(
                trial, [f"A trial cannot go from “{current.label}” to “{to.label}”; send it to review first."]
            )
        if not user.has_perm(permission):
            verb = "publish or unpublish trials" if permission == PUBLISH_PERMISSION else "change trials"
            raise WorkflowError(trial, [f"You may not {verb}: ask an editor."])
        if to == CurationState.PUBLISHED and (problems := publication_problems(trial)):
            raise WorkflowError(trial, problems)
        trial.curation_state = to
        trial._history_user = user
        trial._change_reason = reason or f"{current.label} → {to.label}"
        trial.save(update_fields=["curation_state", "updated_at"])
    return trial


def send_to_review(*, trial, user):
    return transition(trial=trial, to=CurationState.REVIEW, user=user, reason="Sent to review")


def publish(*, trial, user):
    return transition(trial=trial, to=CurationState.PUBLISHED, user=user, reason="Published")


def unpublish(*, trial, user):
    return transition(trial=trial, to=CurationState.DRAFT, user=user, reason="Unpublished")


def mark_reviewed(*, trials, user, today=None):
    """Set the review date of each trial to today (one history entry each). Returns how many changed."""
    today = today or timezone.localdate()
    if not user.has_perm("trials.change_trial"):
        raise PermissionDenied
    changed = 0
    with transaction.atomic():
        for trial in Trial.objects.select_for_update().filter(pk__in=[t.pk for t in trials]):
            if trial.last_reviewed_on == today:
                continue
            trial.last_reviewed_on = today
            trial._history_user = user
            trial._change_reason = "Marked reviewed"
            trial.save(update_fields=["last_reviewed_on", "updated_at"])
            changed += 1
    return changed


# Roles. Curators enter and edit trials and send them to review; editors also publish and delete.
_INLINE_MODELS = ["registryidentifier", "trialmechanism", "publication", "source"]
CURATOR_PERMISSIONS = [
    "trials.view_trial",
    "trials.add_trial",
    "trials.change_trial",
    *[f"trials.{action}_{model}" for model in _INLINE_MODELS for action in ("view", "add", "change", "delete")],
    "trials.view_country",
    "mechanisms.view_mechanism",
    "mechanisms.change_mechanism",
    "mechanisms.view_pathwaystep",
    "mechanisms.change_pathwaystep",
]
EDITOR_PERMISSIONS = [*CURATOR_PERMISSIONS, "trials.delete_trial", PUBLISH_PERMISSION]
ROLES = {"Curator": CURATOR_PERMISSIONS, "Editor": EDITOR_PERMISSIONS}


def setup_roles():
    """Create or update the Curator and Editor groups with exactly their permissions. Idempotent.

    Returns {group name: number of permissions}.
    """
    result = {}
    with transaction.atomic():
        for name, codes in ROLES.items():
            group, _ = Group.objects.get_or_create(name=name)
            permissions = []
            for code in codes:
                app_label, codename = code.split(".")
                permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            group.permissions.set(permissions)
            result[name] = len(permissions)
    return result
