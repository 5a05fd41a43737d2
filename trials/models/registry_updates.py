"""Registry updates: differences found for a curated trial (on ClinicalTrials.gov, or in a newer version of the curated
data file), which curators accept field by field or dismiss; and a curator's change of a published trial, waiting for an
editor's approval (trials/actions/pending_changes.py)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trials.constraints import in_choices
from trials.models.trial import Trial

# --- ClinicalTrials.gov import ----------------------------------------------------------------
# What an import or the daily check found different on ClinicalTrials.gov for a curated trial
# (see trials/ctgov/ and trials/actions/registry_updates.py). Curators accept
# it field by field or dismiss it; the trial's history says who changed what.


class RegistryUpdateStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    ACCEPTED = "ACCEPTED", "Accepted"
    DISMISSED = "DISMISSED", "Dismissed"
    SUPERSEDED = "SUPERSEDED", "Superseded by a newer check"


class RegistryUpdateOrigin(models.TextChoices):
    CTGOV = "CTGOV", "ClinicalTrials.gov"
    CURATED_DATA = "CURATED_DATA", "Curated data file"
    CURATOR = "CURATOR", "Curator's change"


class RegistryUpdateQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=RegistryUpdateStatus.PENDING)

    def sent_back(self, days=30):
        """Curators' changes an editor sent back in the last `days` days, newest first (shown on the trial's page)."""
        since = timezone.now() - timedelta(days=days)
        return self.filter(
            origin=RegistryUpdateOrigin.CURATOR, status=RegistryUpdateStatus.DISMISSED, resolved_at__gte=since
        ).order_by("-resolved_at")


class RegistryUpdate(models.Model):
    """Differences found for a curated trial, proposed field by field: from its ClinicalTrials.gov record (an
    import or the daily check), or from a newer version of the registry's curated data file for a trial a curator
    changed since it was loaded (trials/actions/initial_data.py)."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="registry_updates")
    origin = models.CharField(
        max_length=15,
        choices=RegistryUpdateOrigin.choices,
        default=RegistryUpdateOrigin.CTGOV,
        help_text="Where the differences come from.",
    )
    identifier = models.CharField(
        "NCT number",
        max_length=20,
        blank=True,
        help_text="The ClinicalTrials.gov record the differences come from (empty for the curated data file).",
    )
    changes = models.JSONField(
        help_text='Field by field: {"overall_status": {"old": "RECRUITING", "new": "COMPLETED"}}, values in the '
        "registry's data format (trials/data/README.md)."
    )
    source = models.CharField(max_length=200, help_text="Where the record was read: a file's name or the API.")
    registry_last_updated = models.DateField(
        null=True, blank=True, help_text="When ClinicalTrials.gov last updated its record."
    )
    status = models.CharField(max_length=10, choices=RegistryUpdateStatus.choices, default=RegistryUpdateStatus.PENDING)
    accepted_fields = models.JSONField(default=list, blank=True, help_text="The fields a curator accepted.")
    created_at = models.DateTimeField("found on", default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The curator whose change of a published trial this is (origin: curator's change).",
    )
    resolution_note = models.TextField(
        "reason",
        blank=True,
        help_text="Why the editor sent the change back (required then), or what they said approving it.",
    )

    objects = RegistryUpdateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "registry update"
        constraints = [
            models.CheckConstraint(
                condition=in_choices("status", RegistryUpdateStatus),
                name="registry_update_status_valid",
                violation_error_message="A registry update is pending, accepted or dismissed.",
            ),
            models.CheckConstraint(
                condition=in_choices("origin", RegistryUpdateOrigin),
                name="registry_update_origin_valid",
                violation_error_message="A registry update comes from ClinicalTrials.gov, the curated data or a "
                "curator's change.",
            ),
            models.UniqueConstraint(
                fields=["trial", "origin"],
                condition=Q(status=RegistryUpdateStatus.PENDING),
                name="registry_update_one_pending_per_trial",
                violation_error_message="This trial already has a registry update waiting: resolve it first.",
            ),
            models.CheckConstraint(
                condition=Q(status=RegistryUpdateStatus.PENDING, resolved_at__isnull=True)
                | (~Q(status=RegistryUpdateStatus.PENDING) & Q(resolved_at__isnull=False)),
                name="registry_update_resolved_when_not_pending",
                violation_error_message="A resolved registry update names who resolved it and when.",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="registry_update_status_idx")]

    def __str__(self):
        return f"{self.identifier or self.get_origin_display()}: {', '.join(self.changes)}"

    @property
    def field_names(self):
        """The fields that differ, in a curator's order (a JSON object's keys have none on PostgreSQL)."""
        from trials.canonical import FIELDS

        order = {field.name: position for position, field in enumerate(Trial._meta.get_fields())}
        fields = {name: position for position, name in enumerate(FIELDS)}
        return sorted(self.changes, key=lambda name: (order.get(name, len(order)), fields.get(name, len(fields))))

    @property
    def field_labels(self):
        """The names of the fields that differ, as curators read them."""
        from trials.canonical import field_label

        return [field_label(name) for name in self.field_names]
