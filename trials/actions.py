"""Writes that touch several models or must be atomic. Views, commands and tests go through here."""

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mechanisms.models import Mechanism

from . import ctgov
from .models import (
    Country,
    CurationState,
    DiabetesTypeTerm,
    Publication,
    Registry,
    RegistryIdentifier,
    RegistryUpdate,
    RegistryUpdateStatus,
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


# --- ClinicalTrials.gov import ----------------------------------------------------------------
# A study record of ClinicalTrials.gov (API v2 JSON, from a file or fetched) becomes a draft trial
# through `create_trial`, when its NCT number is new. For a trial already in the registry nothing
# is overwritten: the differences are recorded as a RegistryUpdate, which a curator accepts field
# by field or dismisses. One transaction per record: a bad record is reported and the others go on.


@dataclass
class CtgovImportSummary:
    created: list = field(default_factory=list)  # trials created as drafts
    updates: list = field(default_factory=list)  # RegistryUpdates recorded
    unchanged: list = field(default_factory=list)  # NCT numbers with nothing new
    errors: list = field(default_factory=list)  # messages, each naming its record

    def __str__(self):
        return (
            f"{len(self.created)} draft(s) created, {len(self.updates)} registry update(s) recorded, "
            f"{len(self.unchanged)} unchanged, {len(self.errors)} failed"
        )


def _dismissed_values(trial):
    """{(field, registry value as JSON)} that curators already declined for this trial."""
    declined = set()
    resolved = trial.registry_updates.filter(status__in=[RegistryUpdateStatus.ACCEPTED, RegistryUpdateStatus.DISMISSED])
    for update in resolved.only("changes", "accepted_fields"):
        for name, change in update.changes.items():
            if name not in update.accepted_fields:
                declined.add((name, json.dumps(change["new"], sort_keys=True)))
    return declined


def record_registry_update(*, trial, record, source, now=None):
    """Record what the registry's `record` says differently from `trial`; never changes the trial.

    Returns the new RegistryUpdate, or None when there is nothing new: no difference, only values a
    curator already dismissed, or the same differences as the pending update. A pending update that a
    newer record replaces (or that the trial now matches) is marked superseded. Call inside a transaction.
    """
    now = now or timezone.now()
    declined = _dismissed_values(trial)
    changes = {
        name: change
        for name, change in ctgov.registry_changes(trial, record).items()
        if (name, json.dumps(change["new"], sort_keys=True)) not in declined
    }
    pending = trial.registry_updates.pending().select_for_update().first()
    if pending and pending.changes == changes:
        return None
    if pending:
        pending.status = RegistryUpdateStatus.SUPERSEDED
        pending.resolved_at = now
        pending.save(update_fields=["status", "resolved_at"])
    if not changes:
        return None
    updated = (record.get("sources") or [{}])[0].get("date")
    return RegistryUpdate.objects.create(
        trial=trial,
        identifier=ctgov_identifier(record),
        changes=changes,
        source=source[:200],
        registry_last_updated=_parse_date(updated),
        created_at=now,
    )


def ctgov_identifier(record):
    return next(i["value"] for i in record["identifiers"] if i["registry"] == Registry.CTGOV)


def _import_study(study, *, source, countries, today, summary):
    """Create the draft or record the update for one study (inside the caller's transaction)."""
    record = ctgov.study_to_record(study, countries=countries, today=today)
    nct_id = ctgov_identifier(record)
    existing = RegistryIdentifier.objects.filter(value=nct_id).select_related("trial").first()
    if existing:
        update = record_registry_update(trial=existing.trial, record=record, source=source)
        (summary.updates if update else summary.unchanged).append(update or nct_id)
        return
    # A secondary identifier that another trial already holds: the same trial under another registry?
    taken = dict(
        RegistryIdentifier.objects.filter(value__in=[i["value"] for i in record["identifiers"]]).values_list(
            "value", "trial__slug"
        )
    )
    if taken:
        record["identifiers"] = [i for i in record["identifiers"] if i["value"] not in taken]
        record["curator_notes"] += "\n" + "".join(
            f"\nIdentifier {value} is already on trial {slug!r}: not added here. Is it the same trial?"
            for value, slug in taken.items()
        )
    trial = create_trial(record, change_reason=f"Imported from ClinicalTrials.gov ({source})")
    summary.created.append(trial)


def import_ctgov_studies(items, *, source, dry_run=False, today=None):
    """Import studies: [(label, study dict or CtgovError)], e.g. from `ctgov.read_studies`.

    Each study in its own transaction: a draft for a new NCT number, a RegistryUpdate for a known one,
    nothing written for a bad one (its error, naming it, is in the summary). `dry_run` rolls each back.
    """
    summary = CtgovImportSummary()
    countries = ctgov.country_lookup()
    for label, study in items:
        if isinstance(study, Exception):
            summary.errors.append(str(study))
            continue
        nct_id = ctgov.study_nct_id(study)
        name = label if not nct_id or nct_id in label else f"{label} ({nct_id})"
        try:
            with transaction.atomic():
                _import_study(study, source=source or label, countries=countries, today=today, summary=summary)
                if dry_run:
                    transaction.set_rollback(True)
        except (ctgov.CtgovError, RecordError) as error:
            summary.errors.append(f"{name}: {error}")
        except IntegrityError as error:
            summary.errors.append(f"{name}: the database refused the record ({error}).")
    return summary


def import_ctgov_files(paths, *, dry_run=False, today=None):
    """Import every study of the JSON files at `paths` (see `import_ctgov_studies`)."""
    items = []
    for path in map(Path, paths):
        try:
            items += ctgov.read_studies(path.read_bytes(), path.name)
        except OSError as error:
            items.append((path.name, ctgov.CtgovError(f"{path}: cannot read the file ({error.strerror}).")))
        except ctgov.CtgovError as error:
            items.append((path.name, error))
    return import_ctgov_studies(items, source="file", dry_run=dry_run, today=today)


def fetch_ctgov_studies(nct_ids, *, client):
    """Fetch studies for import: [(NCT number, study or CtgovError)]. Stops at the first server that
    cannot be reached (every other fetch would fail the same way): the rest get that same error."""
    items = []
    unreachable = None
    for value in nct_ids:
        try:
            if unreachable:
                raise ctgov.CtgovError(f"{value}: not fetched, ClinicalTrials.gov cannot be reached (see above).")
            nct_id = ctgov.normalize_nct_id(value)
            items.append((nct_id, client.fetch_study(nct_id)))
        except ctgov.FetchError as error:
            if error.kind == "unreachable":
                unreachable = error
            items.append((value, error))
        except ctgov.CtgovError as error:
            items.append((value, error))
    return items


@dataclass
class CtgovCheckSummary:
    checked: int = 0
    updates: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __str__(self):
        return (
            f"{self.checked} published trial(s) with an NCT number checked against ClinicalTrials.gov: "
            f"{len(self.updates)} new registry update(s), {len(self.unchanged)} unchanged, {len(self.errors)} failed"
        )


def check_ctgov_updates(*, client, dry_run=False, today=None):
    """For every published trial with an NCT number: fetch its record, compare, record a RegistryUpdate.

    Never changes a trial. One transaction per trial; a failed fetch is reported and the others go on
    (all stop when ClinicalTrials.gov cannot be reached at all).
    """
    summary = CtgovCheckSummary()
    identifiers = (
        RegistryIdentifier.objects.filter(registry=Registry.CTGOV, trial__in=Trial.objects.published())
        .order_by("value")
        .values_list("value", flat=True)
    )
    nct_ids = list(identifiers)
    summary.checked = len(nct_ids)
    result = import_ctgov_studies(
        fetch_ctgov_studies(nct_ids, client=client), source="ClinicalTrials.gov API", dry_run=dry_run, today=today
    )
    if result.created:  # cannot happen (every NCT number was in the registry); never leave one behind
        raise RuntimeError("check_ctgov_updates created a trial")
    summary.updates, summary.unchanged, summary.errors = result.updates, result.unchanged, result.errors
    return summary


def resolve_registry_update(*, update, accept=(), user, now=None):
    """Accept the fields `accept` of a pending registry update onto its trial, dismiss the others.

    With no field accepted the update is dismissed. The trial is saved once, its history naming `user`
    and the fields; the update records who resolved it and when. Raises PermissionDenied, or RecordError
    (nothing saved) when the update is no longer pending or the trial would become invalid.
    """
    if not user.has_perm("trials.change_trial"):
        raise PermissionDenied
    now = now or timezone.now()
    with transaction.atomic():
        update = RegistryUpdate.objects.select_for_update().get(pk=update.pk)
        if update.status != RegistryUpdateStatus.PENDING:
            raise RecordError(f"This registry update is already {update.get_status_display().lower()}.")
        accept = [name for name in update.field_names if name in set(accept)]
        if accept:
            trial = Trial.objects.select_for_update().get(pk=update.trial_id)
            countries = ctgov.apply_registry_values(trial, {name: update.changes[name]["new"] for name in accept})
            label = f"trial {trial.slug!r}"
            try:
                trial.full_clean()
            except ValidationError as error:
                raise RecordError(f"{label}: {'; '.join(_messages(error))}") from None
            if countries is not None:
                terms = list(Country.objects.filter(code__in=countries))
                if len(terms) != len(set(countries)):
                    raise RecordError(f"{label}: unknown country codes in {countries}.")
                trial.skip_history_when_saving = True  # one history entry: the save below records them
                trial.countries.set(terms)
                del trial.skip_history_when_saving
            trial._history_user = user
            names = ", ".join(ctgov.field_label(name) for name in accept)
            trial._change_reason = f"Accepted from ClinicalTrials.gov ({update.identifier}): {names}"
            trial.save()
        update.status = RegistryUpdateStatus.ACCEPTED if accept else RegistryUpdateStatus.DISMISSED
        update.accepted_fields = accept
        update.resolved_by = user
        update.resolved_at = now
        update.save(update_fields=["status", "accepted_fields", "resolved_by", "resolved_at"])
    return update


def dismiss_registry_update(*, update, user, now=None):
    return resolve_registry_update(update=update, accept=(), user=user, now=now)
