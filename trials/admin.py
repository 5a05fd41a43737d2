"""The curators' admin: one page per trial, a publishing workflow, roles and a history of every change.

Curation-state moves go through `trials.actions.transition` (admin actions and the change form alike),
which checks the user's permission on the server. The staleness columns and filter use the one rule
in trials/models.py (`StatusDisplay.for_trial`, `status_stale_q`, `record_stale_q`).
"""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from mechanisms.models import Mechanism

from . import actions, ctgov, exports
from .models import (
    Country,
    CurationState,
    DiabetesType,
    Publication,
    Registry,
    RegistryIdentifier,
    RegistryUpdate,
    RegistryUpdateStatus,
    Route,
    Source,
    StatusDisplay,
    Trial,
    TrialMechanism,
    normalize_identifier,
    record_stale_q,
    status_stale_q,
)

# --- Validation shared by the inline and the identifier's own page --------------------------------


def duplicate_identifier_error(value, exclude_pk=None):
    """The message for an identifier already in the registry (with a link to its trial), or None. One query."""
    other = (
        RegistryIdentifier.objects.filter(value__iexact=value)
        .exclude(pk=exclude_pk)
        .select_related("trial")
        .only("value", "trial__brief_title")
        .first()
    )
    if other is None:
        return None
    url = reverse("admin:trials_trial_change", args=[other.trial_id])
    return format_html(
        '{} is already in the registry, on the trial <a href="{}">{}</a>. Each identifier belongs to one trial.',
        other.value,
        url,
        other.trial.brief_title,
    )


class RegistryIdentifierForm(forms.ModelForm):
    class Meta:
        model = RegistryIdentifier
        fields = ["registry", "value", "is_primary"]

    def clean(self):
        cleaned = super().clean()
        registry, value = cleaned.get("registry"), cleaned.get("value")
        if registry and value:
            cleaned["value"] = normalize_identifier(registry, value)
            if message := duplicate_identifier_error(cleaned["value"], exclude_pk=self.instance.pk):
                self.add_error("value", message)
        return cleaned

    def validate_unique(self):
        # The duplicate check above gives the clearer message (with a link); skip Django's generic one
        # for the value, keep the others (one primary per trial).
        exclude = self._get_validation_exclusions()
        exclude.add("value")
        try:
            self.instance.validate_unique(exclude=exclude)
            self.instance.validate_constraints(exclude=exclude)
        except ValidationError as error:
            self._update_errors(error)


class RegistryIdentifierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("value")
        ]
        primaries = [form for form in kept if form.cleaned_data.get("is_primary")]
        if kept and len(primaries) != 1:
            raise ValidationError(
                f"Mark exactly one identifier as primary (now {len(primaries)}): the one used in the trial's "
                "address, the NCT number when there is one."
            )


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


