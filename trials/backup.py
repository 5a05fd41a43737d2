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
import zlib
from contextlib import contextmanager
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers import json as json_serializer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from .database import is_postgresql
from .models import Trial

# Not backed up: what Django makes itself, and PostgreSQL's search entries (derived: the triggers rebuild them).
EXCLUDED = ["contenttypes", "auth.permission", "sessions", "axes", "trials.searchentry"]
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

    Refuses a database that holds trials or users unless `replace` is set, which first empties every table. All
    or nothing: one transaction, rolled back if anything in the file is damaged (it is not gzip or JSON, it is cut
    short, an entry names no model, a model a backup never holds, a field the model does not have, a value of the
    wrong type) or if the rows in the database afterwards differ from the entries in the file. The file is read
    as it is loaded, in batches of BATCH_SIZE entries: memory does not grow with its size.
    """
    path = Path(path)
    if not path.is_file():
        raise RestoreError(f"{path} is not a file.")
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
        with history_off():  # the backup holds the history; loading must not add to it
            expected = load_entries(path)
        restored = model_counts()
        if restored != expected:
            differences = {
                label: (expected[label], restored[label]) for label in expected if expected[label] != restored[label]
            }
            raise RestoreError(
                f"{path}: the rows restored differ from the backup's entries (expected, found): {differences}"
            )
    if is_postgresql():
        # Fresh planner statistics: without them, until autovacuum comes by, PostgreSQL plans the public
        # list's counts over a bulk-loaded table badly (seconds instead of milliseconds).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return restored


def load_entries(path):
    """Save every entry of the backup at `path`, batch by batch, as loaddata would; return the entries per model.

    Call inside a transaction: a RestoreError (one line, saying which entry and why) leaves it to be rolled back.
    """
    models = {label.lower(): apps.get_model(label) for label in backed_up_models()}
    counts = dict.fromkeys((model._meta.label for model in models.values()), 0)
    deferred = []  # objects whose references point further on in the file: completed at the end, as loaddata does
    number = 0  # of the entry being read
    try:
        with open_backup(path) as stream, connection.constraint_checks_disabled():
            for batch in batches(read_entries(stream), BATCH_SIZE):
                first = number + 1
                for number, entry in enumerate(batch, start=first):  # noqa: B007 (the number is reported)
                    forget_derived_fields(entry)
                    check_entry(entry, number, models)
                # Its iterator, not the deserializer's own next(), which keeps the batch alive in a reference cycle.
                objects = iter(serializers.deserialize("python", batch, handle_forward_references=True))
                for number in range(first, first + len(batch)):  # noqa: B007 (the number is reported)
                    item = next(objects)
                    item.save()
                    counts[item.object._meta.label] += 1
                    if item.deferred_fields:
                        deferred.append(item)
            number = "with a forward reference"
            for item in deferred:
                item.save_deferred_fields()
        tables = [model._meta.db_table for model in models.values()]
        connection.check_constraints(table_names=tables)
        with connection.cursor() as cursor:  # new rows get keys after the restored ones (PostgreSQL's sequences)
            for statement in connection.ops.sequence_reset_sql(no_style(), models.values()):
                cursor.execute(statement)
    except RestoreError as error:
        raise RestoreError(f"{path}: {error}") from error
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise RestoreError(f"{path} is not a readable backup ({one_line(error)}).") from error
    except Exception as error:  # a damaged entry: whatever Django or the database said about it
        raise RestoreError(f"{path}: entry {number} cannot be restored: {one_line(error)}") from error
    return counts


BATCH_SIZE = 100  # entries saved per batch
MAX_ENTRY_CHARACTERS = 32 * 2**20  # an entry longer than this is not one a backup holds
READ_CHARACTERS = 2**16


def open_backup(path):
    """The backup as text: gzip-compressed (by its first bytes, whatever its name) or not."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_entries(stream):
    """The entries of a JSON list read from `stream` one at a time, never the whole list at once.

    Raises RestoreError if the text is not a JSON list of objects, or is cut short.
    """
    decoder = json.JSONDecoder()
    text, position, offset, at_end = "", 0, 0, False  # offset: characters of the file before `text`

    def more():
        nonlocal text, position, offset, at_end
        chunk = stream.read(READ_CHARACTERS)
        at_end = not chunk
        offset += position
        text, position = text[position:] + chunk, 0
        return chunk

    def next_character():
        nonlocal position
        while True:
            while position < len(text) and text[position] in " \t\r\n":
                position += 1
            if position < len(text):
                return text[position]
            if not more():
                return ""

    if next_character() != "[":
        raise RestoreError("it is not a backup: a backup is a JSON list of entries, and this does not begin with '['.")
    position += 1
    if next_character() == "]":
        position += 1
    else:
        while True:
            if next_character() == "":
                raise RestoreError("the list of entries ends without its closing ']' (cut short).")
            while True:
                try:
                    entry, end = decoder.raw_decode(text, position)
                    break
                except json.JSONDecodeError as error:
                    if at_end or len(text) - position > MAX_ENTRY_CHARACTERS:
                        raise RestoreError(
                            f"not JSON at character {offset + error.pos} ({error.msg}; cut short or damaged)."
                        ) from None
                    more()
            position = end
            yield entry
            separator = next_character()
            position += 1
            if separator == "]":
                break
            if separator != ",":
                raise RestoreError(
                    f"not JSON at character {offset + position - 1}: the list of entries "
                    + ("ends without its closing ']' (cut short)." if separator == "" else "goes on with no ','.")
                )
    if next_character() != "":
        raise RestoreError(f"not JSON: something follows the list of entries at character {offset + position}.")


