"""Roles: curators enter and edit trials and send them to review; editors also publish and delete."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from trials.actions.workflow import PUBLISH_PERMISSION

_INLINE_MODELS = ["registryidentifier", "trialmechanism", "publication", "source", "site", "outcome", "trialrelation"]
CURATOR_PERMISSIONS = [
    "trials.view_trial",
    "trials.add_trial",
    "trials.change_trial",
    *[f"trials.{action}_{model}" for model in _INLINE_MODELS for action in ("view", "add", "change", "delete")],
    "trials.view_country",
    "mechanisms.view_mechanism",
    "mechanisms.change_mechanism",
    "mechanisms.view_pathwaystep",
    "mechanisms.change_pathwaystep",
    "mechanisms.view_wordingchange",
]
EDITOR_PERMISSIONS = [
    *CURATOR_PERMISSIONS,
    "trials.delete_trial",
    PUBLISH_PERMISSION,
    "mechanisms.change_wordingchange",
    "mechanisms.approve_wordingchange",
]
ROLES = {"Curator": CURATOR_PERMISSIONS, "Editor": EDITOR_PERMISSIONS}


def setup_roles():
    """Create or update the Curator and Editor groups with exactly their permissions. Idempotent.

    Returns {group name: number of permissions}.
    """
    result = {}
    with transaction.atomic():
        for name, codes in ROLES.items():
            group, _ = Group.objects.get_or_create(name=name)
            permissions = []
            for code in codes:
                app_label, codename = code.split(".")
                permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            group.permissions.set(permissions)
            result[name] = len(permissions)
    return result
