"""The evidence pages, at /evidence/ (namespace `evidence`)."""

from django.urls import path

from . import evidence_views

app_name = "evidence"

urlpatterns = [
    path("", evidence_views.evidence, name="list"),
    path("export.csv", evidence_views.evidence_export, name="export"),
]