class MechanismChoicesFormSet(forms.BaseInlineFormSet):
    """Reads the four mechanisms once for the whole formset instead of once per row."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.form.base_fields["mechanism"]
        self._mechanism_choices = list(field.choices)

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.fields["mechanism"].widget.choices = self._mechanism_choices
        return form

    @property
    def empty_form(self):
        form = super().empty_form
        form.fields["mechanism"].widget.choices = self._mechanism_choices
        return form


class TrialMechanismInline(admin.StackedInline):
    model = TrialMechanism
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


class PublicationInline(admin.StackedInline):
    model = Publication
    extra = 0
    fields = ["citation", ("doi", "pmid"), ("journal", "year")]


# URLs typed without a scheme are taken as https:// (Django 6's default).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class SourceInline(admin.StackedInline):
    model = Source
    formfield_overrides = HTTPS_URLS
    extra = 1
    fields = ["url", ("source_date", "date_notes"), "used_for"]


# --- The trial's form -----------------------------------------------------------------------------

DATE_TRIPLES = [
    ("start_date", "start"),
    ("primary_completion_date", "primary completion"),
    ("completion_date", "completion"),
]


class TrialAdminForm(forms.ModelForm):
    user = None  # set by TrialAdmin.get_form: the curator posting the form
    version_m2m = None  # on a revert page: {field: codes} of the version shown

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, codes in (self.version_m2m or {}).items():
            self.initial[name] = codes

    class Meta:
        model = Trial
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets choose the fields)
        labels = {
            **{f"{name}_precision": "precision" for name, _ in DATE_TRIPLES},
            **{f"{name}_type": "actual or estimated" for name, _ in DATE_TRIPLES},
            "enrollment_type": "actual or anticipated",
        }
        widgets = {
            name: forms.Textarea(attrs={"rows": rows, "cols": 80})
            for name, rows in [
                ("official_title", 2),
                ("collaborators", 2),
                ("summary", 4),
                ("population_notes", 3),
                ("cell_notes", 3),
                ("route_notes", 2),
                ("immunosuppression_notes", 2),
                ("key_results", 4),
                ("curator_notes", 3),
            ]
        }
        error_messages = {"enrollment": {"min_value": "Enrollment is a number of participants: 0 or more, e.g. 12."}}
        help_texts = {
            "study_type": "As the registry gives it; almost always Interventional for these trials.",
            "start_date_precision": "How precise the start date is. Required when a start date is given.",
            "start_date_type": "Actual (it happened) or estimated (planned). Leave empty if the source does not say.",
            "primary_completion_date_precision": "Required when a primary completion date is given.",
            "primary_completion_date_type": "Actual or estimated, as the registry says.",
            "completion_date_precision": "Required when a completion date is given.",
            "completion_date_type": "Actual or estimated, as the registry says.",
            "enrollment_type": "Actual once enrolment is over; anticipated while it is planned.",
            "cell_origin": "Autologous: the patient's own cells. Allogeneic: a donor's or a cell line's.",
            "encapsulation": "Whether the cells are inside a device or capsule. Empty if not known.",
            "curation_state": "Draft → In review → Published. Only editors publish or unpublish; publishing "
            "needs a mechanism link with a rationale, a source and a review date.",
        }

    def clean_curation_state(self):
        state = self.cleaned_data.get("curation_state")
        current = self.instance.curation_state if self.instance.pk else CurationState.DRAFT
        if self.instance.pk:
            current = Trial.objects.filter(pk=self.instance.pk).values_list("curation_state", flat=True).first()
        if state and current and state != current:
            permission = actions.TRANSITIONS.get((current, state))
            if permission is None:
                raise ValidationError(
                    f"A trial cannot go from “{CurationState(current).label}” to “{CurationState(state).label}”; "
                    "send it to review first."
                )
            if self.user is not None and not self.user.has_perm(permission):
                raise ValidationError(
                    "Only editors can publish or unpublish a trial. Save it and send it to review instead."
                )
        return state

    def clean_enrollment(self):
        enrollment = self.cleaned_data.get("enrollment")
        if enrollment is not None and enrollment > 1_000_000:
            raise ValidationError(
                "Enrollment is the number of participants, e.g. 12; %(value)s looks like a typing error.",
                params={"value": enrollment},
            )
        return enrollment

    def clean(self):
        cleaned = super().clean()
        for field, words in DATE_TRIPLES:
            day, precision = cleaned.get(field), cleaned.get(f"{field}_precision")
            date_type = cleaned.get(f"{field}_type")
            if day and not precision:
                self.add_error(
                    f"{field}_precision",
                    f"Give the precision of the {words} date (day, month or year): the registry shows "
                    "“May 2024” for a month, not “1 May 2024”.",
                )
            if not day and (precision or date_type):
                self.add_error(field, f"Give the {words} date, or clear its precision and type.")
        order = [(f, w) for f, w in DATE_TRIPLES if cleaned.get(f)]
        for (first, first_words), (second, second_words) in zip(order, order[1:], strict=False):
            if cleaned[first] > cleaned[second]:
                self.add_error(
                    second,
                    f"The {second_words} date ({cleaned[second]:%-d %B %Y}) is before the {first_words} date "
                    f"({cleaned[first]:%-d %B %Y}): check both against the registry.",
                )
        if cleaned.get("enrollment_type") and cleaned.get("enrollment") is None:
            self.add_error("enrollment", "Give the number of participants, or clear the enrollment type.")
        return cleaned


# --- Change-list filters --------------------------------------------------------------------------


class MechanismFilter(admin.SimpleListFilter):
    title = "mechanism"
    parameter_name = "mechanism"

    def lookups(self, request, model_admin):
        return list(Mechanism.objects.values_list("slug", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(mechanism_links__mechanism__slug=self.value())
        return queryset


class DiabetesTypeFilter(admin.SimpleListFilter):
    title = "diabetes type"
    parameter_name = "diabetes_type"

    def lookups(self, request, model_admin):
        return DiabetesType.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(diabetes_types__code=self.value())
        return queryset


class StalenessFilter(admin.SimpleListFilter):
    title = "staleness"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [
            ("review", "Review overdue (over 12 months, or never)"),
            ("status", "Status unknown (active status not confirmed for over 2 years)"),
            ("any", "Either"),
            ("fresh", "Up to date"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "review":
            return queryset.filter(record_stale_q())
        if value == "status":
            return queryset.filter(status_stale_q())
        if value == "any":
            return queryset.filter(record_stale_q() | status_stale_q())
        if value == "fresh":
            return queryset.exclude(record_stale_q() | status_stale_q())
        return queryset


# --- History: the trial's own changes and its inlines' -------------------------------------------

M2M_LABELS = {"diabetes_types": DiabetesType, "routes": Route}


class TrialHistoryHelper(HistoricalRecordContextHelper):
    """Shows choice fields by their labels rather than their codes."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if field.choices and value not in (None, ""):
            return dict(field.flatchoices).get(value, value)
        return super().prepare_delta_change_value(change, value)


