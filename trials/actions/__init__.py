"""Writes that touch several models or must be atomic. Views, commands and tests go through here (see
docs/adr/0001-actions-layer.md). One module per job; every public name is re-exported here, so callers write
`actions.publish(...)` whatever module holds it.

- `records`: a record of the registry's data format as a trial and everything it links to;
- `initial_data`: the curated data file, and how a database holding an older version of it upgrades;
- `workflow`: draft → in review → published, and who may make each move; review dates;
- `pending_changes`: a curator's change of a published trial, waiting for an editor's approval;
- `comments`: the review conversation on a trial;
- `roles`: the Curator and Editor groups and their permissions;
- `edit_versions`: no lost update: a trial's edit version, and who saved what since a page showed it;
- `registry_updates`: ClinicalTrials.gov imports, the daily check, and resolving what they found;
- `versions`: restoring a whole version of a trial from its history.
"""

from .comments import add_comment
from .initial_data import (
    INITIAL_DATA,
    DataFile,
    LoadSummary,
    load_trials,
    read_data_file,
    read_records,
)
from .pending_changes import (
    needs_approval,
    previewed,
    propose_change,
    propose_review_dates,
    public_changes,
    record_now,
    send_back,
    waiting_change,
)
from .records import (
    DATE_FIELDS,
    RECORD_PREFETCH,
    SCALAR_FIELDS,
    RecordError,
    create_trial,
    trial_fields,
    write_record,
)
from .registry_updates import (
    CtgovCheckSummary,
    CtgovImportSummary,
    check_ctgov_updates,
    ctgov_identifier,
    dismiss_registry_update,
    fetch_ctgov_studies,
    import_ctgov_documents,
    import_ctgov_files,
    import_ctgov_studies,
    record_registry_update,
    resolve_registry_update,
)
from .roles import CURATOR_PERMISSIONS, EDITOR_PERMISSIONS, ROLES, setup_roles
from .versions import RestoreError, restore_problem, restore_version
from .workflow import (
    PUBLISH_PERMISSION,
    TRANSITIONS,
    UNPUBLISH_REASON_MISSING,
    WorkflowError,
    integrity_problems,
    mark_reviewed,
    publication_problems,
    publish,
    published_problems,
    send_to_review,
    transition,
    transition_problem,
    unpublish,
)

__all__ = [
    "RestoreError",
    "restore_problem",
    "restore_version",
    "INITIAL_DATA",
    "SCALAR_FIELDS",
    "DATE_FIELDS",
    "RecordError",
    "LoadSummary",
    "trial_fields",
    "create_trial",
    "read_records",
    "read_data_file",
    "DataFile",
    "RECORD_PREFETCH",
    "write_record",
    "load_trials",
    "PUBLISH_PERMISSION",
    "TRANSITIONS",
    "UNPUBLISH_REASON_MISSING",
    "WorkflowError",
    "publication_problems",
    "published_problems",
    "integrity_problems",
    "transition",
    "transition_problem",
    "send_to_review",
    "publish",
    "unpublish",
    "mark_reviewed",
    "CURATOR_PERMISSIONS",
    "EDITOR_PERMISSIONS",
    "ROLES",
    "setup_roles",
    "add_comment",
    "needs_approval",
    "previewed",
    "propose_change",
    "propose_review_dates",
    "public_changes",
    "record_now",
    "send_back",
    "waiting_change",
    "CtgovImportSummary",
    "record_registry_update",
    "ctgov_identifier",
    "import_ctgov_studies",
    "import_ctgov_documents",
    "import_ctgov_files",
    "fetch_ctgov_studies",
    "CtgovCheckSummary",
    "check_ctgov_updates",
    "resolve_registry_update",
    "dismiss_registry_update",
]
