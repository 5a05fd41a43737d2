"""The trial page's inlines for what it links to beyond identifiers and mechanisms: publications, sources (typed and
dated), published outcomes, sites and related trials. Each says in its help texts what belongs there.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from trials import integrity
from trials.admin.forms import RowForm, RowFormSet
from trials.models import Outcome, Publication, Site, Source, TrialRelation
from trials.vocabularies import CurationState

# URLs typed without a scheme are taken as https:// (Django 6's default).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


def edited_trial_id(request):
    """The id of the trial whose page this is, or None on the add page."""
    match = request.resolver_match
    value = match.kwargs.get("object_id") if match else None
    if value is None and match and match.args:
        value = match.args[0]
    return int(value) if value and str(value).isdigit() else None


class PublicationInline(admin.StackedInline):
    model = Publication
    form = RowForm
    formset = RowFormSet
    extra = 0
    fields = ["citation", ("doi", "pmid"), ("journal", "year"), "kind"]


class SourceFormSet(RowFormSet):
    """A trial already published keeps a source it can rest on: a registry record (or a copy), a publication or its
    sponsor (the blocking integrity rule `no_evidence_source`, checked with the sources as this save leaves them)."""

    def clean(self):
        super().clean()
        trial = self.instance
        if not trial.pk or any(self.errors):
            return
        # A trial being published is checked by the workflow once saved (its message says what is missing); one
        # already published must stay publishable.
        saved = type(trial).objects.filter(pk=trial.pk).values_list("curation_state", flat=True).first()
        if saved != CurationState.PUBLISHED or trial.curation_state != CurationState.PUBLISHED:
            return
        kinds = {
            form.cleaned_data.get("kind")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("url")
        }
        if kinds & integrity.EVIDENCE_KINDS or (trial.pk and trial.publications.exists()):
            return
        raise ValidationError(
            "A published trial needs at least one registry record (or a copy of one), publication or sponsor "
            "source: news and other sources cannot be its only support. Add one, or unpublish the trial first."
        )


class SourceInline(admin.StackedInline):
    model = Source
    form = RowForm
    formset = SourceFormSet
    formfield_overrides = HTTPS_URLS
    extra = 1
    fields = ["url", ("title", "publisher"), ("kind", "source_date", "date_precision"), "date_notes", "used_for"]


class OutcomeInline(admin.StackedInline):
    model = Outcome
    form = RowForm
    formset = RowFormSet
    extra = 0
    fields = [("measure", "n", "timepoint"), "result", ("publication", "source")]
    verbose_name_plural = "published outcomes (one row per measure and timepoint)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in {"publication", "source"}:
            model = Publication if db_field.name == "publication" else Source
            kwargs["queryset"] = model.objects.filter(trial_id=edited_trial_id(request))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in {"publication", "source"}:
            field.widget.can_add_related = field.widget.can_change_related = False
            field.widget.can_delete_related = field.widget.can_view_related = False
        return field


class SiteInline(admin.TabularInline):
    model = Site
    form = RowForm
    formset = RowFormSet
    extra = 0
    fields = ["facility", "city", "country"]
    autocomplete_fields = ["country"]
    verbose_name_plural = "sites (from the registry record or a copy of it; never a person or their contacts)"


class TrialRelationInline(admin.TabularInline):
    model = TrialRelation
    form = RowForm
    formset = RowFormSet
    fk_name = "trial"
    extra = 0
    fields = ["relation", "related"]
    autocomplete_fields = ["related"]
    verbose_name_plural = "related trials (what each is to this one)"
