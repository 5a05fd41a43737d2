"""The curators' admin: one page per trial, a publishing workflow, roles and a history of every change.

- `forms`: the trial's form (workflow, dates), registry identifiers, mechanism links, the import form;
- `list_filters`: the trial list's filters and their counts;
- `trial_list`: the trial list's rows (columns, checkboxes, links);
- `history`: the history pages' data (many-to-many values in words, the inlines' changes);
- `trial`: the trial's admin (inlines, columns, workflow actions, the curators' CSV);
- `parts`: the inline models' own pages (history and revert) and countries;
- `registry_updates`: ClinicalTrials.gov import and the review of registry updates;
- `uploads`: the import page's limits on an upload (file count and size), applied as it arrives.

Importing this package registers every model admin (Django's autodiscover imports `trials.admin`).
"""

from . import parts, registry_updates, trial

__all__ = ["parts", "registry_updates", "trial"]
