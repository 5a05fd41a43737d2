"""ClinicalTrials.gov import and the daily check: drafts for new NCT numbers, registry updates for the others."""

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trials import canonical
from trials.actions import edit_versions
from trials.actions.pending_changes import needs_approval, propose_change, public_changes, record_now
from trials.actions.records import (
    RecordError,
    _messages,
    _parse_date,
    _reason,
    create_trial,
    write_record,
)
from trials.actions.workflow import PUBLISH_PERMISSION, published_problems
from trials.ctgov import CtgovError, limits, validation
from trials.ctgov.client import FetchError
from trials.ctgov.compare import apply_registry_values, field_label, registry_changes
from trials.ctgov.mapping import country_lookup, study_to_record
from trials.ctgov.reading import NCT_PATTERN, normalize_nct_id, read_studies, study_nct_id
from trials.models import (
    Country,
    RegistryIdentifier,
    RegistryUpdate,
    RegistryUpdateOrigin,
    RegistryUpdateStatus,
    Trial,
)
from trials.models.revisions import revision
from trials.vocabularies import Registry

logger = logging.getLogger(__name__)

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
    warnings: list = field(default_factory=list)  # messages about records imported all the same, each naming it
    outcomes: list = field(default_factory=list)  # one line per record imported, in order: "<name>: created ..."

    def __str__(self):
        return (
            f"{len(self.created)} draft(s) created, {len(self.updates)} registry update(s) recorded, "
            f"{len(self.unchanged)} unchanged, {len(self.errors)} failed"
            + (f", {len(self.warnings)} warning(s)" if self.warnings else "")
        )

    @property
    def total(self):
        return len(self.created) + len(self.updates) + len(self.unchanged) + len(self.errors)


def dismissed_values(trial, origin):
    """{(field, proposed value as JSON)} that curators already declined for this trial, from updates of `origin`."""
    declined = set()
    resolved = trial.registry_updates.filter(
        origin=origin, status__in=[RegistryUpdateStatus.ACCEPTED, RegistryUpdateStatus.DISMISSED]
    )
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
    declined = dismissed_values(trial, RegistryUpdateOrigin.CTGOV)
    changes = {
        name: change
        for name, change in registry_changes(trial, record).items()
        if (name, json.dumps(change["new"], sort_keys=True)) not in declined
    }
    pending = trial.registry_updates.pending().filter(origin=RegistryUpdateOrigin.CTGOV).select_for_update().first()
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


_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def safe_label(label):
    """A file's name as messages, sources and history may hold it: no control characters, NUL or lone
    surrogates (which PostgreSQL cannot store), at most 150 characters."""
    label = _UNSTORABLE.sub("?", str(label))
    return label if len(label) <= 150 else label[:149] + "…"


def name_mismatch(label, nct_id):
    """A warning when the file's name gives another NCT number than the record it holds, or ''."""
    if re.search(r", study \d+$", label):  # one of a page's studies: the file's name is the page's
        return ""
    named = {match.upper() for match in re.findall(r"NCT\d{8}", label, re.I)}
    if named and nct_id.upper() not in named:
        return f"the file's name says {', '.join(sorted(named))} but it holds the record of {nct_id}"
    return ""


@revision()
def _import_study(study, *, label, source, user, countries, today, summary):
    """Create the draft or record the update for one study (inside the caller's transaction)."""
    record = study_to_record(study, countries=countries, today=today)
    nct_id = ctgov_identifier(record)
    warnings = record.pop("warnings", [])
    if mismatch := name_mismatch(label, nct_id):
        warnings.insert(0, mismatch)
    limits.cap_record(record, warnings)
    existing = RegistryIdentifier.objects.filter(value=nct_id).select_related("trial").first()
    if existing:
        update = record_registry_update(trial=existing.trial, record=record, source=source)
        (summary.updates if update else summary.unchanged).append(update or nct_id)
        outcome = f"registry update recorded for {existing.trial.slug.upper()}" if update else "nothing new"
        warnings = [w for w in warnings if w == mismatch]  # the others are about a draft, which is not made
        return outcome, warnings
    # A secondary identifier that another trial already holds: the same trial under another registry?
    taken = dict(
        RegistryIdentifier.objects.filter(value__in=[i["value"] for i in record["identifiers"]]).values_list(
            "value", "trial__slug"
        )
    )
    if taken:
        record["identifiers"] = [i for i in record["identifiers"] if i["value"] not in taken]
        record["curator_notes"] = limits.cut(
            record["curator_notes"]
            + "\n"
            + "".join(
                f"\nIdentifier {value} is already on trial {slug!r}: not added here. Is it the same trial?"
                for value, slug in taken.items()
            ),
            limits.TEXT_LIMITS["curator_notes"],
        )
    trial = create_trial(record, change_reason=f"Imported from ClinicalTrials.gov ({source})"[:100], user=user)
    summary.created.append(trial)
    return f"created the draft {nct_id}", warnings


