"""ClinicalTrials.gov in the admin: the import page and the registry updates, reviewed field by field.
Writes go through trials.actions.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.text import capfirst
from django.views.decorators.csrf import csrf_exempt

from trials import actions, canonical
from trials.actions import edit_versions
from trials.admin.forms import CtgovImportForm
from trials.admin.uploads import LimitedUpload
from trials.ctgov import limits
from trials.ctgov.client import CtgovClient
from trials.ctgov.compare import current_values, display_value, field_label
from trials.models import RegistryUpdate, RegistryUpdateOrigin, RegistryUpdateStatus, Trial

# The import page (uploaded API v2 JSON, or NCT numbers fetched when the server can reach the API),
# the registry updates an import or the daily check found, and a review page to accept them field
# by field or dismiss them. Writes go through trials.actions ("ClinicalTrials.gov import").


@admin.register(RegistryUpdate)
class RegistryUpdateAdmin(admin.ModelAdmin):
    list_display = ["origin_column", "trial", "fields_column", "status", "created_at", "resolved_by"]
    list_display_links = ["origin_column"]
    list_filter = ["status", "origin", "created_at"]
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

    @admin.display(description="from", ordering="identifier")
    def origin_column(self, update):
        return update.identifier or update.get_origin_display()

    @admin.display(description="fields that differ")
    def fields_column(self, update):
        return ", ".join(update.field_labels)

    def get_urls(self):
        protected = self.admin_site.admin_view(self.import_view)  # signed-in staff, CSRF checked

        @csrf_exempt  # for CsrfViewMiddleware only, which would read the upload before its limits are set
        def limited(request):
            request.upload_handlers.insert(0, LimitedUpload(request))
            return protected(request)

        return [path("import/", limited, name="trials_registryupdate_import"), *super().get_urls()]

    def import_view(self, request):
        """Import from ClinicalTrials.gov: staff with the right to add trials. Uploaded files are read one at
        a time; NCT numbers are fetched within one deadline for the page (limits.FETCH_DEADLINE)."""
        if not request.user.has_perm("trials.add_trial"):
            raise PermissionDenied
        limited = next((h for h in request.upload_handlers if isinstance(h, LimitedUpload)), None)
        posted = request.method == "POST"  # bound even when the upload was stopped before any field arrived
        form = CtgovImportForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            upload_problem=limited.problem if limited else "",
        )
        summary = None
        if posted and form.is_valid():
            user = request.user
            documents = ((upload.name, upload.read()) for upload in form.cleaned_data["files"])
            summary = actions.import_ctgov_documents(
                documents, source=f"upload {{name}} by {user.get_username()}", user=user
            )
            if form.cleaned_data["nct_ids"]:
                client = CtgovClient.for_web_request()
                fetched = actions.fetch_ctgov_studies(
                    form.cleaned_data["nct_ids"], client=client, deadline=limits.FETCH_DEADLINE
                )
                actions.import_ctgov_studies(
                    fetched,
                    source=f"ClinicalTrials.gov API, fetched by {user.get_username()}",
                    user=user,
                    summary=summary,
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import from ClinicalTrials.gov",
            "form": form,
            "summary": summary,
            "max_fetch": limits.MAX_FETCH,
        }
        return TemplateResponse(request, "admin/trials/ctgov_import.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review page: the trial's value and the registry's, field by field; accept or dismiss."""
        update = get_object_or_404(RegistryUpdate.objects.select_related("trial", "resolved_by"), pk=object_id)
        if not self.has_view_permission(request, update):
            raise PermissionDenied
        curators_change = update.origin == RegistryUpdateOrigin.CURATOR  # editors approve it or send it back
        can_resolve = update.status == RegistryUpdateStatus.PENDING and (
            request.user.has_perm(actions.PUBLISH_PERMISSION)
            if curators_change
            else self.has_change_permission(request, update)
        )
        # A curator accepting onto a published trial: the fields become their change, waiting for an editor.
        waits = (
            can_resolve and not curators_change and actions.needs_approval(trial_id=update.trial_id, user=request.user)
        )
        if update.origin != RegistryUpdateOrigin.CTGOV:  # any field of a record, as trials/canonical.py has it
            label, display = canonical.field_label, canonical.display

            def values(trial):
                trial = Trial.objects.prefetch_related(*actions.RECORD_PREFETCH).get(pk=trial.pk)
                return canonical.compared_values(canonical.record_of(trial))
        else:
            label, display, values = field_label, display_value, current_values
        if request.method == "POST":
            if not can_resolve:
                raise PermissionDenied
            accept = request.POST.getlist("accept") if "_accept" in request.POST else []
            if "_accept" in request.POST and not accept:
                self.message_user(request, "Tick the fields to accept, or dismiss the update.", messages.WARNING)
                return redirect(request.path)
            try:
                if curators_change and not accept:
                    actions.send_back(update=update, user=request.user, reason=request.POST.get("reason", ""))
                else:
                    actions.resolve_registry_update(
                        update=update,
                        accept=accept,
                        user=request.user,
                        seen_version=edit_versions.parse_version(request.POST.get("seen_version")),
                    )
            except actions.RecordError as error:
                self.message_user(request, f"Nothing changed: {error}", messages.ERROR)
                return redirect(request.path)
            origin = update.identifier or update.get_origin_display().lower()
            if accept and curators_change:
                names = ", ".join(label(name) for name in update.field_names if name in accept)
                self.message_user(request, f"Approved the {update.source}: {names}. Readers see it now.")
            elif curators_change:
                self.message_user(request, f"The {update.source} was sent back, with your reason.", messages.SUCCESS)
            elif accept and waits:
                names = ", ".join(label(name) for name in update.field_names if name in accept)
                self.message_user(
                    request,
                    f"Accepted from {origin}: {names}. The trial is published: these fields wait for an editor's "
                    "approval as your change; readers still see the published version.",
                    messages.WARNING,
                )
            elif accept:
                names = ", ".join(label(name) for name in update.field_names if name in accept)
                self.message_user(request, f"Accepted from {origin}: {names}.", messages.SUCCESS)
            else:
                self.message_user(request, f"Update from {origin} dismissed.", messages.SUCCESS)
            return redirect("admin:trials_trial_change", update.trial_id)
        current = values(update.trial)
        rows = []
        for name in update.field_names:
            change = update.changes[name]
            rows.append(
                {
                    "name": name,
                    "label": capfirst(label(name)),
                    "found": display(name, change["old"]),
                    "now": display(name, current.get(name)),
                    "registry": display(name, change["new"]),
                    "accepted": name in update.accepted_fields,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Change by {update.proposed_by} of “{update.trial}”, for an editor's approval"
            if curators_change
            else f"Update from {update.get_origin_display()} for “{update.trial}”",
            "update": update,
            "rows": rows,
            "can_resolve": can_resolve,
            "curators_change": curators_change,
            "waits": waits,
            # A change that is not the curator's own edit says where it comes from (an accepted registry update).
            "proposed_from": "" if update.source.startswith("change by ") else update.source,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/trials/ctgov_registryupdate_review.html", context)
