"""The registry's curated data file (trials/data/initial_trials.json), loaded into a database that may hold an
older version of it, with nothing lost.

`load_trials` decides per record, from fingerprints (trials/canonical.py): create what is missing; update what no
curator touched since it was loaded; for what a curator changed, keep the curator's values and record the file's
differences as a proposal (a RegistryUpdate of origin "curated data", resolved field by field like the
ClinicalTrials.gov ones: trials/actions/registry_updates.py).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from trials import canonical as records
from trials.actions.records import RECORD_PREFETCH, _write_items, write_record
from trials.actions.registry_updates import dismissed_values
from trials.models import (
    RegistryUpdate,
    RegistryUpdateOrigin,
    RegistryUpdateStatus,
    Trial,
)
from trials.vocabularies import CurationState

INITIAL_DATA = Path(__file__).resolve().parent.parent / "data" / "initial_trials.json"
DATA_FILE_NAME = "trials/data/initial_trials.json"


@dataclass
class DataFile:
    trials: list
    version: str = ""  # the curation's date, e.g. "2026-11-30"
    loaded_before: dict = field(default_factory=dict)  # {slug: [fingerprints of earlier versions of its record]}

    @property
    def label(self):
        return f"the curated data of {self.version}" if self.version else "the curated data file"


def read_data_file(path=INITIAL_DATA):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return DataFile(trials=data["trials"], version=data.get("version", ""), loaded_before=data.get("loaded_before", {}))


def read_records(path=INITIAL_DATA):
    return read_data_file(path).trials


@dataclass
class LoadSummary:
    version: str = ""
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)  # untouched since loaded: took the file's newer version
    unchanged: list = field(default_factory=list)
    proposed: list = field(default_factory=list)  # changed by curators: the file's differences proposed anew
    kept: list = field(default_factory=list)  # changed by curators: kept, nothing new to propose

    @property
    def changed(self):
        return bool(self.created or self.updated or self.proposed)

    def __str__(self):
        counts = (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} already up to date, "
            f"{len(self.proposed) + len(self.kept)} changed by curators since and left as they are "
            f"({len(self.proposed)} with the file's differences proposed for review)"
        )
        return counts if self.changed else f"nothing changed: {counts}"


def _propose(trial, changes, *, data, now):
    """Record the file's differences for a trial a curator changed (a pending update of origin curated data),
    leaving out values a curator already dismissed. Returns the update, or None when there is nothing new."""
    declined = dismissed_values(trial, RegistryUpdateOrigin.CURATED_DATA)
    changes = {
        name: change
        for name, change in changes.items()
        if (name, json.dumps(change["new"], sort_keys=True)) not in declined
    }
    pending = trial.registry_updates.pending().filter(origin=RegistryUpdateOrigin.CURATED_DATA).first()
    if pending and pending.changes == changes:
        return None
    if pending:
        pending.status = RegistryUpdateStatus.SUPERSEDED
        pending.resolved_at = now
        pending.save(update_fields=["status", "resolved_at"])
    if not changes:
        return None
    return RegistryUpdate.objects.create(
        trial=trial,
        origin=RegistryUpdateOrigin.CURATED_DATA,
        identifier="",
        changes=changes,
        source=f"{data.label} ({DATA_FILE_NAME})",
        created_at=now,
    )


def load_trials(data, *, dry_run=False, now=None):
    """Load a data file (a DataFile, or a list of records): create every record whose slug is not in the registry;
    bring every trial no curator touched since it was loaded to the file's version; for a trial a curator
    changed, keep it and propose the file's differences. See trials/data/README.md.

    Idempotent: a second run changes nothing. All or nothing: one transaction, rolled back on any error or when
    `dry_run` is set.
    """
    if isinstance(data, list):
        data = DataFile(trials=data)
    now = now or timezone.now()
    summary = LoadSummary(version=data.version)
    created_reason = f"Loaded from {data.label}"
    with transaction.atomic():
        slugs = [record["slug"] for record in data.trials]
        existing = {t.slug: t for t in Trial.objects.filter(slug__in=slugs).prefetch_related(*RECORD_PREFETCH)}
        pending_related = []  # (trial, record): related trials are written once every trial exists
        for record in data.trials:
            slug = record["slug"]
            wanted = records.fingerprint(record)
            trial = existing.get(slug)
            if trial is None:
                trial = Trial(slug=slug, curation_state=record.get("curation_state") or CurationState.DRAFT)
                values = {k: v for k, v in record.items() if k != "curation_state"}
                write_record(trial, values, reason=created_reason, file_indexes=record, skip_related=True)
                pending_related.append((trial, record, created_reason))
                summary.created.append(slug)
                continue
            current = records.record_of(trial)
            now_print = records.fingerprint(current)
            if now_print == wanted:
                summary.unchanged.append(slug)
                if (trial.data_fingerprint, trial.data_version) != (wanted, data.version):
                    Trial.objects.filter(pk=trial.pk).update(data_fingerprint=wanted, data_version=data.version)
                continue
            untouched = now_print == trial.data_fingerprint or (
                not trial.data_fingerprint and now_print in data.loaded_before.get(slug, [])
            )
            changes = records.differences(current, record)
            if untouched:
                names = ", ".join(records.field_label(name) for name in changes)
                reason = f"Updated from {data.label} ({DATA_FILE_NAME}): {names}"[:100]
                values = {name: change["new"] for name, change in changes.items()}
                write_record(trial, values, reason=reason, skip_related=True)
                if "related" in values:
                    pending_related.append((trial, {"related": values["related"]}, reason))
                summary.updated.append(slug)
            elif _propose(trial, changes, data=data, now=now):
                summary.proposed.append(slug)
            else:
                summary.kept.append(slug)
        for trial, record, reason in pending_related:
            if record.get("related"):
                _write_items(trial, "related", record["related"], label=f"record {trial.slug!r}", reason=reason)
        # Each trial written remembers the version it took (no history entry: it is bookkeeping).
        for slug in summary.created + summary.updated:
            record = next(r for r in data.trials if r["slug"] == slug)
            Trial.objects.filter(slug=slug).update(
                data_fingerprint=records.fingerprint(record), data_version=data.version
            )
        if dry_run:
            transaction.set_rollback(True)
    return summary
