from contextlib import nullcontext

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from mechanisms.models import Mechanism, PathwayStep
from trials.card_flags import card_flags
from trials.cards import card_rows
from trials.charts.figures import drawn_charts
from trials.evidence import mechanism_outcomes
from trials.facets import (
    cached_counts,
    current_facet_index,
    home_counts,
    list_counts,
    listed_ids,
    mechanism_counts,
)
from trials.filter_summary import filters_in_force
from trials.filters import (
    LIST_MULTI_PARAMETERS,
    LIST_SINGLE_PARAMETERS,
    PAGE_SIZE_MAX,
    PAGE_SIZE_MIN,
    SORT_CHOICES,
    filtered_trials,
)
from trials.models import Trial
from trials.page_cache import cache_parameters, not_cached
from trials.pathway import steps_with_counts
from trials.search import index_scans
from trials.status import OPEN_STATUSES, STATUS_EXPLANATIONS
from trials.suggestions import suggest
from trials.trial_page import former_address, published_trials, trial_page
from trials.vocabularies import OverallStatus

OPEN_TRIALS_SHOWN = 6  # on the home page; the rest are one link away
PAGE_SIZES = [10, 25, 50, 100]


@require_GET
def home(request):
    # "Recruiting now": trials open to participants whose status is current (their status as shown is open), most
    # recently confirmed first: the first of them in the list's default order, from the facet index (counted on
    # write), so no query for their ids.
    index = current_facet_index()
    shown = card_rows(index.first(index.facets["status"].matching(OPEN_STATUSES), OPEN_TRIALS_SHOWN))
    counts = cached_counts("home", "", home_counts)  # cached until the registry changes, like the list's
    return render(
        request,
        "home.html",
        {
            **counts,
            "open_trials": shown,
            "open_statuses": [OverallStatus(code) for code in OPEN_STATUSES],
            "charts": drawn_charts(),  # drawn when the registry changed, from the facet index
        },
    )


@require_GET
def glossary(request):
    from trials.glossary import TERMS

    return render(request, "glossary.html", {"terms": sorted(TERMS, key=lambda term: term.name.lower())})


@require_GET
def about(request):
    statuses = [(OverallStatus(code).label, explanation) for code, explanation in STATUS_EXPLANATIONS.items()]
    return render(request, "about.html", {"statuses": statuses})


def not_understood(filterset):
    """The values the reader gave that did not validate: [(field name, label, the values given, messages)]."""
    rows = []
    for name, messages in filterset.errors.items():
        label = filterset.form.fields[name].label or name.replace("_", " ").capitalize()
        given = filterset.data.getlist(name) if hasattr(filterset.data, "getlist") else [filterset.data.get(name)]
        rows.append({"name": name, "label": label, "given": given, "messages": messages})
    return rows


def rows_in_order(trials, searching=False):
    """The trials of the ordered queryset `trials` (sliced to a page), as trials/cards.py reads them for their cards,
    in that order. Two steps, as a large registry needs: the page's ids from a narrow query (the sort reads a
    covering index, never the trials' wide rows), then those trials by primary key; `searching`: the ids through
    the search index (trials/search.py: index_scans). Queries: 6 (card_rows's 5), and on PostgreSQL the search's
    transaction and its settings."""
    with index_scans(trials.db) if searching else nullcontext():
        ids = list(trials.values_list("pk", flat=True))
    return card_rows(ids)


class CountedPaginator(Paginator):
    """A Paginator given its count (counted and cached with the facets) instead of counting again."""

    def __init__(self, object_list, per_page, count):
        super().__init__(object_list, per_page)
        self.count = count  # set on the instance: replaces Paginator's cached count query


@cache_parameters(single=LIST_SINGLE_PARAMETERS, multi=LIST_MULTI_PARAMETERS)
@require_GET
def trial_list(request):
    filterset, trials = filtered_trials(request.GET)
    facets, total = list_counts(filterset, trials)  # cached until a trial changes
    context = {
        "filter": filterset,
        "form": filterset.form,
        "facets": facets,
        "sort_choices": SORT_CHOICES,
        "page_sizes": PAGE_SIZES,
        "page_size_range": (PAGE_SIZE_MIN, PAGE_SIZE_MAX),
        # What was asked for and understood (or the defaults): the form keeps them, even on a 400.
        "sort": filterset.sort,
        "page_size": filterset.page_size,
    }
    if trials is None:
        context["errors"] = not_understood(filterset)
        return render(request, "trials/trial_list.html", context, status=400)
    paginator = CountedPaginator(trials, filterset.page_size, total)
    number = min(filterset.form.cleaned_data.get("page") or 1, paginator.num_pages)
    page = paginator.page(number)
    # In the default order, narrowed by facets alone, the page's ids come from the facet index (no query).
    ids = listed_ids(filterset, (number - 1) * filterset.page_size, filterset.page_size)
    if ids is None:
        page.object_list = rows_in_order(page.object_list, searching=bool(filterset.search_text))
    else:
        page.object_list = card_rows(ids)
    for trial in page.object_list:  # evaluated once here, then shown: the flags read the trial's own fields
        trial.reader_flags = card_flags(trial, filterset.today)
    context.update(
        {
            "page": page,
            "page_range": paginator.get_elided_page_range(number, on_each_side=2, on_ends=1),
            "trials": page.object_list,
            "total": paginator.count,
            "is_filtered": filterset.is_filtered,
            "others_asked": filterset.others_asked,
            "active_filters": filters_in_force(filterset, facets),
        }
    )
    if not paginator.count and filterset.search_text:
        context["suggestions"] = suggest(filterset)  # a few queries, on an empty page only
    return render(request, "trials/trial_list.html", context)


