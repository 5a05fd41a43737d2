"""The document's mechanisms and pathway steps: curators may edit the wording, not add or remove entries."""

from django.contrib import admin

from .models import Mechanism, PathwayStep

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
    readonly_fields = ["slug"]  # part of the public addresses

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Mechanism)
class MechanismAdmin(ExplainedConceptAdmin):
    fieldsets = [
        (None, {"fields": ["name", "slug", "document_term", "position", "summary"]}),
        WORDING_FIELDSETS[1],
    ]


@admin.register(PathwayStep)
class PathwayStepAdmin(ExplainedConceptAdmin):
    fieldsets = [
        *WORDING_FIELDSETS[:1],
        ("Explanation for readers", {"fields": [*WORDING_FIELDSETS[1][1]["fields"], "what_varies"]}),
    ]
