"""Display helpers for the public pages: dates at the precision they are known."""

from django import template
from django.utils.dateformat import format as format_date

register = template.Library()

PRECISION_FORMATS = {"DAY": "j F Y", "MONTH": "F Y", "YEAR": "Y"}


@register.filter
def precise_date(value, precision=""):
    """A date written at its precision ("March 2021", "2021"); "Not recorded" when there is none."""
    if not value:
        return "Not recorded"
    return format_date(value, PRECISION_FORMATS.get(precision, "j F Y"))


@register.filter
def on_date(value, precision=""):
    """'on 4 March 2026', 'in March 2026' or 'in 2026': a date at its precision, with its preposition."""
    if not value:
        return ""
    return ("on " if precision in ("", "DAY") else "in ") + precise_date(value, precision)


@register.filter
def day(value):
    """A full date ("24 November 2026"), or "Not recorded"."""
    return format_date(value, "j F Y") if value else "Not recorded"


@register.filter
def explain(text):
    """A curated text with the field's terms linked to the glossary, each at its first appearance (trials/glossary.py);
    escaped, line breaks kept."""
    from django.urls import reverse

    from trials.glossary import explain as link_terms

    return link_terms(text, reverse("glossary"))


@register.simple_tag
def curation_queue():
    """The curators' start page's counts and links (trials/queue.py), for the admin's index."""
    from trials.queue import queue

    return queue()
