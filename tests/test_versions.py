"""A trial's history a curator can read and trust (issue 14, point 4): one version per save holding every field and
inline change, labels rather than codes, long texts whole with the changed words marked, any two versions
compared, a whole version restored in one step (trials/versions.py, trials/actions/versions.py,
trials/admin/versions.py)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from tests.factories import UserFactory, publishable_trial
from tests.test_admin import change_url, form_data, signed_in
from trials import actions
from trials.models import Source, Trial
from trials.versions import versions
from trials.vocabularies import CurationState

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def clock(time_machine):
    """Today is 24 November 2026, and the clock runs: each save has its own time, as in life."""
    time_machine.move_to(datetime.datetime(2026, 11, 24, 12, tzinfo=datetime.UTC), tick=True)


LONG = "Cells are infused into the portal vein of the liver, where they settle and begin to make insulin for years."


def save(client, trial, **changes):
    data = form_data(client.get(change_url(trial)))
    data.update(changes)
    response = client.post(change_url(trial), data)
    assert response.status_code == 302, response.content.decode()[:2000]


@pytest.fixture
def trial():
    return publishable_trial(curation_state=CurationState.DRAFT, summary=LONG, phase="PHASE1")


def test_one_save_is_one_version_with_every_field_row_and_label(client, curator, trial):
    signed_in(client, curator)
    before = len(versions(trial.pk))
    save(
        client,
        trial,
        phase="PHASE2",
        countries=["SE", "NO"],
        summary=LONG.replace("for years", "for at least two years"),
        **{"sources-0-used_for": "status and enrollment"},
    )
    found = versions(trial.pk)
    assert len(found) == before + 1  # the trial, its countries and its source: one save, one version
    latest = found[-1]
    assert latest.user == curator
    changes = {(c["part"], c["field"]): c for c in latest.changes}
    assert (changes[("Trial", "Phase")]["old"], changes[("Trial", "Phase")]["new"]) == ("Phase 1", "Phase 2")
    assert changes[("Trial", "Countries")]["new"] == "Norway; Sweden"
    assert changes[("Source", "Used for")]["new"] == "status and enrollment"
    marked = str(changes[("Trial", "Summary")]["marked"])
    assert "make insulin for <ins>at least two</ins> years." in marked
    assert marked.startswith("Cells are infused into the portal vein")  # whole, not cut in the middle


def test_the_history_page_shows_one_entry_per_save_and_compares_any_two(client, curator, trial):
    signed_in(client, curator)
    save(client, trial, phase="PHASE2")
    save(client, trial, phase="PHASE3", **{"sources-0-used_for": "everything"})
    page = client.get(reverse("admin:trials_trial_history", args=[trial.pk])).content.decode()
    last = len(versions(trial.pk))
    assert "Versions: one per save" in page
    assert f'href="{reverse("admin:trials_trial_restore", args=[trial.pk, last - 2])}"' in page
    compare = client.get(reverse("admin:trials_trial_compare", args=[trial.pk]), {"a": last - 2, "b": last})
    text = compare.content.decode()
    assert compare.status_code == 200
    assert "Phase 1" in text and "Phase 3" in text and "everything" in text
    assert client.get(reverse("admin:trials_trial_compare", args=[trial.pk]), {"a": 1, "b": 99}).status_code == 404
    assert client.get(reverse("admin:trials_trial_compare", args=[trial.pk]), {"a": "x"}).status_code == 404


def test_restoring_a_version_brings_back_the_trial_and_its_rows_in_one_step(client, curator, trial):
    signed_in(client, curator)
    number = len(versions(trial.pk))  # the version to come back to
    source = trial.sources.get()
    data = form_data(client.get(change_url(trial)))
    data.update(
        {
            "phase": "PHASE3",
            "sources-0-DELETE": "on",
            "sites-TOTAL_FORMS": 1,
            "sites-0-facility": "Uppsala University Hospital",
            "sites-0-country": "SE",
        }
    )
    assert client.post(change_url(trial), data).status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists() and trial.sites.count() == 1
    response = client.post(reverse("admin:trials_trial_restore", args=[trial.pk, number]))
    assert response.status_code == 302
    trial = Trial.objects.get(pk=trial.pk)
    assert trial.phase == "PHASE1"
    assert list(trial.sources.values_list("pk", "used_for")) == [(source.pk, source.used_for)]
    assert trial.sites.count() == 0
    found = versions(trial.pk)
    assert found[-1].reasons == [f"Restored from version {number} by {curator.get_username()}"]
    assert found[-1].state.rows == found[number - 1].state.rows  # the rows are as they were
    assert {k: v for k, v in found[-1].state.fields.items() if k != "curation_state"} == {
        k: v for k, v in found[number - 1].state.fields.items() if k != "curation_state"
    }


def test_only_an_editor_restores_a_published_trial(client, curator, editor):
    trial = publishable_trial()
    trial.phase = "PHASE3"
    trial.save()
    with pytest.raises(PermissionDenied):
        actions.restore_version(trial=trial, number=1, user=curator)
    signed_in(client, curator)
    page = client.get(reverse("admin:trials_trial_restore", args=[trial.pk, 1])).content.decode()
    assert "Only an editor restores a version of a published trial" in page
    assert client.post(reverse("admin:trials_trial_restore", args=[trial.pk, 1])).status_code == 403
    actions.restore_version(trial=trial, number=len(versions(trial.pk)) - 1, user=editor)
    assert Trial.objects.get(pk=trial.pk).phase != "PHASE3"


def test_a_version_that_would_leave_a_published_trial_unsupported_is_refused_whole(editor):
    trial = publishable_trial()  # version 1: the trial alone, before its identifier, link and source
    trial.phase = "PHASE3"
    trial.save()
    with pytest.raises(actions.RestoreError, match="cannot be restored while the trial is published"):
        actions.restore_version(trial=trial, number=1, user=editor)
    trial.refresh_from_db()
    assert trial.phase == "PHASE3" and trial.sources.count() == 1  # nothing changed


def test_a_reader_without_rights_cannot_restore():
    trial = publishable_trial(curation_state=CurationState.DRAFT)
    with pytest.raises(PermissionDenied):
        actions.restore_version(trial=trial, number=1, user=UserFactory())
