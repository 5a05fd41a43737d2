"""A bulk move of the trial list that takes trials back to draft asks why first, as the admin's delete confirmation
does: a page listing the selected trials with a required reason, posted back to the list with the versions the list
showed (a trial saved by someone else meanwhile is still refused). The move itself is trials/actions/workflow.py's.
"""

from django import forms
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from trials import actions


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Added to each trial's review conversation and to its history; never public.",
        error_messages={"required": actions.UNPUBLISH_REASON_MISSING},
    )


class ReasonConfirmationMixin:
    """For TrialAdmin: `asked_reason` in an action that needs a reason."""

    def asked_reason(self, request, queryset, *, title, button):
        """(the reason confirmed on the page, None), or ("", the confirmation page to show): the first time, or again
        with the error when the reason posted is blank."""
        form = ReasonForm(request.POST if "confirmed" in request.POST else None)
        if form.is_valid():
            return form.cleaned_data["reason"], None
        seen = self.seen_versions(request)
        trials = list(queryset)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "button": button,
            "trials": trials,
            "seen": [(trial.pk, seen[trial.pk]) for trial in trials if seen.get(trial.pk) is not None],
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return "", TemplateResponse(request, "admin/trials/trial/action_reason.html", context)
