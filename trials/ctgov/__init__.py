"""ClinicalTrials.gov API v2: read study records, map them onto the registry's data format, compare them with
curated trials, fetch them. No database writes here: those live in trials/actions/registry_updates.py.

- `reading`: JSON documents into studies, NCT numbers; older formats refused with where to get the right one;
- `validation`: JSON parsed within bounds, and each study's shape checked before it is mapped;
- `limits`: what an import may bring in, so that every draft fits the registry and its admin;
- `mapping`: one study as a record of the registry's data format, one API module at a time;
- `compare`: a curated trial against its record, field by field;
- `client`: the HTTP client, its retries and its rate limiter.
"""

from typing import Any

Study = dict[str, Any]  # one study of the API v2 JSON (a module of it too: a JSON object)
Record = dict[str, Any]  # a record of the registry's data format (trials/data/README.md)


class CtgovError(Exception):
    """A study record that cannot be read or mapped, or a fetch that failed. The message says why."""
