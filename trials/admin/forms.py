"""The admin's forms: registry identifiers (format and duplicates), mechanism links, the trial's form with its
workflow and date checks, and the ClinicalTrials.gov import form.
"""

from types import SimpleNamespace

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from trials import actions, integrity
from trials.actions import edit_versions
from trials.ctgov import CtgovError, limits, validation
from trials.ctgov.reading import normalize_nct_id
from trials.models import RegistryIdentifier, Trial
from trials.vocabularies import PRECISE_DATES, CurationState, normalize_identifier

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


class RowForm(forms.ModelForm):
    """An inline row's form whose hidden fields' errors (its id, its trial) show next to the row: a row deleted by
    someone else after this page was opened fails there, and Django would show only "Please correct the error below"
    with no error anywhere."""

    STALE_ROW = (
        "This row was deleted or moved by someone else after you opened this page: copy what you typed here, then "
        "reload the page."
    )

    def full_clean(self):
        super().full_clean()
        hidden = [
            name for name in list(self._errors or {}) if name in self.fields and self.fields[name].widget.is_hidden
        ]
        if hidden:
            for name in hidden:
                del self._errors[name]
            self._errors.setdefault(NON_FIELD_ERRORS, self.error_class(error_class="nonfield")).append(self.STALE_ROW)


class RowFormSet(forms.BaseInlineFormSet):
    """An inline formset that names a row deleted by someone else after the page was opened, with what the curator
    typed in it: Django's admin no longer shows that row (its list of rows comes from the database), so the row's
    own error would be invisible."""

    def clean(self):
        super().clean()
        stale = [form for form in self.initial_forms if RowForm.STALE_ROW in form.non_field_errors()]
        if stale:
            raise ValidationError([self.stale_message(form) for form in stale])

    @staticmethod
    def label_of(field, value):
        """A choice's label rather than its code ("Beta-cell regeneration", not "1")."""
        for code, label in getattr(field, "choices", ()):
            if str(code) == value:
                return label
        return value

    def stale_message(self, form):
        noun = self.model._meta.verbose_name
        typed = [
            f"{form.fields[name].label or name} “{self.label_of(form.fields[name], value)}”"
            for name in form.fields
            if not form.fields[name].widget.is_hidden
            and name != "DELETE"
            and (value := form.data.get(form.add_prefix(name), "").strip())
        ]
        kept = f" What you typed in it: {'; '.join(typed)}." if typed else ""
        return (
            f"A {noun} on this page was deleted by someone else after you opened it, so your changes to it were not "
            f"saved.{kept} Copy what you need, then reload the page."
        )


class RegistryIdentifierForm(RowForm):
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


class RegistryIdentifierFormSet(RowFormSet):
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


class MechanismChoicesFormSet(RowFormSet):
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


# --- The trial's form -----------------------------------------------------------------------------


