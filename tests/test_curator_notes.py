"""Curators' working notes never reach the public: not on any page, not in the CSV exports, the feeds or the API."""

import html
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from mechanisms.models import Mechanism
from trials.models import Trial

pytestmark = pytest.mark.django_db

PUBLIC_FIELDS = [
    "brief_title",
    "official_title",
    "summary",
    "population_notes",
    "cell_notes",
    "route_notes",
    "immunosuppression_notes",
    "key_results",
    "enrollment_notes",
]


def private_phrases(trial):
    """The curator notes' sentences (of some length) that no public field of the trial also says."""
    public = " ".join(str(getattr(trial, name, "") or "") for name in [*PUBLIC_FIELDS, "public_caveats"])
    sentences = re.split(r"(?<=[.;:])\s+|\n+", trial.curator_notes)
    return [s.strip() for s in sentences if len(s.strip()) >= 25 and s.strip() not in public]


@pytest.fixture
def loaded():
    call_command("load_initial_data", verbosity=0, stdout=None)
    trials = list(Trial.objects.published().exclude(curator_notes=""))
    assert len(trials) >= 30  # the initial data has notes on most trials
    return trials


def text(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return html.unescape(body.decode())


def test_no_public_page_or_export_contains_a_curator_note(client, loaded):
    pages = {
        "home": text(client.get(reverse("home"))),
        "list": text(client.get(reverse("trials:list"), {"page_size": 100})),
        "export": text(client.get(reverse("trials:export"))),
        "evidence": text(client.get(reverse("evidence:list"))),
        "evidence export": text(client.get(reverse("evidence:export"))),
        "api mechanisms": text(client.get(reverse("api:mechanisms"))),
        "feed": text(client.get(reverse("feed"))),
        "trials feed": text(client.get(reverse("trials:feed"))),
    }
    url = reverse("api:trials") + "?page_size=100"
    while url:  # every page of the API's list
        response = client.get(url)
        pages[url] = text(response)
        url = response.json()["next"]
    for mechanism in Mechanism.objects.all():
        pages[mechanism.slug] = text(client.get(mechanism.get_absolute_url()))
    checked = 0
    for trial in loaded:
        page = text(client.get(trial.get_absolute_url()))
        page += text(client.get(reverse("api:trial", args=[trial.public_key])))
        page += text(client.get(reverse("trials:changes", args=[trial.public_key])))
        page += text(client.get(reverse("trials:trial_feed", args=[trial.public_key])))
        phrases = private_phrases(trial)
        for phrase in phrases:
            assert phrase not in page, f"{trial.slug}: its page shows a curator note: {phrase!r}"
            for name, content in pages.items():
                assert phrase not in content, f"{name} shows a curator note of {trial.slug}: {phrase!r}"
            checked += 1
    assert checked >= 50