def import_ctgov_studies(items, *, source, user=None, dry_run=False, today=None, summary=None):
    """Import studies: [(label, study dict or CtgovError)], e.g. from `read_studies`.

    Each study is checked against the shape the mapping reads (trials/ctgov/validation.py) before it is mapped,
    then imported in its own transaction: a draft for a new NCT number (its text cut at the limits of
    trials/ctgov/limits.py, with a warning), a RegistryUpdate for a known one, nothing written for a bad one (its
    error, naming it and the field at fault, is in the summary). `source` says where the records come from
    (a file's name is added to it); `user` is recorded in the drafts' history. `dry_run` rolls each back.
    """
    summary = summary if summary is not None else CtgovImportSummary()
    countries = country_lookup()
    for label, study in items:
        label = safe_label(label)
        if isinstance(study, Exception):
            summary.errors.append(str(study))
            continue
        nct_id = study_nct_id(study) if isinstance(study, dict) else ""
        nct_id = nct_id if NCT_PATTERN.fullmatch(nct_id) else ""
        name = label if not nct_id or nct_id in label else f"{label} ({nct_id})"
        if problems := validation.study_problems(study, name):
            summary.errors.append(" ".join(problems))
            continue
        try:
            with transaction.atomic():
                outcome, warnings = _import_study(
                    study, label=label, source=source, user=user, countries=countries, today=today, summary=summary
                )
                if dry_run:
                    transaction.set_rollback(True)
        except (CtgovError, RecordError) as error:
            summary.errors.append(f"{name}: {error}")
        except IntegrityError as error:
            summary.errors.append(f"{name}: the database refused the record ({error}).")
        except Exception:  # a mistake in the importer: report it by name, log it, and go on with the others
            logger.exception("Importing %s from ClinicalTrials.gov failed", name)
            summary.errors.append(
                f"{name}: not imported: an unexpected error in the importer (logged for the site's developers)."
            )
        else:
            summary.outcomes.append(f"{name}: {outcome}")
            summary.warnings += [f"{name}: {warning}." for warning in warnings]
    return summary


def import_ctgov_documents(documents, *, source, user=None, dry_run=False, today=None):
    """Import the studies of JSON documents: (label, bytes) pairs, taken one at a time from an iterable, so
    that only one document is in memory at once; bytes may be a CtgovError (a file that could not be read).
    `source` names where they come from, "{name}" standing for each document's label (e.g. "file {name}").
    A document that cannot be read is reported by its label; the others go on. See `import_ctgov_studies`.
    """
    summary = CtgovImportSummary()
    for label, data in documents:
        label = safe_label(label)
        if isinstance(data, Exception):
            items = [(label, data)]
        else:
            try:
                items = read_studies(data, label)
            except CtgovError as error:
                items = [(label, error)]
        del data
        import_ctgov_studies(
            items, source=source.replace("{name}", label), user=user, dry_run=dry_run, today=today, summary=summary
        )
    return summary


def read_files(paths):
    """(file name, bytes) of each path, read when the import reaches it; a file that cannot be read gives
    its error instead of bytes."""
    for path in map(Path, paths):
        try:
            if path.stat().st_size > validation.MAX_DOCUMENT_BYTES:
                raise CtgovError(
                    f"{path.name}: {path.stat().st_size:,} bytes is larger than a study record can be "
                    f"(at most {validation.MAX_DOCUMENT_BYTES // 1_000_000} MB)."
                )
            yield path.name, path.read_bytes()
        except OSError as error:
            yield path.name, CtgovError(f"{path}: cannot read the file ({error.strerror}).")
        except CtgovError as error:
            yield path.name, error


def import_ctgov_files(paths, *, user=None, dry_run=False, today=None):
    """Import every study of the JSON files at `paths`, one file at a time, each recorded with its file's
    name as the source (see `import_ctgov_documents`)."""
    return import_ctgov_documents(read_files(paths), source="file {name}", user=user, dry_run=dry_run, today=today)


def fetch_ctgov_studies(nct_ids, *, client, deadline=None):
    """Fetch studies for import, one at a time as the import asks for them: (NCT number, study or CtgovError).

    Stops at the first server that cannot be reached (every other fetch would fail the same way): the rest
    get that same error. `deadline`: seconds for all the fetches together (an admin page's); those it
    leaves no time for are reported as not fetched.
    """
    unreachable = None
    until = client.clock() + deadline if deadline is not None else None
    for value in nct_ids:
        try:
            if unreachable:
                raise CtgovError(f"{value}: not fetched, ClinicalTrials.gov cannot be reached (see above).")
            nct_id = normalize_nct_id(value)
            if until is not None and client.clock() >= until:
                raise FetchError(
                    f"{nct_id}: not fetched, no time left within this page's {deadline:.0f} s: "
                    "fetch it again, or upload its JSON file.",
                    "timeout",
                )
            yield nct_id, client.fetch_study(nct_id, until=until)
        except FetchError as error:
            if error.kind == "unreachable":
                unreachable = error
            yield value, error
        except CtgovError as error:
            yield value, error


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