# Fields an earlier release wrote into its backups that are derived from the rest and no longer a model's: a backup
# of that release is restored without them (the search text is rebuilt by the database's triggers).
DERIVED_FIELDS = {"trials.trial": {"search_document"}}


def forget_derived_fields(entry):
    if isinstance(entry, dict) and isinstance(entry.get("fields"), dict) and isinstance(entry.get("model"), str):
        for name in DERIVED_FIELDS.get(entry["model"].lower(), ()):
            entry["fields"].pop(name, None)


def check_entry(entry, number, models):
    """Raise RestoreError unless `entry` is an object naming a model a backup holds, with fields that model has,
    each of the JSON type a backup writes for it."""
    if not isinstance(entry, dict):
        raise RestoreError(f"entry {number} is {type(entry).__name__}, not an object with a model and its fields.")
    label = entry.get("model")
    if not isinstance(label, str) or not label:
        raise RestoreError(f"entry {number} names no model.")
    model = models.get(label.lower())
    if model is None:
        raise RestoreError(f"entry {number}'s model {label[:100]!r} is not one a backup holds.")
    if not isinstance(entry.get("fields"), dict):
        raise RestoreError(f"entry {number} ({label}) has no fields.")
    for name, value in entry["fields"].items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise RestoreError(
                f"entry {number} ({label}) has a field {name[:100]!r} the model does not have."
            ) from None
        if field.many_to_many:
            expected = (list,)
        elif field.is_relation:
            expected = (int, str, list)  # a key, or a natural key
        else:
            expected = JSON_TYPES.get(field.get_internal_type(), (object,))
        if value is not None and (
            not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected)
        ):
            raise RestoreError(
                f"entry {number} ({label}, pk {entry.get('pk')!r}): field {name} is a JSON "
                f"{type(value).__name__}, where a backup has {' or '.join(kind.__name__ for kind in expected)}."
            )


# The JSON types a backup writes for a field, by its kind (others, e.g. JSONField, take any type); null aside.
JSON_TYPES = {
    **dict.fromkeys(["BooleanField"], (bool,)),
    **dict.fromkeys(
        ["AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField"]
        + ["PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField"],
        (int,),
    ),
    "FloatField": (int, float),
    **dict.fromkeys(
        ["CharField", "TextField", "SlugField", "EmailField", "URLField", "DateField", "DateTimeField", "TimeField"]
        + ["DecimalField", "UUIDField", "DurationField", "GenericIPAddressField", "FileField", "FilePathField"],
        (str,),
    ),
}


def batches(items, size):
    """Lists of `size` items (the last one shorter) from an iterable, read as they are needed."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def one_line(error):
    """An error's message on one line, at most 300 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"
