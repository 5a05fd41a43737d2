"""The trial's versions in the admin: one entry per save on its history page, any two compared, a whole version
restored in one step (trials/versions.py reads them; trials/actions/versions.py restores)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from trials import actions
from trials import versions as trial_versions
from trials.models import Trial


class VersionsAdminMixin:
    """For TrialAdmin: the versions on the history page, and their compare and restore pages."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/versions/compare/", view(self.compare_view), name="trials_trial_compare"),
            path(
                "<int:object_id>/versions/<int:number>/restore/",
                view(self.restore_view),
                name="trials_trial_restore",
            ),
            *super().get_urls(),
        ]

    def _trial(self, request, object_id):
        trial = get_object_or_404(Trial, pk=object_id)
        if not self.has_view_or_change_permission(request, trial):
            raise PermissionDenied
        return trial

    def _context(self, request, trial, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": trial,
            "title": extra.pop("title"),
            **extra,
        }

    def history_view(self, request, object_id, extra_context=None):
        extra_context = {**(extra_context or {})}
        if str(object_id).isdigit():
            found = trial_versions.versions(int(object_id))
            extra_context["versions"] = list(reversed(found))
            extra_context["trial_pk"] = int(object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def compare_view(self, request, object_id):
        trial = self._trial(request, object_id)
        try:
            first, second = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
            a, b, changes = trial_versions.compare(trial.pk, min(first, second), max(first, second))
        except (ValueError, IndexError):
            raise Http404("Choose two versions of this trial to compare.") from None
        context = self._context(
            request, trial, title=f"Version {a.number} and version {b.number} of “{trial}”", a=a, b=b, changes=changes
        )
        return TemplateResponse(request, "admin/trials/trial/versions_compare.html", context)

    def restore_view(self, request, object_id, number):
        trial = self._trial(request, object_id)
        found = trial_versions.versions(trial.pk)
        if not 1 <= number <= len(found):
            raise Http404("This trial has no such version.")
        problem = actions.restore_problem(trial=trial, user=request.user)
        if request.method == "POST":
            if problem:
                raise PermissionDenied(problem)
            try:
                actions.restore_version(trial=trial, number=number, user=request.user)
            except actions.RestoreError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, f"Version {number} restored: the trial and its rows are as they were then.")
                return HttpResponseRedirect(reverse("admin:trials_trial_history", args=[trial.pk]))
        current = found[-1]
        changes = trial_versions.differences(current.state, found[number - 1].state, trial_versions.Labels(found))
        context = self._context(
            request,
            trial,
            title=f"Restore version {number} of “{trial}”",
            version=found[number - 1],
            current=current,
            changes=changes,
            problem=problem,
        )
        return TemplateResponse(request, "admin/trials/trial/versions_restore.html", context)
