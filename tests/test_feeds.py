"""The Atom feeds and the change-log page (trials/feeds.py, trials/views.py: trial_changes): valid Atom, exactly
the published trials and changes they should list, never a draft, a trial in review or a curator note; linked
from the pages they follow; a fixed number of queries; answered through the page cache."""

import contextlib
import datetime
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from tests.factories import RegistryIdentifierFactory, SourceFactory, publishable_trial, trial_with
from trials import feed_changes
from trials.actions import send_to_review
from trials.changes import GROUPING, public_changes
from trials.feed_changes import latest_changes, registry_changes
from trials.models import Trial
from trials.models.revisions import revision
from trials.vocabularies import CurationState, OverallStatus

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
START = datetime.datetime(2026, 11, 25, 9, 0, tzinfo=datetime.UTC)
NOTE = "Curator-only note: phoned the sponsor"


@pytest.fixture
def step(time_machine):
    """Moves the clock on by more than GROUPING and starts a new save (a revision, as a request opens): everything
    written until the next step is one change. Returns the new time."""
    now = [START]
    saves = contextlib.ExitStack()

    def move():
        saves.close()
        now[0] += GROUPING * 3
        time_machine.move_to(now[0], tick=False)
        saves.enter_context(revision())
        return now[0]

    time_machine.move_to(START, tick=False)
    saves.enter_context(revision())
    with saves:
        yield move


@pytest.fixture
def registry(step, editor):
    """Two published trials (one recruiting, one changed since), a draft, one in review and one unpublished, each
    with a curator note."""
    completed = publishable_trial(brief_title="Completed islet trial", curator_notes=NOTE)
    step()
    recruiting = trial_with(
        brief_title="Recruiting stromal trial",
        identifier="NCT05555555",
        mechanisms=["immune-regulation"],
        overall_status=OverallStatus.RECRUITING,
        curator_notes=NOTE,
    )
    SourceFactory(trial=recruiting)
    step()
    publishable_trial(brief_title="Secret draft trial", curation_state=CurationState.DRAFT, curator_notes=NOTE)
    publishable_trial(brief_title="Secret trial in review", curation_state=CurationState.REVIEW, curator_notes=NOTE)
    gone = publishable_trial(brief_title="Secret unpublished trial", curator_notes=NOTE)
    step()
    send_to_review(trial=gone, user=editor)
    step()
    completed.enrollment = 48
    completed.curator_notes = NOTE + " again"
    completed.save()
    return {"completed": completed, "recruiting": recruiting, "gone": gone}