def _apply(update, accept, *, user):
    """Write the accepted fields of a pending update onto its trial (locked): one save, its history naming `user` and
    the fields. Raises RecordError when the trial would become invalid."""
    trial = Trial.objects.select_for_update().get(pk=update.trial_id)
    if update.origin in {RegistryUpdateOrigin.CURATED_DATA, RegistryUpdateOrigin.CURATOR}:
        names = ", ".join(canonical.field_label(name) for name in accept)
        verb = "Approved the" if update.origin == RegistryUpdateOrigin.CURATOR else "Accepted from"
        reason = _reason(f"{verb} {update.source}: {names}")
        write_record(trial, {name: update.changes[name]["new"] for name in accept}, reason=reason, user=user)
        return
    countries = apply_registry_values(trial, {name: update.changes[name]["new"] for name in accept})
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
    names = ", ".join(field_label(name) for name in accept)
    trial._change_reason = _reason(f"Accepted from ClinicalTrials.gov ({update.identifier}): {names}")
    edit_versions.bump(trial)
    trial.save()


def _propose_accepted(update, accept, *, user, now):
    """A curator's acceptance onto a published trial: the fields are written in a savepoint that is rolled back, and
    the differences they make become the curator's change waiting for an editor (`propose_change`). The trial does
    not change. Raises RecordError when publishing's rules would break, or a change already waits."""
    before = record_now(update.trial_id)
    savepoint = transaction.savepoint()
    _apply(update, accept, user=user)
    after = record_now(update.trial_id)
    problems = published_problems(update.trial_id)
    transaction.savepoint_rollback(savepoint)
    if problems:
        raise RecordError(f"A published trial cannot take this change: {' '.join(problems)}")
    if not (changes := public_changes(before, after)):
        return None
    origin = f"ClinicalTrials.gov ({update.identifier})" if update.identifier else update.get_origin_display().lower()
    try:
        return propose_change(
            trial=update.trial,
            changes=changes,
            user=user,
            now=now,
            source=f"update from {origin} accepted by {user.get_username()}",
        )
    except RecordError as error:
        raise RecordError(f"{error} The registry update stays pending.") from None


@revision()
def resolve_registry_update(*, update, accept=(), user, now=None, seen_version=None):
    """Accept the fields `accept` of a pending registry update onto its trial, dismiss the others.

    With no field accepted the update is dismissed. The trial is saved once, its history naming `user`
    and the fields; the update records who resolved it and when. A curator's acceptance onto a published trial
    changes nothing readers see: the accepted fields become the curator's change waiting for an editor's approval
    (`_propose_accepted`), and the update says so. Raises PermissionDenied, or RecordError (nothing saved) when the
    update is no longer pending, the trial would become invalid, a change of the published trial already waits, or
    (accepting) the trial was saved after the review page showed its version `seen_version`
    (trials/actions/edit_versions.py).
    """
    if not user.has_perm("trials.change_trial"):
        raise PermissionDenied
    if update.origin == RegistryUpdateOrigin.CURATOR and not user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied  # a curator's change of a published trial: editors approve it
    now = now or timezone.now()
    with transaction.atomic():
        update = RegistryUpdate.objects.select_for_update().get(pk=update.pk)
        if update.status != RegistryUpdateStatus.PENDING:
            raise RecordError(f"This registry update is already {update.get_status_display().lower()}.")
        accept = [name for name in update.field_names if name in set(accept)]
        if accept and (stale := edit_versions.stale_problem(update.trial_id, seen_version)):
            raise RecordError(stale)
        if accept and needs_approval(trial_id=update.trial_id, user=user):
            if _propose_accepted(update, accept, user=user, now=now):
                update.resolution_note = (
                    f"The trial is published: {user.get_username()} accepted these fields as a change waiting for an "
                    "editor's approval. Readers see them once it is approved."
                )
        elif accept:
            _apply(update, accept, user=user)
            if problems := published_problems(update.trial_id):
                raise RecordError(f"A published trial cannot take this change: {' '.join(problems)}")
        update.status = RegistryUpdateStatus.ACCEPTED if accept else RegistryUpdateStatus.DISMISSED
        update.accepted_fields = accept
        update.resolved_by = user
        update.resolved_at = now
        update.save(update_fields=["status", "accepted_fields", "resolved_by", "resolved_at", "resolution_note"])
    return update


def dismiss_registry_update(*, update, user, now=None):
    return resolve_registry_update(update=update, accept=(), user=user, now=now)