@require_GET
def trial_detail(request, key):
    if "\x00" in key:  # in no identifier or slug, and PostgreSQL refuses it in a query
        raise Http404("No published trial has this address.")
    trial = published_trials().by_public_key(key).first()
    if trial is None:
        # Another identifier of a published trial, a former slug or identifier: send the reader to its address.
        moved = former_address(key)
        if moved is None:
            raise Http404("No published trial has this address.")
        return redirect(moved, permanent=True)
    page = trial_page(trial)
    return render(
        request,
        "trials/trial_detail.html",
        {
            "trial": trial,
            "page": page,
            "status": page.status,
            "steps": {s.slug: s for s in PathwayStep.objects.all()},
        },
    )


class TrialMoved(Exception):
    """The key is a former or other address of a published trial: answer with a permanent redirect."""

    def __init__(self, trial):
        self.trial = trial


def published_trial_or_404(key):
    """The published trial at this address (its primary identifier or slug), for its change log and feed. One
    query. Raises TrialMoved for another or a former address of one (as its page redirects), Http404 otherwise."""
    if "\x00" in key:
        raise Http404("No published trial has this address.")
    trial = Trial.objects.published().with_primary_identifier().by_public_key(key).first()
    if trial is None:
        moved = former_address(key)
        if moved is None:
            raise Http404("No published trial has this address.")
        raise TrialMoved(moved)
    return trial


def trial_or_redirect(key, route):
    """(the published trial at `key`, None), or (None, a permanent redirect to `route` at its address)."""
    try:
        return published_trial_or_404(key), None
    except TrialMoved as moved:
        return None, redirect(route, moved.trial.public_key, permanent=True)


@require_GET
def trial_changes(request, key):
    """/trials/<identifier>/changes/: what changed in the trial's public facts, and when, newest first
    (trials/changes.py). Fourteen queries, fifteen when it names related trials."""
    from trials.changes import public_changes

    trial, moved = trial_or_redirect(key, "trials:changes")
    if moved:
        return moved
    changes = public_changes([trial.pk]).get(trial.pk, [])
    return render(request, "trials/trial_changes.html", {"trial": trial, "changes": changes[::-1]})


# --- Mechanisms: each with the trials that test it (the pages live here, as trials depend on mechanisms) ---

TRIALS_SHOWN = 20  # on a mechanism's page; the rest are one link away, in the filtered list


@require_GET
def mechanism_list(request):
    published = Trial.objects.published()
    mechanisms = Mechanism.objects.with_trial_count(published).order_by("position", "name")
    return render(
        request,
        "mechanisms/mechanism_list.html",
        {
            "mechanisms": mechanisms,
            "pathway_steps": steps_with_counts(PathwayStep.objects.all()),
            "trial_count": published.count(),
        },
    )


@require_GET
def mechanism_detail(request, slug):
    mechanism = get_object_or_404(Mechanism, slug=slug)
    # Its first trials in the list's default order, from the facet index (counted on write): no query for their ids.
    index = current_facet_index()
    shown = card_rows(index.first(index.facets["mechanism"].sets.get(mechanism.slug, 0), TRIALS_SHOWN), mechanism)

    # Counted when the registry last changed (trials/facets.py: refresh_counts), as the list's.
    by_phase, by_status = cached_counts("mechanism", slug, lambda: mechanism_counts(mechanism))
    return render(
        request,
        "mechanisms/mechanism_detail.html",
        {
            "mechanism": mechanism,
            "trials": shown,
            "trial_count": sum(row[2] for row in by_status),
            "by_phase": by_phase,
            "by_status": by_status,
            "pathway_steps": steps_with_counts(PathwayStep.objects.all(), mechanism),
            "outcomes": mechanism_outcomes(mechanism),  # its part of /evidence/: two queries
            "charts": drawn_charts(mechanism),  # drawn when the registry changed, as the home page's
        },
    )


# --- CSV export (trials/exports.py) -----------------------------------------------------------


@not_cached  # streamed, and as large as the registry
@require_GET
def trial_export(request):
    """/trials/export.csv: every trial /trials/ shows for the same parameters (all pages, in the same order), as
    streamed CSV. Invalid parameters get the list's own 400 page. One query for the rows, whatever their number."""
    from django.http import StreamingHttpResponse

    from trials.exports import csv_lines, export_filename, export_rows, in_chunks

    today = timezone.localdate()
    filterset, trials = filtered_trials(request.GET, today=today)
    if trials is None:
        return trial_list(request)
    bom = request.GET.get("bom", "").lower() in {"1", "true", "yes", "on"}
    response = StreamingHttpResponse(
        in_chunks(csv_lines(export_rows(trials, today=today), bom=bom)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(today)}"'
    return response
