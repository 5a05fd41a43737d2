"""The admin's trial list: its rows (the annotated queryset, the columns) and what makes a page of them cheap to draw.

Drawing 50 rows through Django's defaults cost more than the list's SQL (measured at 10,000 trials, bench/RESULTS.md,
"The admin trial list at 10,000 trials"): each row's checkbox went through the form renderer's templates, and each
of a row's two links was reversed, then resolved again to add the list's filters to it. Here the checkbox is the
same HTML written directly, and a row's link is reversed once and carries the list's filters itself.
"""

import unicodedata

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from trials import integrity, stored_problems
from trials.models import TrialProblem
from trials.status import StatusDisplay

TITLE_CHARS = 70  # the title column's length; a longer title is cut, ending with an ellipsis


class TrialChangeList(ChangeList):
    """Django's change list, whose rows link to the trial's page with the list's filters (to come back to them, as
    Django's do) without resolving each link again: Django's row links pass through `add_preserved_filters`, which
    resolves every URL to tell the list's own address from others when the list has any parameter. A row's link is
    never the list's, so the filters are added here, once per trial, and Django's step is given none to add (the
    change list's `preserved_filters` is read by the rows' links alone)."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.row_link_filters, self.preserved_filters = self.preserved_filters, ""
        self.row_links = {}

    def url_for_result(self, result):
        if result.pk not in self.row_links:
            url = super().url_for_result(result)
            self.row_links[result.pk] = f"{url}?{self.row_link_filters}" if self.row_link_filters else url
        return self.row_links[result.pk]


class TrialListMixin:
    """For TrialAdmin: the list's queryset, its columns, its change list and its rows' checkboxes."""

    def get_changelist(self, request, **kwargs):
        return TrialChangeList

    def get_queryset(self, request):
        queryset = super().get_queryset(request).with_primary_identifier()
        match = request.resolver_match
        if match and match.url_name == "trials_trial_changelist":  # the problems column reads these per row
            stored_problems.recheck_pending()
            holding = TrialProblem.objects.holding_on(timezone.localdate())
            queryset = queryset.prefetch_related(Prefetch("stored_problems", queryset=holding, to_attr="problems_now"))
        return queryset

    def action_checkbox(self, obj):
        """Django's checkbox (ModelAdmin.action_checkbox), the same HTML written without the form renderer."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    @admin.display(description="primary identifier", ordering="primary_identifier")
    def primary_identifier_display(self, trial):
        return trial.primary_identifier or f"({trial.slug})"

    @admin.display(description="brief title", ordering="brief_title")
    def title_column(self, trial):
        title = trial.brief_title
        if len(title) <= TITLE_CHARS and unicodedata.is_normalized("NFC", title):
            return title  # what Truncator gives back, without its translated ellipsis looked up for every row
        return Truncator(title).chars(TITLE_CHARS)

    @staticmethod
    def status_of(trial):
        """The trial's status as readers see it (StatusDisplay), worked out once for the row's two columns."""
        if not hasattr(trial, "_status_shown"):
            trial._status_shown = StatusDisplay.for_trial(trial)
        return trial._status_shown

    @admin.display(description="status as readers see it", ordering="overall_status")
    def status_column(self, trial):
        return self.status_of(trial).label

    @admin.display(description="curation state", ordering="curation_state")
    def state_column(self, trial):
        # The version each row showed goes with the selected rows to an action: a trial saved since is refused.
        return format_html(
            '{}<input type="hidden" name="seen_version_{}" value="{}">',
            trial.get_curation_state_display(),
            trial.pk,
            trial.edit_version,
        )

    @admin.display(description="needs attention")
    def stale_column(self, trial):
        display = self.status_of(trial)
        flags = []
        if display.record_stale:
            flags.append("Review overdue")
        if display.status_stale:
            flags.append("Status unconfirmed")
        return "; ".join(flags) or "—"

    @admin.display(description="problems")
    def problems_column(self, trial):
        """The stored problems that hold today (prefetched by get_queryset), blocking ones first, in the rules'
        order."""
        order = {name: position for position, name in enumerate(integrity.RULES_BY_NAME)}
        found = sorted(trial.problems_now, key=lambda problem: (not problem.blocking, order.get(problem.rule, 0)))
        if not found:
            return "—"
        blocking = sum(problem.blocking for problem in found)
        titles = "; ".join(
            integrity.RULES_BY_NAME[problem.rule].title for problem in found if problem.rule in integrity.RULES_BY_NAME
        )
        return f"{blocking} blocking: {titles}" if blocking else titles