def m2m_codes_by_record(history_ids):
    """{field name: {history_id: [codes]}} of the trial's many-to-many fields in these versions. One query each."""
    result = {}
    for field in Trial.history.model._history_m2m_fields:
        through = Trial.history.model.__dict__[field.name].model
        target = next(
            f.attname for f in through._meta.fields if f.name not in {"id", "trial", "history"} and f.is_relation
        )
        rows = defaultdict(list)
        for history_id, code in through.objects.filter(history_id__in=history_ids).values_list("history_id", target):
            rows[history_id].append(code)
        result[field.name] = rows
    return result


def m2m_values_by_record(records):
    """{field name: {history_id: sorted labels}} for the trial's many-to-many fields. One query each (+1)."""
    result = {}
    country_names = None
    for name, rows in m2m_codes_by_record([record.history_id for record in records]).items():
        field = Trial._meta.get_field(name)
        if field.name in M2M_LABELS:
            vocabulary = M2M_LABELS[field.name]
            labels = {code: vocabulary(code).label for code in vocabulary.values}
        else:
            if country_names is None:
                codes = {code for values in rows.values() for code in values}
                country_names = dict(Country.objects.filter(code__in=codes).values_list("code", "name"))
            labels = country_names
        result[field.name] = {hid: sorted(labels.get(code, code) for code in codes) for hid, codes in rows.items()}
    return result


INLINE_HISTORIES = [
    (RegistryIdentifier, lambda r, mechanisms: r.value),
    (TrialMechanism, lambda r, mechanisms: mechanisms.get(r.mechanism_id, "?")),
    (Publication, lambda r, mechanisms: r.citation[:80]),
    (Source, lambda r, mechanisms: r.url),
]
INLINE_HISTORY_LIMIT = 100  # newest entries per inline model shown on the trial's history page


