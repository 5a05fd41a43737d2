from django.urls import path

from . import feeds, preview, views

app_name = "trials"

urlpatterns = [
    path("", views.trial_list, name="list"),
    path("export.csv", views.trial_export, name="export"),
    path("feed/", feeds.list_feed, name="feed"),
    # Before the trial's own address, which would take "NCT…/changes" for a key.
    path("<path:key>/changes/", views.trial_changes, name="changes"),
    path("<path:key>/feed/", feeds.trial_feed, name="trial_feed"),
    path("preview/<int:pk>/", preview.trial_preview, name="preview"),  # staff only, never cached
    path("<path:key>/", views.trial_detail, name="detail"),
]
