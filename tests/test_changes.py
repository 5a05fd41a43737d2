"""A trial's public change log (trials/changes.py): only what readers could see, in words, never curator notes."""

import contextlib
import datetime

import pytest

from tests.factories import SourceFactory, publishable_trial
from trials.actions import publish, send_to_review
from trials.changes import GROUPING, PARTS, Change, public_changes
from trials.feed_changes import latest_changes, registry_changes
from trials.models import Site, Trial, TrialRelation
from trials.models.revisions import revision
from trials.vocabularies import CurationState, OverallStatus

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 25, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock(time_machine):
    """A clock the test moves on by hand, a step longer than GROUPING each time; each step is one save (one
    revision, as a request or an action opens), everything written until the next step part of it."""
    saves = contextlib.ExitStack()

    class Clock:
        now = START

        def step(self):
            saves.close()
            self.now += GROUPING * 3
            time_machine.move_to(self.now, tick=False)
            saves.enter_context(revision())
            return self.now

    time_machine.move_to(START, tick=False)
    saves.enter_context(revision())
    with saves:
        yield Clock()


def save(trial, **fields):
    for name, value in fields.items():
        setattr(trial, name, value)
    trial.save()
    return trial


def changes_of(trial):
    return public_changes([trial.pk]).get(trial.pk, [])


def everything_said(changes):
    return " ".join(f"{c.what} {c.before} {c.after}" for change in changes for c in change.changes)


def test_a_draft_has_no_public_changes(clock, editor):
    trial = publishable_trial(curation_state=CurationState.DRAFT, curator_notes="draft notes")
    clock.step()
    save(trial, overall_status=OverallStatus.RECRUITING, enrollment=12)
    clock.step()
    send_to_review(trial=trial, user=editor)
    clock.step()
    save(Trial.objects.get(pk=trial.pk), enrollment=14)
    assert changes_of(trial) == []


def test_publication_then_each_public_change_in_words(clock, editor):
    trial = publishable_trial(curation_state=CurationState.REVIEW, overall_status=OverallStatus.NOT_YET_RECRUITING)
    save(trial, enrollment=10)  # before publication: not a change readers saw
    published_at = clock.step()
    publish(trial=trial, user=editor)
    changed_at = clock.step()
    trial = save(
        Trial.objects.get(pk=trial.pk),
        overall_status=OverallStatus.RECRUITING,
        enrollment=24,
        start_date=datetime.date(2026, 3, 1),
        start_date_precision="MONTH",
        curator_notes="Checked with the sponsor by phone",
    )
    trial.countries.add("SE")
    SourceFactory(trial=trial, url="https://example.org/press", title="Sponsor's press release", kind="SPONSOR")
    clock.step()
    save(trial, curator_notes="Another internal note", data_version="2026-11", data_fingerprint="f" * 32)

    first, second = changes_of(trial)
    assert (first.kind, first.when, first.changes) == ("published", published_at, [])
    assert second.kind == "changed"
    assert second.when >= changed_at
    assert second.changes == [
        Change("Overall status", "Not yet recruiting", "Recruiting"),
        Change("Enrollment", "10", "24"),
        Change("Start date", "", "March 2026"),
        Change("Countries", "", "Sweden"),
        Change("Source added", "", "Sponsor's press release"),
    ]
    assert second.title == "Changed: Overall status, Enrollment, Start date, Countries and 1 more"
    assert "note" not in everything_said([first, second]).lower()


def test_changes_out_of_sight_reach_readers_when_published_again(clock, editor):
    trial = publishable_trial(summary="First words")
    site = Site.objects.create(trial=trial, facility="Uppsala University Hospital", city="Uppsala", country_id="SE")
    clock.step()
    send_to_review(trial=trial, user=editor)
    clock.step()
    save(Trial.objects.get(pk=trial.pk), summary="Draft words", curator_notes="Secret working note")
    clock.step()
    save(Trial.objects.get(pk=trial.pk), summary="Final words")
    site.delete()
    clock.step()
    publish(trial=trial, user=editor)

    published, republished = changes_of(trial)
    assert published.kind == "published"
    assert republished.kind == "republished"
    assert republished.changes == [
        Change("Summary", "First words", "Final words"),
        Change("Site removed", "Uppsala University Hospital, Uppsala, Sweden", ""),
    ]
    assert "Draft words" not in everything_said([republished])
    assert "Secret" not in everything_said([republished])


