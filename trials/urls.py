from django.urls import path

from . import views

app_name = "trials"

urlpatterns = [
    path("", views.trial_list, name="list"),
    path("export.csv", views.trial_export, name="export"),
    path("<path:key>/", views.trial_detail, name="detail"),
]
