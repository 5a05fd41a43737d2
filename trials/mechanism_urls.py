"""The mechanisms' pages, at /mechanisms/ (namespace `mechanisms`): their views show trials, so they live here."""

from django.urls import path

from . import views

app_name = "mechanisms"

urlpatterns = [
    path("", views.mechanism_list, name="list"),
    path("<slug:slug>/", views.mechanism_detail, name="detail"),
]
