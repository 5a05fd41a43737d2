"""The evidence pages: /evidence/ (every published outcome side by side) and /evidence/export.csv (the same rows)."""

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from trials.evidence import EVIDENCE_PARAMETERS, evidence_rows, filter_options, filtered_outcomes, outcome_rows
from trials.exports import csv_lines, in_chunks
from trials.page_cache import cache_parameters, not_cached
from trials.views import not_understood

FILENAME_STEM = "stem-cell-diabetes-evidence"


@cache_parameters(multi=EVIDENCE_PARAMETERS)
@require_GET
def evidence(request):
    """Every published outcome, filtered by measure, mechanism and cell source; a value not understood gets a 400
    page that says which. Queries: the data version, the mechanisms (for the form; and once more to validate a
    mechanism asked for), the outcomes and their trials' mechanism links: 4 or 5, whatever the number of rows."""
    filterset, outcomes = filtered_outcomes(request.GET)
    context = {"filter": filterset, "form": filterset.form, "filters": filter_options(filterset)}
    if outcomes is None:
        context["errors"] = not_understood(filterset)
        return render(request, "evidence/evidence.html", context, status=400)
    context.update({"outcomes": outcome_rows(outcomes), "is_filtered": filterset.is_filtered})
    return render(request, "evidence/evidence.html", context)


@not_cached  # streamed
@require_GET
def evidence_export(request):
    """/evidence/export.csv: the rows /evidence/ shows for the same parameters, as streamed CSV (one query)."""
    filterset, outcomes = filtered_outcomes(request.GET)
    if outcomes is None:
        return evidence(request)
    bom = request.GET.get("bom", "").lower() in {"1", "true", "yes", "on"}
    response = StreamingHttpResponse(
        in_chunks(csv_lines(evidence_rows(outcomes), bom=bom)), content_type="text/csv; charset=utf-8"
    )
    filename = f"{FILENAME_STEM}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
