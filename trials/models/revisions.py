"""Revisions: every history record written by one save carries the same revision key, so that a trial's history
is read one save at a time (its own fields, its many-to-many fields and its inline rows together).

A revision is opened for each request that writes (`RevisionMiddleware`, config/settings.py) and by the actions
run outside a request (`revision()` around them); nested revisions join the outer one. A record written outside
any revision gets a key of its own.
"""

import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

_current: ContextVar[str] = ContextVar("registry_revision", default="")


class Revisioned(models.Model):
    """The base of the trial's and its parts' history records: the revision key of the save that wrote it."""

    revision = models.CharField(max_length=32, blank=True, default="", db_index=True, editable=False)

    class Meta:
        abstract = True


@contextmanager
def revision():
    """Group every history record written inside into one revision (joins an open one)."""
    if _current.get():
        yield _current.get()
        return
    token = _current.set(uuid.uuid4().hex)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


class RevisionMiddleware:
    """One revision per request that may write (every method but GET, HEAD and OPTIONS)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        with revision():
            return self.get_response(request)


@receiver(pre_create_historical_record)
def stamp_revision(sender, history_instance, **kwargs):
    if hasattr(history_instance, "revision"):
        history_instance.revision = _current.get() or uuid.uuid4().hex
