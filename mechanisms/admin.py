"""The document's mechanisms and pathway steps: curators may edit the wording, not add or remove entries. A curator's
change waits for an editor's approval (mechanisms/actions.py); editors approve it or send it back with a reason on the
change's own page."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import actions
from .models import Mechanism, PathwayStep, WordingChange, WordingChangeStatus

WORDING_FIELDSETS = [
    (None, {"fields": ["name", "slug", "position", "summary"]}),
    ("Explanation for readers", {"fields": ["idea", "for_patients", "caveats", "unproven", "source_quote"]}),
]


class ExplainedConceptAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "summary"]
    list_display_links = ["name"]
    list_filter = []
    list_select_related = []
    search_fields = ["name", "summary", "idea"]
    readonly_fields = ["slug", "waiting_display"]  # the slug is part of the public addresses

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="waiting for approval")
    def waiting_display(self, concept):
        change = actions.waiting_change(concept) if concept and concept.pk else None
        if change is None:
            return "Nothing: readers see the wording below."
        url = reverse("admin:mechanisms_wordingchange_change", args=[change.pk])
        return format_html(
            'A change by {} ({}) waits for an editor: readers see the wording below until then. <a href="{}">See '
            "it</a>.",
            change.proposed_by or "a curator",
            ", ".join(change.changes),
            url,
        )

    def save_model(self, request, obj, form, change):
        if not change or request.user.has_perm(actions.APPROVE_PERMISSION) or not form.changed_data:
            return super().save_model(request, obj, form, change)
        saved = type(obj).objects.get(pk=obj.pk)
        changes = {name: {"old": getattr(saved, name), "new": getattr(obj, name)} for name in form.changed_data}
        try:
            actions.propose_wording(concept=saved, changes=changes, user=request.user)
        except actions.WordingError as error:
            request._wording_outcome = (messages.ERROR, str(error))
        else:
            request._wording_outcome = (
                messages.WARNING,
                f"Your change ({', '.join(changes)}) waits for an editor's approval: readers still see the approved "
                "wording.",
            )

    def log_change(self, request, obj, message):
        if getattr(request, "_wording_outcome", None):
            return None  # nothing changed
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if outcome := getattr(request, "_wording_outcome", None):
            self.message_user(request, outcome[1], outcome[0])
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(Mechanism)
class MechanismAdmin(ExplainedConceptAdmin):
    fieldsets = [
        (None, {"fields": ["waiting_display", "name", "slug", "document_term", "position", "summary"]}),
        WORDING_FIELDSETS[1],
    ]


@admin.register(PathwayStep)
class PathwayStepAdmin(ExplainedConceptAdmin):
    fieldsets = [
        (None, {"fields": ["waiting_display", *WORDING_FIELDSETS[0][1]["fields"]]}),
        ("Explanation for readers", {"fields": [*WORDING_FIELDSETS[1][1]["fields"], "what_varies"]}),
    ]


@admin.register(WordingChange)
class WordingChangeAdmin(admin.ModelAdmin):
    """A change of wording, old → new, field by field; editors approve it or send it back (with a reason)."""

    list_display = ["__str__", "status", "proposed_by", "created_at", "resolved_by"]
    list_filter = ["status"]
    list_select_related = ["mechanism", "pathway_step", "proposed_by", "resolved_by"]
    search_fields = ["mechanism__name", "pathway_step__name"]
    fields = ["concept_display", "status", "proposed_by", "created_at", "differences", "reason", "resolved_by"]
    readonly_fields = ["concept_display", "status", "proposed_by", "created_at", "differences", "resolved_by"]
    change_form_template = "admin/mechanisms/wordingchange/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        pending = obj is None or obj.status == WordingChangeStatus.PENDING
        return pending and request.user.has_perm(actions.APPROVE_PERMISSION)

    @admin.display(description="of")
    def concept_display(self, change):
        return change.concept

    @admin.display(description="the change (old → new)")
    def differences(self, change):
        return format_html(
            "<table><thead><tr><th>Field</th><th>Now (readers see)</th><th>After the change</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
                ((name, value["old"], value["new"]) for name, value in change.changes.items()),
            ),
        )

    def save_model(self, request, obj, form, change):
        try:
            if "_approve" in request.POST:
                actions.approve_wording(change=obj, user=request.user)
                request._wording_outcome = (messages.SUCCESS, "Approved: readers see the new wording.")
            else:
                actions.send_back_wording(change=obj, user=request.user, reason=obj.reason)
                request._wording_outcome = (messages.SUCCESS, "Sent back, with your reason.")
        except actions.WordingError as error:
            request._wording_outcome = (messages.ERROR, str(error))

    def response_change(self, request, obj):
        outcome = getattr(request, "_wording_outcome", None)
        if outcome:
            self.message_user(request, outcome[1], outcome[0])
        return HttpResponseRedirect(request.path)