class TrialAdminForm(forms.ModelForm):
    user = None  # set by TrialAdmin.get_form: the curator posting the form
    version_m2m = None  # on a revert page: {field: codes} of the version shown
    live_version = None  # on a revert page: the trial's edit version now (the instance shown is an old one)
    row_notes = ()  # on a stale page: edit_versions.RowNote of each row whose fields someone else changed

    # The trial's edit version when the page was shown: a save from an older one is refused (no lost update).
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # The review conversation (trials/models/comments.py): required when sending a trial back to draft.
    comment = forms.CharField(
        label="Comment for curators and editors",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Added to the conversation above when you save; never public. Required when you send a trial "
        "back to draft (from review, or off the public site): say why.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, codes in (self.version_m2m or {}).items():
            self.initial[name] = codes
        live = self.live_version
        self.initial["seen_version"] = live if live is not None else self.instance.edit_version
        self.current_version = None  # read (and locked) by clean()

    class Meta:
        model = Trial
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets choose the fields)
        labels = {
            **{f"{name}_precision": "precision" for name in PRECISE_DATES},
            **{f"{name}_type": "actual or estimated" for name in PRECISE_DATES},
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
            "programme_discontinued_on_precision": "Required when the date is given.",
            "curation_state": "Draft → In review → Published. Only editors publish or unpublish; publishing "
            "needs a mechanism link with a rationale, a source and a review date.",
        }

    def clean_curation_state(self):
        state = self.cleaned_data.get("curation_state")
        current = self.instance.curation_state if self.instance.pk else CurationState.DRAFT
        if self.instance.pk:
            current = Trial.objects.filter(pk=self.instance.pk).values_list("curation_state", flat=True).first()
        if problem := actions.transition_problem(current=current, to=state, user=self.user):
            raise ValidationError(problem)
        back = state == CurationState.DRAFT and current in {CurationState.REVIEW, CurationState.PUBLISHED}
        if back and not self.data.get(self.add_prefix("comment"), "").strip():
            self.add_error("comment", "Say why you send the trial back to draft: the curator reads it here.")
        return state

    def clean_enrollment(self):
        enrollment = self.cleaned_data.get("enrollment")
        if enrollment is not None and enrollment > limits.MAX_ENROLLMENT:
            raise ValidationError(
                "Enrollment is the number of participants, e.g. 12; %(value)s looks like a typing error.",
                params={"value": enrollment},
            )
        return enrollment

    def clean(self):
        cleaned = super().clean()
        self._refuse_stale_form(cleaned.get("seen_version"))
        for field, words in PRECISE_DATES.items():
            day, precision = cleaned.get(field), cleaned.get(f"{field}_precision")
            date_type = cleaned.get(f"{field}_type")
            if day and not precision:
                self.add_error(
                    f"{field}_precision",
                    f"Give the precision of the {words} date (day, month or year): the registry shows "
                    "“May 2024” for a month, not “1 May 2024”.",
                )
            if not day and (precision or date_type) and field not in self.errors:  # one message per mistake
                self.add_error(field, f"Give the {words} date, or clear its precision and type.")
        order = [(f, w) for f, w in PRECISE_DATES.items() if cleaned.get(f)]
        for (first, first_words), (second, second_words) in zip(order, order[1:], strict=False):
            if cleaned[first] > cleaned[second]:
                self.add_error(
                    second,
                    f"The {second_words} date ({cleaned[second]:%-d %B %Y}) is before the {first_words} date "
                    f"({cleaned[first]:%-d %B %Y}): check both against the registry.",
                )
        if cleaned.get("enrollment_type") and cleaned.get("enrollment") is None:
            self.add_error("enrollment", "Give the number of participants, or clear the enrollment type.")
        for field, words in (("status_confirmed_on", "confirmation"), ("programme_discontinued_on", "programme's end")):
            day, precision = cleaned.get(field), cleaned.get(f"{field}_precision")
            if day and not precision:
                self.add_error(
                    f"{field}_precision",
                    f"Give the precision of the {words} date: a source dated “March 2023” is a month.",
                )
            if not day and precision and field not in self.errors:
                self.add_error(field, f"Give the {words} date, or clear its precision.")
        self._refuse_future_dates(cleaned)
        self._refuse_blocking_problems(cleaned)
        return cleaned

    def _refuse_future_dates(self, cleaned):
        """A confirmation or a review happened: a date still to come would hide staleness for years."""
        today = timezone.localdate()
        for field, what in (
            ("status_confirmed_on", "the date of the source that confirmed the status"),
            ("last_reviewed_on", "the day you checked the record against its sources"),
        ):
            day = cleaned.get(field)
            if day and day > today:
                self.add_error(
                    field, f"{day:%-d %B %Y} is still to come: give {what}, today ({today:%-d %B %Y}) or earlier."
                )

    def _refuse_stale_form(self, seen):
        """Someone saved the trial (or one of its rows) after this page was shown: refuse, saying who and what, and
        keep the curator's input on the page with the version now, so that saving again applies it knowingly."""
        if not self.instance.pk:
            return
        self.current_version = edit_versions.current_version(self.instance.pk)  # locked until the save ends
        if seen is None or self.current_version is None or seen == self.current_version:
            return
        own = {f.name for f in Trial._meta.concrete_fields}
        posted = {name: value for name, value in self.cleaned_data.items() if name in own}
        taken = edit_versions.taken_over(self.instance.pk, seen, posted)
        message = edit_versions.conflict_message(self.instance.pk, seen)
        if taken:
            labels = ", ".join(str(Trial._meta.get_field(name).verbose_name) for name in taken)
            message += f" The fields you had not changed now show their values ({labels}); yours are kept."
        if taken_rows := [f"{note.row}: {', '.join(note.taken)}" for note in self.row_notes if note.taken]:
            message += (
                f" In the rows, the fields you had not changed now show their values ({'; '.join(taken_rows)}); "
                "yours are kept."
            )
        if kept_rows := [f"{note.row}: {', '.join(note.kept)}" for note in self.row_notes if note.kept]:
            message += (
                " In the rows, the fields you both changed show yours, which saving again applies over theirs "
                f"({'; '.join(kept_rows)})."
            )
        self.add_error(None, message)
        self.data = self.data.copy()
        self.data[self.add_prefix("seen_version")] = str(self.current_version)
        for name, value in taken.items():
            self.data[self.add_prefix(name)] = edit_versions.as_posted(value)

    def _refuse_blocking_problems(self, cleaned):
        """A published trial may not be saved with a blocking integrity problem (trials/integrity.py). Its sources are
        checked by the sources' formset (this save may add one); the rest here, on the values posted."""
        if (
            not self.instance.pk
            or cleaned.get("curation_state", self.instance.curation_state) != CurationState.PUBLISHED
        ):
            return
        if Trial.objects.filter(pk=self.instance.pk).values_list("curation_state", flat=True).first() != (
            CurationState.PUBLISHED
        ):
            return  # being published: the workflow checks it once saved, and says what is missing
        saved = True
        facts = SimpleNamespace(
            **{
                name: cleaned.get(name, getattr(self.instance, name, None))
                for name in integrity.Facts.__dataclass_fields__
                if name not in {"sources", "publications", "outcomes"}
            },
            sources=list(self.instance.sources.all()) if saved else [],
            publications=list(self.instance.publications.all()) if saved else [],
            outcomes=[],
        )
        for problem in actions.integrity_problems(facts, timezone.localdate()):
            if problem.rule != "no_evidence_source":
                raise ValidationError(f"A published trial cannot be saved with this problem: {problem.message}")


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
        help_text='ClinicalTrials.gov API v2 JSON: one study per file, or a page {"studies": [...]}; '
        f"up to {limits.MAX_UPLOAD_FILES} files and {limits.MAX_UPLOAD_BYTES // 1_000_000} MB at a time. "
        "On a study's page at clinicaltrials.gov, or from https://clinicaltrials.gov/api/v2/studies/NCT…",
    )
    nct_ids = forms.CharField(
        label="NCT numbers to fetch",
        required=False,
        max_length=limits.NCT_FIELD_LENGTH,
        error_messages={
            "max_length": f"At most {limits.NCT_FIELD_LENGTH} characters: up to {limits.MAX_FETCH} NCT numbers, "
            "e.g. NCT04786262 NCT06171568."
        },
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=f"Up to {limits.MAX_FETCH}, separated by spaces, commas or new lines, e.g. NCT04786262. "
        "Needs the server to reach clinicaltrials.gov; if it cannot, upload the JSON files instead.",
    )

    def __init__(self, *args, upload_problem="", **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_problem = upload_problem

    def clean_files(self):
        for upload in self.cleaned_data["files"]:
            if upload.size > validation.MAX_DOCUMENT_BYTES:
                raise ValidationError(
                    f"{upload.name} is larger than {validation.MAX_DOCUMENT_BYTES // 1_000_000} MB: "
                    "nothing was imported."
                )
        return self.cleaned_data["files"]

    def clean_nct_ids(self):
        values = [v for v in self.cleaned_data["nct_ids"].replace(",", " ").split() if v]
        problems, nct_ids = [], []
        for value in values:
            try:
                nct_ids.append(normalize_nct_id(value))
            except CtgovError as error:
                problems.append(str(error))
        if problems:
            raise ValidationError(problems[: limits.MAX_FETCH])
        if len(set(nct_ids)) > limits.MAX_FETCH:
            raise ValidationError(f"At most {limits.MAX_FETCH} NCT numbers at a time; got {len(set(nct_ids))}.")
        return list(dict.fromkeys(nct_ids))

    def clean(self):
        data = super().clean()
        if self.upload_problem:
            raise ValidationError(self.upload_problem)
        if not self.errors and not data.get("files") and not data.get("nct_ids"):
            raise ValidationError("Choose study JSON files, or give NCT numbers to fetch.")
        return data