def inline_history(trial_id):
    """The history entries of a trial's identifiers, mechanism links, publications and sources, newest first.

    Each entry: date, user, kind, the row's label, its changed fields (old → new) and the link to revert it.
    Five queries whatever the number of entries (one per model, one for the mechanisms' names).
    """
    mechanisms = dict(Mechanism.objects.values_list("pk", "name"))
    entries = []
    for model, label in INLINE_HISTORIES:
        records = list(
            model.history.filter(trial_id=trial_id)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:INLINE_HISTORY_LIMIT]
        )
        older = {}  # row id → the record just before, walking from the oldest
        for record in reversed(records):
            previous = older.get(record.id)
            changes = []
            if previous is not None and record.history_type == "~":
                delta = record.diff_against(previous, foreign_keys_are_objs=False)
                for change in delta.changes:
                    if change.field == "mechanism":
                        old, new = mechanisms.get(change.old, change.old), mechanisms.get(change.new, change.new)
                    else:
                        old, new = change.old, change.new
                    changes.append(
                        {"field": capfirst(model._meta.get_field(change.field).verbose_name), "old": old, "new": new}
                    )
            older[record.id] = record
            entries.append(
                {
                    "date": record.history_date,
                    "user": record.history_user,
                    "kind": record.get_history_type_display(),
                    "model": capfirst(model._meta.verbose_name),
                    "label": label(record, mechanisms),
                    "changes": changes,
                    "reason": record.history_change_reason,
                    "url": reverse(
                        f"admin:trials_{model._meta.model_name}_simple_history", args=[record.id, record.history_id]
                    ),
                }
            )
    entries.sort(key=lambda entry: entry["date"], reverse=True)
    return entries


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
class TrialAdmin(SimpleHistoryAdmin):
    form = TrialAdminForm
    inlines = [RegistryIdentifierInline, TrialMechanismInline, PublicationInline, SourceInline]
    object_history_template = "admin/trials/trial/object_history.html"
    object_history_list_template = "admin/trials/object_history_list.html"
    history_list_per_page = 50

    list_display = [
        "primary_identifier_display",
        "title_column",
        "phase",
        "status_column",
        "curation_state",
        "last_reviewed_on",
        "status_confirmed_on",
        "stale_column",
    ]
    list_display_links = ["primary_identifier_display", "title_column"]
    list_filter = [
        "curation_state",
        "overall_status",
        "phase",
        MechanismFilter,
        DiabetesTypeFilter,
        "cell_source",
        StalenessFilter,
    ]
    search_fields = ["brief_title", "official_title", "acronym", "identifiers__value", "sponsor", "product_name"]
    list_select_related = []  # every column is on the trial or annotated: no per-row query
    list_per_page = 50
    ordering = ["brief_title"]
    autocomplete_fields = ["countries"]
    prepopulated_fields = {"slug": ("brief_title",)}
    readonly_fields = ["created_at", "updated_at"]
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
                    ("overall_status", "status_confirmed_on"),
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
        ("Evidence", {"fields": ["key_results"]}),
        (
            "Curation",
            {
                "fields": ["curation_state", "last_reviewed_on", "curator_notes", ("created_at", "updated_at")],
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_primary_identifier()

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
        attrs = {"user": request.user}
        if version := self.reverting_to(request):
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

    # Columns -------------------------------------------------------------------------------------

    @admin.display(description="primary identifier", ordering="primary_identifier")
    def primary_identifier_display(self, trial):
        return trial.primary_identifier or f"({trial.slug})"

    @admin.display(description="brief title", ordering="brief_title")
    def title_column(self, trial):
        return Truncator(trial.brief_title).chars(70)

    @admin.display(description="status as readers see it", ordering="overall_status")
    def status_column(self, trial):
        return trial.status_display().label

    @admin.display(description="needs attention")
    def stale_column(self, trial):
        display = StatusDisplay.for_trial(trial)
        flags = []
        if display.record_stale:
            flags.append("Review overdue")
        if display.status_stale:
            flags.append("Status unconfirmed")
        return "; ".join(flags) or "—"

    # Workflow ------------------------------------------------------------------------------------

    def has_publish_permission(self, request):
        return request.user.has_perm(actions.PUBLISH_PERMISSION)

    def save_model(self, request, obj, form, change):
        # The curation state changes only through the workflow (save_related), after the inlines are
        # saved, so that publishing sees the mechanism links and sources just entered.
        if change:
            obj._requested_state = obj.curation_state
            obj.curation_state = (
                Trial.objects.filter(pk=obj.pk).values_list("curation_state", flat=True).first() or obj.curation_state
            )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        trial = form.instance
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

    def _run_transition(self, request, queryset, move, done):
        moved, refused = 0, []
        for trial in queryset:
            try:
                move(trial=trial, user=request.user)
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
        self._run_transition(request, queryset, actions.unpublish, "unpublished")

    @admin.action(description="Mark selected trials reviewed today", permissions=["change"])
    def mark_reviewed_today(self, request, queryset):
        try:
            changed = actions.mark_reviewed(trials=list(queryset), user=request.user)
        except PermissionDenied:
            self.message_user(request, "You may not change trials.", messages.ERROR)
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

    def history_view(self, request, object_id, extra_context=None):
        extra_context = {**(extra_context or {})}
        if str(object_id).isdigit():
            extra_context["inline_history"] = inline_history(int(object_id))
        return super().history_view(request, object_id, extra_context=extra_context)


# --- The inline models' own pages: history and revert of an identifier, link, publication or source ---


class TrialPartAdmin(SimpleHistoryAdmin):
    object_history_list_template = "admin/trials/object_history_list.html"
    autocomplete_fields = ["trial"]
    list_select_related = ["trial"]
    search_fields = ["trial__brief_title"]

    def has_module_permission(self, request):
        # Reached from a trial's history page; entered on the trial's own page.
        return False


@admin.register(RegistryIdentifier)
class RegistryIdentifierAdmin(TrialPartAdmin):
    form = RegistryIdentifierForm
    list_display = ["value", "registry", "is_primary", "trial"]
    list_filter = ["registry", "is_primary"]
    search_fields = ["value", "trial__brief_title"]
    fields = ["trial", "registry", "value", "is_primary"]


@admin.register(TrialMechanism)
class TrialMechanismAdmin(TrialPartAdmin):
    list_display = ["trial", "mechanism", "role"]
    list_filter = ["mechanism", "role"]
    list_select_related = ["trial", "mechanism"]
    search_fields = ["trial__brief_title", "rationale"]


@admin.register(Publication)
class PublicationAdmin(TrialPartAdmin):
    list_display = ["citation", "year", "doi", "trial"]
    list_filter = ["year"]
    search_fields = ["citation", "doi", "pmid", "trial__brief_title"]


@admin.register(Source)
class SourceAdmin(TrialPartAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["url", "source_date", "trial"]
    list_filter = ["source_date"]
    search_fields = ["url", "used_for", "trial__brief_title"]


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    """Countries are a fixed list (ISO 3166-1), searched by the trial form's autocomplete."""

    list_display = ["name", "code"]
    list_filter = []
    search_fields = ["name", "code"]
    list_select_related = []

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- ClinicalTrials.gov import ---------------------------------------------------------------------
# The import page (uploaded API v2 JSON, or NCT numbers fetched when the server can reach the API),
# the registry updates an import or the daily check found, and a review page to accept them field
# by field or dismiss them. Writes go through trials.actions ("ClinicalTrials.gov import").

CTGOV_MAX_FETCH = 5  # NCT numbers fetched per page request: within the rate limit's burst, a few seconds
CTGOV_MAX_UPLOAD_BYTES = 5_000_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "application/json,.json"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class CtgovImportForm(forms.Form):
    files = MultipleFileField(
        label="Study JSON files",
        required=False,
        help_text='ClinicalTrials.gov API v2 JSON: one study per file, or a page {"studies": [...]}. '
        "On a study's page at clinicaltrials.gov, or from https://clinicaltrials.gov/api/v2/studies/NCT…",
    )
    nct_ids = forms.CharField(
        label="NCT numbers to fetch",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=f"Up to {CTGOV_MAX_FETCH}, separated by spaces, commas or new lines, e.g. NCT04786262. "
        "Needs the server to reach clinicaltrials.gov; if it cannot, upload the JSON files instead.",
    )

    def clean_files(self):
        for upload in self.cleaned_data["files"]:
            if upload.size > CTGOV_MAX_UPLOAD_BYTES:
                raise ValidationError(f"{upload.name} is larger than {CTGOV_MAX_UPLOAD_BYTES // 1_000_000} MB.")
        return self.cleaned_data["files"]

    def clean_nct_ids(self):
        values = [v for v in self.cleaned_data["nct_ids"].replace(",", " ").split() if v]
        problems, nct_ids = [], []
        for value in values:
            try:
                nct_ids.append(ctgov.normalize_nct_id(value))
            except ctgov.CtgovError as error:
                problems.append(str(error))
        if problems:
            raise ValidationError(problems)
        if len(set(nct_ids)) > CTGOV_MAX_FETCH:
            raise ValidationError(f"At most {CTGOV_MAX_FETCH} NCT numbers at a time; got {len(set(nct_ids))}.")
        return list(dict.fromkeys(nct_ids))

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("files") and not data.get("nct_ids"):
            raise ValidationError("Choose study JSON files, or give NCT numbers to fetch.")
        return data


@admin.register(RegistryUpdate)
class RegistryUpdateAdmin(admin.ModelAdmin):
    list_display = ["identifier", "trial", "fields_column", "status", "created_at", "resolved_by"]
    list_display_links = ["identifier"]
    list_filter = ["status", "created_at"]
    search_fields = ["identifier", "trial__brief_title", "trial__slug"]
    list_select_related = ["trial", "resolved_by"]
    readonly_fields = ["trial", "identifier", "changes", "source", "registry_last_updated", "status"]
    change_list_template = "admin/trials/ctgov_registryupdate_change_list.html"

    # Curators who may see trials see their updates; those who may change trials resolve them.
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("trials.view_trial") or request.user.has_perm("trials.change_trial")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("trials.change_trial")

    def has_add_permission(self, request):
        return False

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description="fields that differ")
    def fields_column(self, update):
        return ", ".join(update.field_labels)

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="trials_registryupdate_import"), *super().get_urls()]

    def import_view(self, request):
        """Import from ClinicalTrials.gov: staff with the right to add trials."""
        if not request.user.has_perm("trials.add_trial"):
            raise PermissionDenied
        form = CtgovImportForm(request.POST or None, request.FILES or None)
        summary = None
        if request.method == "POST" and form.is_valid():
            items = []
            for upload in form.cleaned_data["files"]:
                try:
                    items += ctgov.read_studies(upload.read(), upload.name)
                except ctgov.CtgovError as error:
                    items.append((upload.name, error))
            if form.cleaned_data["nct_ids"]:
                client = ctgov.CtgovClient.for_web_request()
                items += actions.fetch_ctgov_studies(form.cleaned_data["nct_ids"], client=client)
            summary = actions.import_ctgov_studies(items, source=f"admin import by {request.user.get_username()}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import from ClinicalTrials.gov",
            "form": form,
            "summary": summary,
            "max_fetch": CTGOV_MAX_FETCH,
        }
        return TemplateResponse(request, "admin/trials/ctgov_import.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review page: the trial's value and the registry's, field by field; accept or dismiss."""
        update = get_object_or_404(RegistryUpdate.objects.select_related("trial", "resolved_by"), pk=object_id)
        if not self.has_view_permission(request, update):
            raise PermissionDenied
        can_resolve = update.status == RegistryUpdateStatus.PENDING and self.has_change_permission(request, update)
        if request.method == "POST":
            if not can_resolve:
                raise PermissionDenied
            accept = request.POST.getlist("accept") if "_accept" in request.POST else []
            if "_accept" in request.POST and not accept:
                self.message_user(request, "Tick the fields to accept, or dismiss the update.", messages.WARNING)
                return redirect(request.path)
            try:
                actions.resolve_registry_update(update=update, accept=accept, user=request.user)
            except actions.RecordError as error:
                self.message_user(request, f"Nothing changed: {error}", messages.ERROR)
                return redirect(request.path)
            if accept:
                names = ", ".join(ctgov.field_label(name) for name in update.field_names if name in accept)
                self.message_user(request, f"Accepted from {update.identifier}: {names}.", messages.SUCCESS)
            else:
                self.message_user(request, f"Update from {update.identifier} dismissed.", messages.SUCCESS)
            return redirect("admin:trials_trial_change", update.trial_id)
        current = ctgov.current_values(update.trial)
        rows = []
        for name in update.field_names:
            change = update.changes[name]
            rows.append(
                {
                    "name": name,
                    "label": capfirst(ctgov.field_label(name)),
                    "found": ctgov.display_value(name, change["old"]),
                    "now": ctgov.display_value(name, current[name]),
                    "registry": ctgov.display_value(name, change["new"]),
                    "accepted": name in update.accepted_fields,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Update from ClinicalTrials.gov for “{update.trial}”",
            "update": update,
            "rows": rows,
            "can_resolve": can_resolve,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/trials/ctgov_registryupdate_review.html", context)


# The trial's page shows its pending update, and the trial list links to the import page, through
# templates of their own (extending the admin's defaults) unless the trial admin sets its own.
if TrialAdmin.change_form_template is None:
    TrialAdmin.change_form_template = "admin/trials/ctgov_trial_change_form.html"
if TrialAdmin.change_list_template is None:
    TrialAdmin.change_list_template = "admin/trials/ctgov_trial_change_list.html"
