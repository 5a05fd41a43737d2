"""The API's reads. A trial is the CSV's columns (trials/exports.py: the same values, from the same query), its
multi-valued columns as lists, plus its sites, published outcomes and sources. Curator notes are never read.

`trial_records(queryset, today, window)`: the trials of `queryset[window]`, in its order, as dicts. Four queries
whatever their number: the export's one query for the columns, then one each for sites, outcomes and sources.
"""

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from trials.export_query import SEPARATOR, export_values
from trials.exports import COLUMNS, MULTI, address_template, row_class
from trials.models import Outcome, Site, Source

# The CSV's multi-valued columns (those whose meaning says they hold several values): lists in JSON.
LIST_COLUMNS = frozenset(column.name for column in COLUMNS if MULTI in column.meaning)
NUMBER_COLUMNS = frozenset({"enrollment"})


def cell(name, value):
    """A CSV cell as JSON: several values as a list, an empty text as null (not known)."""
    if name in LIST_COLUMNS:
        return value.split(SEPARATOR) if value else []
    if value == "":
        return None
    return value


def trial_records(queryset, today, window=slice(None)):
    """Query (4): the trials of `queryset` (published ones: callers start from Trial.objects.published()) within
    `window`, in the queryset's order, each a dict of the CSV's columns, `key`, `api_url` and its parts."""
    rows, names = export_values(queryset, ["id"])
    make_row = row_class(names, address_template(settings.SITE_URL, get_script_prefix(), get_urlconf()))
    trials = [make_row(row) for row in rows[window]]
    ids = [trial.id for trial in trials]
    parts = trial_parts(ids)
    records = []
    for trial in trials:
        record = {column.name: cell(column.name, column.value(trial, today)) for column in COLUMNS}
        record["key"] = trial.public_key
        record["api_url"] = settings.SITE_URL + reverse("api:trial", args=[trial.public_key])
        for name, by_trial in parts.items():
            record[name] = by_trial.get(trial.id, [])
        records.append(record)
    return records


def trial_parts(ids):
    """Query (3): {"sites": {trial id: [site, ...]}, "outcomes": {...}, "sources": {...}} for the trials `ids`."""
    parts = {"sites": {}, "outcomes": {}, "sources": {}}
    sites = Site.objects.filter(trial_id__in=ids).select_related("country")
    for site in sites:
        parts["sites"].setdefault(site.trial_id, []).append(
            {"facility": site.facility, "city": site.city or None, "country": site.country_id,
             "country_name": site.country.name}
        )  # fmt: skip
    outcomes = Outcome.objects.filter(trial_id__in=ids).select_related("publication", "source")
    for outcome in outcomes:
        publication = outcome.publication
        parts["outcomes"].setdefault(outcome.trial_id, []).append(
            {
                "measure": outcome.measure,
                "measure_label": outcome.get_measure_display(),
                "result": outcome.result,
                "participants": outcome.n,
                "timepoint": outcome.timepoint or None,
                "publication": None
                if publication is None
                else {
                    "citation": publication.citation,
                    "doi": publication.doi or None,
                    "pmid": publication.pmid or None,
                    "year": publication.year,
                },
                "source_url": outcome.source.url if outcome.source else None,
            }
        )
    for source in Source.objects.filter(trial_id__in=ids):
        parts["sources"].setdefault(source.trial_id, []).append(
            {
                "url": source.url,
                "title": source.title or None,
                "publisher": source.publisher or None,
                "kind": source.kind or None,
                "date": source.source_date.isoformat() if source.source_date else None,
                "date_precision": source.date_precision or None,
                "date_notes": source.date_notes or None,
                "used_for": source.used_for,
            }
        )
    return parts
