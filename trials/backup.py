"""Backup and restore of the whole registry: trials and everything linked to them, their history,
the mechanisms' wording, curators' accounts and groups, and the admin's log.

A backup is a Django JSON fixture (gzip-compressed when the file name ends in .gz) written from one
consistent snapshot of the database. Content types and permissions are written by name (natural
keys), so a backup restores into any database migrated to the same version of the code, SQLite or
PostgreSQL. Not backed up: sessions (everyone signs in again) and django-axes' sign-in attempt logs.
"""

import datetime
import gzip
import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management import call_command
from django.core.serializers import json as json_serializer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from .database import is_postgresql
from .models import Trial

EXCLUDED = ["contenttypes", "auth.permission", "sessions", "axes"]
FORMAT = "registry-json"  # Django's JSON fixture format, written with full-precision times


class PreciseEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, except that times keep their microseconds (it cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            text = o.isoformat()
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        return super().default(o)


class Serializer(json_serializer.Serializer):
    def _init_options(self):
        super()._init_options()
        self.json_kwargs["cls"] = PreciseEncoder


Deserializer = json_serializer.Deserializer  # the files are plain JSON fixtures: loaddata reads them


class RestoreError(Exception):
    """The backup cannot be restored; nothing was changed."""


def backed_up_models():
    """The models a backup holds, as 'app_label.ModelName' labels."""
    excluded_apps = {label for label in EXCLUDED if "." not in label}
    excluded_models = {label.lower() for label in EXCLUDED if "." in label}
    return [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label not in excluded_apps
        and model._meta.label_lower not in excluded_models
        and not model._meta.proxy
        and model._meta.managed
    ]


def model_counts():
    """Rows per backed-up model (queries each table)."""
    return {label: apps.get_model(label)._default_manager.count() for label in backed_up_models()}


def write_backup(path):
    """Write the whole registry to `path` from one snapshot; return the rows per model."""
    already_in_transaction = connection.in_atomic_block  # e.g. in tests: that snapshot is used
    with transaction.atomic():
        if is_postgresql() and not already_in_transaction:
            with connection.cursor() as cursor:  # the first statement: the whole dump sees one snapshot
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        counts = model_counts()
        serializers.register_serializer(FORMAT, __name__)
        call_command("dumpdata", exclude=EXCLUDED, natural_foreign=True, output=str(path), verbosity=0, format=FORMAT)
    return counts


def read_counts(path):
    """Rows per model in a backup file (reads the whole file)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            objects = json.load(stream)
    except (OSError, ValueError, EOFError) as error:
        raise RestoreError(f"{path} is not a readable backup: {error}") from error
    counts = Counter(apps.get_model(item["model"])._meta.label for item in objects)
    return {label: counts.get(label, 0) for label in backed_up_models()}


@contextmanager
def history_off():
    """Stop django-simple-history recording (loaddata's many-to-many writes would add records)."""
    previous = getattr(settings, "SIMPLE_HISTORY_ENABLED", True)
    settings.SIMPLE_HISTORY_ENABLED = False
    try:
        yield
    finally:
        settings.SIMPLE_HISTORY_ENABLED = previous


def restore_backup(path, *, replace=False):
    """Restore a backup written by `write_backup`; return the rows per model.

    Refuses a database that holds trials or users unless `replace` is set, which first empties
    every table. All or nothing: one transaction, rolled back if anything fails or if the rows in
    the database afterwards differ from the rows in the file.
    """
    expected = read_counts(path)
    if not replace and (Trial.objects.exists() or get_user_model().objects.exists()):
        raise RestoreError(
            "The database already holds trials or users. Restore into an empty, migrated database, "
            "or pass --replace to delete everything in this one first."
        )
    with transaction.atomic():
        if replace:
            call_command("flush", interactive=False, verbosity=0)
            ContentType.objects.clear_cache()  # flush recreated the content types under new keys
        else:
            # Only the rows the migrations load (mechanisms, vocabularies): the backup has its own.
            for label in backed_up_models():
                apps.get_model(label)._default_manager.all().delete()
        try:
            with history_off():  # the backup holds the history; loading must not add to it
                call_command("loaddata", str(path), verbosity=0)
        except Exception as error:
            raise RestoreError(f"{path} could not be restored: {error}") from error
        restored = model_counts()
        if restored != expected:
            differences = {
                label: (expected[label], restored[label]) for label in expected if expected[label] != restored[label]
            }
            raise RestoreError(f"Restored rows differ from the backup's (expected, found): {differences}")
    if is_postgresql():
        # Fresh planner statistics: without them, until autovacuum comes by, PostgreSQL plans the public
        # list's counts over a bulk-loaded table badly (seconds instead of milliseconds).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return restored
