"""Lookup tables: countries, and a row per code of each multi-valued vocabulary (loaded by migrations)."""

from django.db import models
from django.db.models import Q

from trials.constraints import in_choices
from trials.vocabularies import (
    DiabetesType,
    Route,
)

# --- Lookup tables for multi-valued vocabularies -----------------------------------------------


class Country(models.Model):
    """A country (ISO 3166-1), loaded by a data migration."""

    code = models.CharField("ISO code", max_length=2, primary_key=True, help_text="ISO 3166-1 alpha-2, e.g. SE.")
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z]{2}$"),
                name="country_code_format",
                violation_error_message="A country code is two capital letters (ISO 3166-1), e.g. SE.",
            )
        ]

    def __str__(self):
        return self.name


class VocabularyTerm(models.Model):
    """A row per code of a multi-valued vocabulary, so trials can link to several (loaded by migration)."""

    vocabulary = None  # the TextChoices

    class Meta:
        abstract = True
        ordering = ["position"]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return self.vocabulary(self.code).label


class DiabetesTypeTerm(VocabularyTerm):
    vocabulary = DiabetesType
    code = models.CharField(max_length=10, primary_key=True, choices=DiabetesType.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta(VocabularyTerm.Meta):
        verbose_name = "diabetes type"
        constraints = [
            models.CheckConstraint(
                condition=in_choices("code", DiabetesType),
                name="diabetes_type_valid",
                violation_error_message="Choose a diabetes type from the list.",
            )
        ]


class RouteTerm(VocabularyTerm):
    vocabulary = Route
    code = models.CharField(max_length=20, primary_key=True, choices=Route.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta(VocabularyTerm.Meta):
        verbose_name = "route"
        constraints = [
            models.CheckConstraint(
                condition=in_choices("code", Route),
                name="route_valid",
                violation_error_message="Choose a route from the list.",
            )
        ]
