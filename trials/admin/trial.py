"""The trial's admin: its page with inlines, the change list, the workflow actions and the curators' CSV.

Curation-state moves go through `trials.actions.transition` (admin actions and the change form alike), which checks
the user's permission on the server. The staleness columns and filter use the one rule in trials/status.py.
"""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from trials import actions, exports, integrity
from trials.actions import edit_versions
from trials.admin.approval import ApprovalMixin
from trials.admin.forms import (
    MechanismChoicesFormSet,
    RegistryIdentifierForm,
    RegistryIdentifierFormSet,
    RowForm,
    TrialAdminForm,
)
from trials.admin.history import TrialHistoryHelper, inline_history, m2m_codes_by_record, m2m_values_by_record
from trials.admin.inlines import (
    OutcomeInline,
    PublicationInline,
    SiteInline,
    SourceInline,
    TrialRelationInline,
    edited_trial_id,
)
from trials.admin.list_filters import (
    ColumnChoicesFilter,
    DiabetesTypeFilter,
    MechanismFilter,
    ProblemFilter,
    StalenessFilter,
)
from trials.admin.reasons import ReasonConfirmationMixin
from trials.admin.stale_rows import StaleRowsMixin
from trials.admin.trial_list import TrialListMixin
from trials.admin.versions import VersionsAdminMixin
from trials.models import Comment, RegistryIdentifier, Source, Trial, TrialMechanism
from trials.vocabularies import CurationState, Registry

# --- Inlines --------------------------------------------------------------------------------------


class RegistryIdentifierInline(admin.TabularInline):
    model = RegistryIdentifier
    form = RegistryIdentifierForm
    formset = RegistryIdentifierFormSet
    extra = 1
    verbose_name_plural = "registry identifiers (exactly one primary)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is None:  # a new trial: the first identifier is usually its NCT number, and primary
            formset.form.base_fields["is_primary"].initial = True
            formset.form.base_fields["registry"].initial = Registry.CTGOV
        return formset


class TrialMechanismInline(admin.StackedInline):
    model = TrialMechanism
    form = RowForm
    formset = MechanismChoicesFormSet
    extra = 1
    max_num = 4
    fields = [("mechanism", "role"), "rationale"]
    verbose_name_plural = "mechanisms the trial relies on (with your rationale)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "mechanism":
            field.widget.can_add_related = field.widget.can_change_related = False
            field.widget.can_delete_related = field.widget.can_view_related = False
        return field


# The admin's CSV: the public export's columns, then what only curators see.
CURATION_COLUMNS = [
    exports.Column(
        "curation_state",
        "DRAFT, REVIEW or PUBLISHED: only published trials are public.",
        exports.field("curation_state"),
        fields=("curation_state",),
    ),
    exports.Column(
        "curator_notes",
        "The curators' private notes on the record.",
        exports.field("curator_notes"),
        fields=("curator_notes",),
    ),
]


# --- Trials ---------------------------------------------------------------------------------------


