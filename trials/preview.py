"""The preview of a trial's public page for staff: a draft, or a published trial with its pending change applied, as
readers would see it. Nothing is kept (trials/actions/pending_changes.py `previewed`); never cached."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mechanisms.models import PathwayStep
from trials import actions
from trials.models import RegistryUpdate, RegistryUpdateOrigin, Trial
from trials.page_cache import not_cached
from trials.trial_page import published_trials, trial_page


@not_cached
@never_cache
@require_GET
@staff_member_required
def trial_preview(request, pk):
    """`?change=<id>`: with that pending change of the trial applied."""
    if not request.user.has_perm("trials.view_trial"):
        raise PermissionDenied
    get_object_or_404(Trial, pk=pk)
    change = None
    if (change_id := request.GET.get("change", "")).isdigit():
        change = get_object_or_404(RegistryUpdate, pk=int(change_id), trial_id=pk, origin=RegistryUpdateOrigin.CURATOR)

    def page():
        trial = published_trials().get(pk=pk)
        content = trial_page(trial)
        context = {"trial": trial, "page": content, "status": content.status, "change": change}
        context["steps"] = {step.slug: step for step in PathwayStep.objects.all()}
        return render(request, "trials/trial_preview.html", context)

    return actions.previewed(trial_id=pk, change=change, render=page)
