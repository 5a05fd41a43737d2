from django.urls import path, re_path

from trials.api import views

app_name = "api"

urlpatterns = [
    path("", views.index, name="index"),
    path("trials/", views.trial_list, name="trials"),
    path("trials/<path:key>/", views.trial_detail, name="trial"),
    path("mechanisms/", views.mechanism_list, name="mechanisms"),
    path("schema/", views.schema, name="schema"),
    re_path(r"^[\s\S]*$", views.no_such_address),  # last: any other address, newlines too
]