def parse(response):
    """The feed, checked for what Atom (RFC 4287) requires: the feed's id, title, updated, author, and each entry's
    id, title, updated and link. Returns the entries as (title, link, id, updated)."""
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{name}"), name
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    entries = []
    for entry in feed.findall(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link is not None and link.get("href", "").startswith("http://testserver/trials/")
        values = [entry.findtext(f"{ATOM}{name}") for name in ("title", "id", "updated")]
        assert all(values)
        entries.append((values[0], link.get("href"), values[1], datetime.datetime.fromisoformat(values[2])))
    ids = [entry[2] for entry in entries]
    assert len(set(ids)) == len(ids)
    updated = [entry[3] for entry in entries]
    assert updated == sorted(updated, reverse=True)  # newest first
    return entries


def test_registry_feed_lists_every_public_change_newest_first(client, registry):
    response = client.get("/feed/")
    titles = [entry[0] for entry in parse(response)]
    assert titles == [
        "Completed islet trial: Changed: Enrollment",
        "Recruiting stromal trial: Published in the registry",
        "Completed islet trial: Published in the registry",
    ]
    body = response.content.decode()
    assert "Secret" not in body
    assert "Curator-only" not in body and "phoned" not in body
    assert "Enrollment" in body and "48" in body  # what changed, in the entry's summary


def test_list_feed_has_one_entry_per_matching_trial(client, registry):
    entries = parse(client.get("/trials/feed/"))
    assert [entry[0] for entry in entries] == [
        "Completed islet trial: Changed: Enrollment",
        "Recruiting stromal trial: Published in the registry",
    ]
    assert entries[1][1] == "http://testserver/trials/NCT05555555/changes/#" + entries[1][1].split("#")[1]
    recruiting = parse(client.get("/trials/feed/", {"status": "RECRUITING", "sort": "title", "page": "2"}))
    assert [entry[0] for entry in recruiting] == ["Recruiting stromal trial: Published in the registry"]
    assert parse(client.get("/trials/feed/", {"q": "secret"})) == []


def test_list_feed_refuses_what_the_list_refuses(client, registry):
    response = client.get("/trials/feed/", {"phase": "PHASE9"})
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    page = client.get("/trials/", {"phase": "PHASE9"})
    # The list's own 400 page; only the menu's "you are here" and the address a shared link names (og:url) differ.
    expected = page.content.replace(b' aria-current="page"', b"", 1).replace(b'/trials/">', b'/trials/feed/">', 1)
    assert response.content == expected
    assert b"application/atom+xml" not in page.content  # no feed for what was not understood


def test_list_feed_stops_at_fifty(client, step):
    for _ in range(51):
        publishable_trial()
    assert len(parse(client.get("/trials/feed/"))) == 50
    assert len(parse(client.get("/feed/"))) == 50


def test_trial_feed_and_change_log(client, registry):
    completed = registry["completed"]
    key = completed.identifiers.get().value
    entries = parse(client.get(f"/trials/{key}/feed/"))
    assert [entry[0] for entry in entries] == [
        "Completed islet trial: Changed: Enrollment",
        "Completed islet trial: Published in the registry",
    ]
    page = client.get(reverse("trials:changes", args=[key]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Changes to this trial’s record" in html
    assert '<th scope="row">Enrollment</th><td>Not recorded</td><td>48</td>' in html
    assert entries[0][1].split("#")[1] in html  # the entry's link lands on its change
    assert "Curator-only" not in html


@pytest.mark.parametrize("which", ["Secret draft trial", "Secret trial in review", "Secret unpublished trial"])
def test_no_feed_or_change_log_for_a_trial_readers_cannot_see(client, registry, which):
    key = Trial.objects.get(brief_title=which).identifiers.get().value
    assert client.get(f"/trials/{key}/feed/").status_code == 404
    assert client.get(f"/trials/{key}/changes/").status_code == 404


def test_pages_link_to_the_feed_that_follows_them(client, registry):
    key = "NCT05555555"
    pages = {
        "/": "/feed/",
        "/trials/?status=RECRUITING&page=1&sort=title": "/trials/feed/?status=RECRUITING",
        "/trials/?sort=title": "/trials/feed/",
        f"/trials/{key}/": f"/trials/{key}/feed/",
        f"/trials/{key}/changes/": f"/trials/{key}/feed/",
    }
    for page, feed in pages.items():
        html = client.get(page).content.decode()
        assert '<link rel="alternate" type="application/atom+xml" title="' in html
        assert f'href="{feed}">' in html.split("</head>")[0], page
        assert f'<a href="{feed}">' in html, page  # and a visible link
    assert f'<a href="/trials/{key}/changes/">' in client.get(f"/trials/{key}/").content.decode()
    assert "application/atom+xml" not in client.get("/about/").content.decode()


@pytest.mark.parametrize(
    "path,queries",
    [("/feed/", 16), ("/trials/feed/", 16), ("/trials/feed/?status=RECRUITING", 16), ("/trials/NCT05555555/feed/", 15)],
)
def test_feeds_run_a_fixed_number_of_queries(client, registry, django_assert_num_queries, path, queries):
    # The data version (page cache), the trials' newest records (the registry's and a list's feeds:
    # trials/feed_changes.py), the trials, then the history: the trials' (1), their many-to-many fields' (3), one
    # per kind of part (7) and the names of mechanisms and countries (2); the titles of related trials when named.
    with django_assert_num_queries(queries):
        client.get(path)


def test_a_feed_reads_the_history_of_the_trials_that_can_hold_its_newest_changes_alone(registry, step, monkeypatch):
    """The feeds read the trials by their newest record, newest first, a batch at a time, and stop once no trial
    left can hold a change newer than the last entry kept: the same entries as reading every trial's history. The
    newest record may be a part's (a change of its own) or one readers never see (a curator's note)."""
    for number in range(8):
        step()
        publishable_trial(brief_title=f"Later trial {number}")
    step()
    RegistryIdentifierFactory(
        trial=registry["recruiting"], value="NCT09999999", is_primary=False
    )  # a part alone: a public change
    step()
    registry["completed"].curator_notes = NOTE + " once more"  # the newest record, and no public change
    registry["completed"].save()
    published = Trial.objects.published()
    read = []

    def spy(ids):
        read.extend(ids)
        return public_changes(ids)

    def titles(entries):
        return [f"{entry.trial.brief_title}: {entry.change.title}" for entry in entries]

    everything = {"registry": titles(registry_changes(limit=1000)), "list": titles(latest_changes(published, 1000))}
    monkeypatch.setattr(feed_changes, "public_changes", spy)
    monkeypatch.setattr(feed_changes, "FEED_BATCH", 2)
    expected = [
        "Recruiting stromal trial: Changed: Registry identifier added",
        "Later trial 7: Published in the registry",
        "Later trial 6: Published in the registry",
    ]
    for name, newest in (
        ("registry", lambda: registry_changes(limit=3)),
        ("list", lambda: latest_changes(published, 3)),
    ):
        read.clear()
        assert titles(newest()) == everything[name][:3] == expected
        # A batch of two: the completed trial (its note) and the recruiting one (its identifier); then one of four:
        # later trials 7 to 4. The next, later trial 3, was published before trial 6, the last entry kept.
        assert sorted(read) == sorted(
            published.exclude(
                brief_title__in=["Later trial 3", "Later trial 2", "Later trial 1", "Later trial 0"]
            ).values_list("pk", flat=True)
        ), name
        assert published.count() == 10


def test_change_log_runs_a_fixed_number_of_queries(client, registry, django_assert_num_queries):
    with django_assert_num_queries(15):
        client.get("/trials/NCT05555555/changes/")


def test_feeds_are_cached_until_the_registry_changes(client, registry, step):
    first = client.get("/feed/")
    assert first["X-Page-Cache"] == "miss"
    again = client.get("/feed/")
    assert again["X-Page-Cache"] == "hit" and again.content == first.content
    step()
    recruiting = registry["recruiting"]
    recruiting.overall_status = OverallStatus.COMPLETED
    recruiting.save()
    after = client.get("/feed/")
    assert after["X-Page-Cache"] == "miss"
    assert parse(after)[0][0] == "Recruiting stromal trial: Changed: Overall status"


def test_a_trial_written_without_history_is_listed_when_it_was_created(client, registry, step):
    when = step()
    Trial.objects.bulk_create([Trial(slug="bulk-trial", brief_title="Bulk-loaded trial", curation_state="PUBLISHED")])
    entries = parse(client.get("/trials/feed/"))
    assert entries[0][0] == "Bulk-loaded trial: Published in the registry"
    assert entries[0][3] == when
    assert "Bulk-loaded trial" not in client.get("/feed/").content.decode()  # no change in its history to list


def test_another_or_a_former_address_redirects_to_the_trials_own(client, registry, step):
    recruiting = registry["recruiting"]
    RegistryIdentifierFactory(trial=recruiting, registry="ISRCTN", value="ISRCTN12345678", is_primary=False)
    former = recruiting.slug
    step()
    recruiting.slug = "new-slug"
    recruiting.save()
    for key in ("ISRCTN12345678", former):
        for route in ("changes", "feed"):
            response = client.get(f"/trials/{key}/{route}/")
            assert response.status_code == 301, (key, route)
            assert response["Location"] == f"/trials/NCT05555555/{route}/"
    assert client.get("/trials/ISRCTN99999999/changes/").status_code == 404


def test_the_registry_feed_never_reads_a_trial_without_history(registry, step, monkeypatch):
    """A trial written without history (in bulk) has no change for the registry's feed, so its history is never
    read, however new the trial: a registry loaded in bulk would otherwise be read whole."""
    step()
    Trial.objects.bulk_create(
        [Trial(slug=f"bulk-{number}", brief_title=f"Bulk {number}", curation_state="PUBLISHED") for number in range(3)]
    )
    read = []

    def spy(ids):
        read.extend(ids)
        return public_changes(ids)

    monkeypatch.setattr(feed_changes, "public_changes", spy)
    entries = registry_changes()
    assert [entry.trial.brief_title for entry in entries] == [
        "Completed islet trial",
        "Recruiting stromal trial",
        "Completed islet trial",
    ]
    assert not Trial.objects.filter(pk__in=read, slug__startswith="bulk-").exists()
