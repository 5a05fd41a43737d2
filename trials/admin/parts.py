"""The inline models' own pages (history and revert of an identifier, link, publication, source, site, outcome
or related trial), and countries.
"""

from django.contrib import admin
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from trials.actions import edit_versions
from trials.admin.forms import RegistryIdentifierForm
from trials.admin.inlines import HTTPS_URLS
from trials.models import (
    Country,
    Outcome,
    Publication,
    RegistryIdentifier,
    Site,
    Source,
    TrialMechanism,
    TrialRelation,
)


class TrialPartAdmin(SimpleHistoryAdmin):
    object_history_list_template = "admin/trials/object_history_list.html"
    autocomplete_fields = ["trial"]
    list_select_related = ["trial"]
    search_fields = ["trial__brief_title"]

    def has_module_permission(self, request):
        # Reached from a trial's history page; entered on the trial's own page.
        return False

    # A row saved or deleted on its own page (a revert) is a save of its trial: its version goes up.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        reason = f"{capfirst(obj._meta.verbose_name)} {'changed' if change else 'added'} on its own page"
        edit_versions.bump_saved(obj.trial_id, user=request.user, reason=reason)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        reason = f"{capfirst(obj._meta.verbose_name)} deleted on its own page"
        edit_versions.bump_saved(obj.trial_id, user=request.user, reason=reason)


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


@admin.register(Site)
class SiteAdmin(TrialPartAdmin):
    list_display = ["facility", "city", "country", "trial"]
    list_select_related = ["trial", "country"]
    search_fields = ["facility", "city", "trial__brief_title"]


@admin.register(Outcome)
class OutcomeAdmin(TrialPartAdmin):
    list_display = ["trial", "measure", "result", "n", "timepoint"]
    list_filter = ["measure"]
    search_fields = ["result", "trial__brief_title"]


@admin.register(TrialRelation)
class TrialRelationAdmin(TrialPartAdmin):
    autocomplete_fields = ["trial", "related"]
    list_display = ["trial", "relation", "related"]
    list_filter = ["relation"]
    list_select_related = ["trial", "related"]


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