def test_a_change_of_a_part_names_the_part_and_its_field(clock):
    trial = publishable_trial()
    source = trial.sources.get()
    clock.step()
    save(source, used_for="status and enrollment", kind="PUBLICATION")
    (_, change) = changes_of(trial)
    assert change.changes == [
        Change(f"Source: {source.url}: Kind", "Registry record", "Publication"),
        Change(f"Source: {source.url}: Used for", "registry record", "status and enrollment"),
    ]


def test_one_save_is_one_change_and_two_saves_are_two(clock):
    trial = publishable_trial()
    clock.step()
    save(trial, enrollment=30)
    SourceFactory(trial=trial, title="A second source")
    assert [len(change.changes) for change in changes_of(trial)] == [0, 2]
    clock.step()
    save(trial, enrollment=31)
    save(trial, enrollment=32)
    second = Trial.history.filter(id=trial.pk).latest("history_id")
    Trial.history.filter(history_id=second.history_id).update(revision="another save at the same moment")
    assert [change.changes for change in changes_of(trial)[2:]] == [
        [Change("Enrollment", "30", "31")],
        [Change("Enrollment", "31", "32")],
    ]


def test_records_older_than_revisions_are_grouped_by_user_and_time(clock):
    trial = publishable_trial()
    clock.step()
    save(trial, enrollment=30)
    SourceFactory(trial=trial, title="A second source")
    clock.step()
    save(trial, enrollment=31)
    for model in [Trial, *(part.model for part in PARTS)]:
        model.history.update(revision="")
    assert [len(change.changes) for change in changes_of(trial)] == [0, 2, 1]


def test_bounded_queries_whatever_the_number_of_trials(clock, django_assert_num_queries):
    trials = [publishable_trial() for _ in range(5)]
    clock.step()
    for trial in trials:
        save(trial, enrollment=40)
    # Thirteen (trials/changes.py public_changes), and one more for the titles of related trials, when named.
    with django_assert_num_queries(13):
        assert len(public_changes([trials[0].pk])[trials[0].pk]) == 2
    TrialRelation.objects.create(trial=trials[1], related=trials[2], relation="PREDECESSOR")
    with django_assert_num_queries(14):
        assert sum(len(changes) for changes in public_changes([t.pk for t in trials]).values()) == 10


def test_registry_and_list_changes_are_newest_first_and_published_only(clock, editor):
    older = publishable_trial(brief_title="Older trial")
    clock.step()
    publishable_trial(brief_title="Newer trial")
    clock.step()
    publishable_trial(brief_title="Draft trial", curation_state=CurationState.DRAFT)
    gone = publishable_trial(brief_title="Unpublished trial")
    clock.step()
    send_to_review(trial=gone, user=editor)
    clock.step()
    save(older, enrollment=99)

    assert [(e.trial.brief_title, e.change.kind) for e in registry_changes()] == [
        ("Older trial", "changed"),
        ("Newer trial", "published"),
        ("Older trial", "published"),
    ]
    assert [(e.trial.brief_title, e.change.kind) for e in latest_changes(Trial.objects.published())] == [
        ("Older trial", "changed"),
        ("Newer trial", "published"),
    ]
    assert len(registry_changes(limit=1)) == 1


def test_a_related_trial_shows_only_while_published_and_the_status_source_by_its_name(clock):
    trial = publishable_trial()
    public = publishable_trial(brief_title="The phase 1 trial")
    draft = publishable_trial(brief_title="Secret successor", curation_state=CurationState.DRAFT)
    clock.step()
    TrialRelation.objects.create(trial=trial, related=public, relation="PREDECESSOR")
    TrialRelation.objects.create(trial=trial, related=draft, relation="SUCCESSOR")
    save(trial, status_source=trial.sources.get())
    (_, change) = changes_of(trial)
    assert change.changes == [
        Change("The status's source", "", "https://clinicaltrials.gov/study/NCT00000000"),
        Change("Related trial added", "", "The phase 1 trial"),
    ]


def test_two_saves_with_one_timestamp_stay_apart(clock):
    trial = publishable_trial()
    clock.step()
    save(trial, enrollment=31)
    SourceFactory(trial=trial, title="Sponsor's site")
    save(trial, enrollment=32)
    first, second = Trial.history.filter(id=trial.pk).order_by("-history_id")[:2][::-1]
    Trial.history.filter(history_id=first.history_id).update(revision="a-save")
    trial.sources.get(title="Sponsor's site").history.update(revision="a-save")
    Trial.history.filter(history_id=second.history_id).update(revision="b-save")
    assert [change.changes for change in changes_of(trial)[1:]] == [
        [Change("Enrollment", "", "31"), Change("Source added", "", "Sponsor's site")],
        [Change("Enrollment", "31", "32")],
    ]
