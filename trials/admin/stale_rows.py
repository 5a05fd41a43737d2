"""The trial's page posted from a stale page (someone else saved the trial since it was shown): its inline rows take
over what was saved since, as the trial's own fields do (TrialAdminForm._refuse_stale_form), so that saving the page
shown again cannot undo another curator's change of a row (issue 14, "No lost update").
"""

from trials.actions import edit_versions


class StaleRowsMixin:
    """For TrialAdmin, whose get_form puts a list `row_notes` on the form class and on the request (`_row_notes`):
    the rows so changed, for the form's conflict message."""

    def get_formset_kwargs(self, request, obj, inline, prefix):
        """On a POST from a page opened before someone else saved the trial, its rows' fields the curator left as
        they were take the values saved since, as the trial's own fields do (TrialAdminForm._refuse_stale_form): the
        page shown again holds them, so saving it again cannot undo the other's change of a row."""
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if request.method != "POST" or obj is None or obj.pk is None:
            return kwargs
        if not hasattr(request, "_seen_state"):  # read once for all the inlines
            seen = edit_versions.parse_version(request.POST.get("seen_version"))
            request._seen_state = edit_versions.seen_state(obj.pk, seen)
        if request._seen_state is None:
            return kwargs
        kwargs["data"], notes = edit_versions.take_over_rows(
            trial_id=obj.pk,
            state=request._seen_state,
            model=inline.model,
            fields=inline.get_formset(request, obj).form.base_fields,
            data=kwargs["data"],
            files=kwargs["files"],
            prefix=prefix,
        )
        getattr(request, "_row_notes", []).extend(notes)
        return kwargs