@admin.register(Trial)
class TrialAdmin(
    TrialListMixin, StaleRowsMixin, ApprovalMixin, ReasonConfirmationMixin, VersionsAdminMixin, SimpleHistoryAdmin
):
    form = TrialAdminForm
    inlines = [
        RegistryIdentifierInline,
        TrialMechanismInline,
        PublicationInline,
        SourceInline,
        OutcomeInline,
        SiteInline,
        TrialRelationInline,
    ]
    # The trial's page shows its pending registry update; the list links to the ClinicalTrials.gov import page.
    change_form_template = "admin/trials/ctgov_trial_change_form.html"
    change_list_template = "admin/trials/ctgov_trial_change_list.html"
    object_history_template = "admin/trials/trial/object_history.html"
    object_history_list_template = "admin/trials/object_history_list.html"
    history_list_per_page = 50

    list_display = [
        "primary_identifier_display",
        "title_column",
        "phase",
        "status_column",
        "state_column",
        "last_reviewed_on",
        "status_confirmed_on",
        "stale_column",
        "problems_column",
    ]
    list_display_links = ["primary_identifier_display", "title_column"]
    list_filter = [
        ("curation_state", ColumnChoicesFilter),
        ("overall_status", ColumnChoicesFilter),
        ("phase", ColumnChoicesFilter),
        MechanismFilter,
        DiabetesTypeFilter,
        ("cell_source", ColumnChoicesFilter),
        StalenessFilter,
        ProblemFilter,
    ]
    search_fields = ["brief_title", "official_title", "acronym", "identifiers__value", "sponsor", "product_name"]
    list_select_related = []  # every column is on the trial or annotated: no per-row query
    list_per_page = 50
    ordering = ["brief_title"]
    autocomplete_fields = ["countries"]
    prepopulated_fields = {"slug": ("brief_title",)}
    readonly_fields = ["created_at", "updated_at", "problems_display", "data_version"]
    save_on_top = True
    actions = ["send_to_review", "publish", "unpublish", "mark_reviewed_today", "export_csv"]

    fieldsets = [
        (
            "Who and what",
            {
                "fields": [
                    "brief_title",
                    "slug",
                    "official_title",
                    "acronym",
                    "summary",
                    ("sponsor", "sponsor_class"),
                    "collaborators",
                    "product_name",
                    "diabetes_types",
                    "population_notes",
                    "programme",
                    ("programme_discontinued_on", "programme_discontinued_on_precision"),
                ]
            },
        ),
        (
            "Design and status",
            {
                "description": "Copy these from the registry record. A status that claims the trial is "
                "active is shown to readers as “Unknown status” once not confirmed for 2 years.",
                "fields": [
                    ("study_type", "phase"),
                    "overall_status",
                    ("status_confirmed_on", "status_confirmed_on_precision"),
                    "status_source",
                    "why_stopped",
                    ("start_date", "start_date_precision", "start_date_type"),
                    (
                        "primary_completion_date",
                        "primary_completion_date_precision",
                        "primary_completion_date_type",
                    ),
                    ("completion_date", "completion_date_precision", "completion_date_type"),
                    ("enrollment", "enrollment_type"),
                    "enrollment_notes",
                    "countries",
                    "registry_search_note",
                ],
            },
        ),
        (
            "Cells, route, immunosuppression",
            {
                "fields": [
                    ("cell_source", "cell_origin"),
                    "differentiation",
                    "cell_notes",
                    ("encapsulation", "gene_edited"),
                    "routes",
                    "route_notes",
                    "immunosuppression",
                    "immunosuppression_notes",
                    "follow_up_months",
                ]
            },
        ),
        (
            "Evidence",
            {
                "description": "Results as readers read them; the published outcomes, one row per measure, are "
                "below. Public caveats are shown to readers; your working notes go in the curator notes.",
                "fields": ["key_results", "public_caveats"],
            },
        ),
        (
            "Curation",
            {
                "description": "Problems are contradictions within the record (trials/integrity.py): a blocking "
                "one stops publication; the others are tasks.",
                "fields": [
                    "problems_display",
                    "curation_state",
                    "last_reviewed_on",
                    "curator_notes",
                    "comment",
                    ("created_at", "updated_at", "data_version"),
                    "seen_version",
                ],
            },
        ),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "status_source":
            kwargs["queryset"] = Source.objects.filter(trial_id=edited_trial_id(request))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "status_source":
            field.widget.can_add_related = field.widget.can_change_related = False
            field.widget.can_delete_related = field.widget.can_view_related = False
        return field

    def get_changeform_initial_data(self, request):
        initial = {"study_type": "INTERVENTIONAL", "immunosuppression": "UNKNOWN"}
        initial.update(super().get_changeform_initial_data(request))
        return initial

    @staticmethod
    def reverting_to(request):
        """The history_id of the version a revert page shows, or None elsewhere."""
        match = request.resolver_match
        if match and match.url_name == "trials_trial_simple_history" and len(match.args) == 2:
            return match.args[1]
        return None

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # A new trial starts as a draft; restoring a version restores its content, never its state.
        if obj is None or self.reverting_to(request):
            readonly.append("curation_state")
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        attrs = {"user": request.user, "row_notes": []}
        request._row_notes = attrs["row_notes"]  # filled by StaleRowsMixin.get_formset_kwargs, before the form's check
        if version := self.reverting_to(request):
            # The instance shown is the old version's: the check compares with the trial's version now.
            attrs["live_version"] = Trial.objects.filter(pk=obj.pk).values_list("edit_version", flat=True).first()
            # The version's instance has the live many-to-many values: show the version's own.
            attrs["version_m2m"] = {
                name: values.get(int(version), []) if str(version).isdigit() else []
                for name, values in m2m_codes_by_record([version]).items()
            }
        return type(form.__name__, (form,), attrs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in {"diabetes_types", "routes"}:
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="problems to fix")
    def problems_display(self, trial):
        if trial is None or not trial.pk:
            return "Checked once the trial is saved."
        found = integrity.problems(integrity.facts_of(trial), timezone.localdate())
        if not found:
            return "None: the record contradicts itself nowhere the rules look."
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}{}</li>", (("Blocking: " if p.blocking else "", p.message) for p in found)),
        )

    # Workflow ------------------------------------------------------------------------------------

    def has_publish_permission(self, request):
        return request.user.has_perm(actions.PUBLISH_PERMISSION)

    def save_model(self, request, obj, form, change):
        # The curation state changes only through the workflow (save_related), after the inlines are
        # saved, so that publishing sees the mechanism links and sources just entered.
        if change:
            obj.edit_version = (form.current_version or 0) + 1  # read and locked by the form's check
            obj._requested_state = obj.curation_state
            obj._saved_state = Trial.objects.filter(pk=obj.pk).values_list("curation_state", flat=True).first()
            obj.curation_state = obj._saved_state or obj.curation_state
            self.start_public_change(request, obj)  # a published trial: approval, publishing's rules
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        trial = form.instance
        kept = self.finish_public_change(request, trial)
        if change and form.cleaned_data.get("comment"):  # the conversation keeps it whatever became of the change
            actions.add_comment(trial=trial, user=request.user, text=form.cleaned_data["comment"])
        if not kept:
            return  # rolled back: kept for an editor's approval, or refused
        requested = getattr(trial, "_requested_state", None)
        if requested and requested != trial.curation_state:
            try:
                updated = actions.transition(trial=trial, to=requested, user=request.user)
            except actions.WorkflowError as error:
                self.message_user(
                    request,
                    f"Your changes were saved, but the trial stays “{trial.get_curation_state_display()}”: "
                    + " ".join(error.problems),
                    messages.ERROR,
                )
            else:
                trial.curation_state = updated.curation_state

    @staticmethod
    def seen_versions(request):
        """{trial id: the version its row showed} for the change list's selected rows (actions/edit_versions.py)."""
        return {
            int(key.removeprefix("seen_version_")): edit_versions.parse_version(value)
            for key, value in request.POST.items()
            if key.startswith("seen_version_") and key.removeprefix("seen_version_").isdigit()
        }

    def _run_transition(self, request, queryset, move, done):
        moved, refused = 0, []
        seen = self.seen_versions(request)
        for trial in queryset:
            try:
                move(trial=trial, user=request.user, seen_version=seen.get(trial.pk))
                moved += 1
            except actions.WorkflowError as error:
                refused.append(f"{trial}: {' '.join(error.problems)}")
        if moved:
            self.message_user(request, f"{moved} trial(s) {done}.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, f"Not {done}: {message}", messages.ERROR)

    @admin.action(description="Send selected trials to review", permissions=["change"])
    def send_to_review(self, request, queryset):
        self._run_transition(request, queryset, actions.send_to_review, "sent to review")

    @admin.action(description="Publish selected trials", permissions=["publish"])
    def publish(self, request, queryset):
        self._run_transition(request, queryset, actions.publish, "published")

    @admin.action(description="Unpublish selected trials (back to draft)", permissions=["publish"])
    def unpublish(self, request, queryset):
        reason, page = self.asked_reason(request, queryset, title="Unpublish these trials?", button="Unpublish them")
        if page:
            return page
        self._run_transition(request, queryset, partial(actions.unpublish, reason=reason), "unpublished")

    @admin.action(description="Mark selected trials reviewed today", permissions=["change"])
    def mark_reviewed_today(self, request, queryset):
        trials = list(queryset)
        if not request.user.has_perm(actions.PUBLISH_PERMISSION):  # a published trial's review date waits too
            waiting = [trial for trial in trials if trial.curation_state == CurationState.PUBLISHED]
            trials = [trial for trial in trials if trial not in waiting]
            proposed, refused = actions.propose_review_dates(trials=waiting, user=request.user)
            if proposed:
                self.message_user(request, f"{proposed} published trial(s): the review date waits for an editor.")
            for message in refused:
                self.message_user(request, f"Not marked: {message}", messages.ERROR)
        try:
            changed = actions.mark_reviewed(trials=trials, user=request.user, seen=self.seen_versions(request))
        except PermissionDenied:
            self.message_user(request, "You may not change trials.", messages.ERROR)
            return
        except actions.WorkflowError as error:
            for problem in error.problems:
                self.message_user(request, f"Nothing marked reviewed: {problem}", messages.ERROR)
            return
        self.message_user(request, f"{changed} trial(s) marked reviewed on {timezone.localdate():%-d %B %Y}.")

    @admin.action(description="Export selected trials as CSV (with curation state and notes)", permissions=["view"])
    def export_csv(self, request, queryset):
        today = timezone.localdate()
        response = StreamingHttpResponse(
            exports.csv_lines(exports.export_rows(queryset, extra_columns=CURATION_COLUMNS, today=today), bom=True),
            content_type="text/csv; charset=utf-8",
        )
        filename = exports.export_filename(today).replace(exports.FILENAME_STEM, f"{exports.FILENAME_STEM}-curation")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    # History -------------------------------------------------------------------------------------

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """Like SimpleHistoryAdmin's, with the many-to-many fields read once for the page, not per row."""
        records = list(historical_records)
        m2m_names = [field.name for field in Trial.history.model._history_m2m_fields]
        m2m = m2m_values_by_record(records)
        for newer, older in zip(records, records[1:], strict=False):
            delta = newer.diff_against(older, excluded_fields=m2m_names, foreign_keys_are_objs=False)
            helper = TrialHistoryHelper(self.model, newer)
            changes = helper.context_for_delta_changes(delta)
            for name in m2m_names:
                old = m2m[name].get(older.history_id, [])
                new = m2m[name].get(newer.history_id, [])
                if old != new:
                    field = self.model._meta.get_field(name)
                    changes.append(
                        {
                            "field": capfirst(field.verbose_name),
                            "old": ", ".join(old) or "—",
                            "new": ", ".join(new) or "—",
                        }
                    )
            newer.history_delta_changes = changes

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {})}
        if str(object_id).isdigit():  # the review conversation, with its authors (one query)
            extra_context["conversation"] = Comment.objects.filter(trial_id=int(object_id)).select_related("author")
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def history_view(self, request, object_id, extra_context=None):
        extra_context = {**(extra_context or {})}
        if str(object_id).isdigit():
            extra_context["inline_history"] = inline_history(int(object_id))
        return super().history_view(request, object_id, extra_context=extra_context)
