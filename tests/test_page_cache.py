"""The public pages' cache (trials/page_cache.py) and the data version it is keyed by (trials/data_version.py): no
stale page after any kind of write, staff and non-GET requests bypass it, it stays within its cap, and browsers
revalidate with 304s."""

import json
import os

import pytest
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse

from mechanisms.models import Mechanism
from tests.factories import SourceFactory, UserFactory, publishable_trial, trial_with
from trials import actions, data_version
from trials.ctgov import reading
from trials.models import Trial
from trials.vocabularies import CurationState

DATA = os.path.join(os.path.dirname(__file__), "data", "ctgov")


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    return response, response.content.decode()


def served_from_cache(client, url):
    """GET `url` twice: the second answer must come from the cache. Returns its text."""
    first, _ = get(client, url)
    assert first.status_code == 200 and first["X-Page-Cache"] == "miss"
    again, text = get(client, url)
    assert again["X-Page-Cache"] == "hit"
    assert again.content == first.content
    return text


@pytest.fixture
def trial(db):
    return trial_with(identifier="NCT01234567", brief_title="Cells for type 1 diabetes", mechanisms=["angiogenesis"])


# --- What is cached, and how it is keyed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/about/", "/mechanisms/", "/mechanisms/angiogenesis/", "/trials/", "/trials/NCT01234567/"]
)
def test_public_pages_are_served_from_the_cache_with_validators(client, trial, url):
    served_from_cache(client, url)
    response, _ = get(client, url)
    assert response["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert response["ETag"].startswith('"') and response["Last-Modified"].endswith("GMT")
    assert "Content-Security-Policy" in response and response["X-Frame-Options"] == "DENY"  # outer middleware
    assert not response.cookies and "Cookie" not in response.get("Vary", "")


def test_a_cached_page_runs_one_query(client, trial, django_assert_num_queries):
    served_from_cache(client, "/trials/")
    with django_assert_num_queries(1):  # the data version
        assert get(client, "/trials/")[0]["X-Page-Cache"] == "hit"


def test_head_is_answered_from_the_cache_too(client, trial):
    served_from_cache(client, "/trials/")
    response = client.head("/trials/")
    assert response.status_code == 200 and response["X-Page-Cache"] == "hit"


def test_the_key_holds_the_lists_parameters_normalised(client, trial):
    served_from_cache(client, "/trials/?status=COMPLETED&status=RECRUITING&q=cells")
    for same in [
        "/trials/?q=cells&status=RECRUITING&status=COMPLETED",  # another order
        "/trials/?status=RECRUITING&q=cells&status=COMPLETED&status=RECRUITING",  # repeated
        "/trials/?status=COMPLETED&status=RECRUITING&q=cells&utm_source=news",  # a parameter the list ignores
    ]:
        assert get(client, same)[0]["X-Page-Cache"] == "hit", same
    # A single-valued parameter keeps its last value, as the list reads it.
    assert get(client, "/trials/?status=COMPLETED&status=RECRUITING&q=other&q=cells")[0]["X-Page-Cache"] == "hit"
    assert get(client, "/trials/?status=COMPLETED&status=RECRUITING&q=cells&q=other")[0]["X-Page-Cache"] == "miss"


def test_refused_and_missing_pages_are_not_cached(client, trial):
    for url in ["/trials/?status=NOT-A-STATUS", "/trials/?page_size=5000", "/trials/NCT99999999/"]:
        for _ in range(2):
            response, _ = get(client, url)
            assert response.status_code in (400, 404) and "X-Page-Cache" not in response
            assert "ETag" not in response
    assert pages_stored() == 0


def test_a_page_that_declares_no_parameters_is_cached_only_without_a_query_string(client, trial):
    served_from_cache(client, "/about/")
    for _ in range(2):
        assert "X-Page-Cache" not in get(client, "/about/?anything=1")[0]


def test_exports_and_health_are_never_cached(client, trial):
    for url in ["/trials/export.csv", "/healthz"]:
        for _ in range(2):
            assert "X-Page-Cache" not in client.get(url)
    assert pages_stored() == 0


def cache_size():
    return len(caches["default"]._cache)


def pages_stored():
    return sum(":pages:" in key for key in caches["default"]._cache)


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "bounded",
            "OPTIONS": {"MAX_ENTRIES": 20},
        }
    }
)
def test_random_query_strings_cannot_grow_the_cache_past_its_cap(client, trial):
    for number in range(60):
        assert get(client, f"/trials/?q=word{number}&noise={number}")[0].status_code == 200
        assert get(client, f"/trials/?status=BOGUS{number}")[0].status_code == 400
        assert cache_size() <= 20
    assert get(client, "/trials/?q=word59")[0]["X-Page-Cache"] == "hit"  # the newest stay


@override_settings(PAGE_CACHE_MAX_BYTES=1000)
def test_a_page_larger_than_the_cap_is_not_stored(client, trial):
    assert "X-Page-Cache" not in get(client, "/trials/")[0]
    assert pages_stored() == 0


# --- Who bypasses it --------------------------------------------------------------------------------------------


def test_signed_in_staff_bypass_the_cache_and_their_pages_are_private(client, trial):
    served_from_cache(client, "/trials/NCT01234567/")
    client.force_login(UserFactory(role="Editor"))
    for _ in range(2):
        response, _ = get(client, "/trials/NCT01234567/")
        assert response.status_code == 200 and "X-Page-Cache" not in response
        assert "private" in response["Cache-Control"] and "ETag" not in response


def test_a_request_with_credentials_bypasses_the_cache(client, trial):
    served_from_cache(client, "/trials/")
    assert "X-Page-Cache" not in get(client, "/trials/", Authorization="Bearer x")[0]


def test_other_methods_bypass_the_cache(client, trial):
    served_from_cache(client, "/trials/")
    for method in (client.post, client.put, client.delete, client.options):
        response = method("/trials/")
        assert response.status_code == 405 and "X-Page-Cache" not in response


def test_the_admin_is_never_cached(client, trial):
    for _ in range(2):
        response = client.get(reverse("admin:login"))
        assert response.status_code == 200 and "X-Page-Cache" not in response
    assert pages_stored() == 0


# --- Revalidation ----------------------------------------------------------------------------------------------


def test_a_current_etag_gets_a_304_and_a_write_a_new_page(client, trial):
    first, _ = get(client, "/trials/NCT01234567/")
    etag, modified = first["ETag"], first["Last-Modified"]
    response, body = get(client, "/trials/NCT01234567/", If_None_Match=etag)
    assert response.status_code == 304 and body == "" and response["ETag"] == etag
    response, _ = get(client, "/trials/NCT01234567/", If_Modified_Since=modified)
    assert response.status_code == 304
    trial.brief_title = "Renamed trial"
    trial.save()
    response, body = get(client, "/trials/NCT01234567/", If_None_Match=etag)
    assert response.status_code == 200 and "Renamed trial" in body and response["ETag"] != etag
    assert get(client, "/trials/NCT01234567/", If_None_Match=f'"other", {response["ETag"]}')[0].status_code == 304


def test_an_older_if_modified_since_gets_the_page(client, trial):
    response, _ = get(client, "/", If_Modified_Since="Mon, 01 Jan 2001 00:00:00 GMT")
    assert response.status_code == 200


# --- No stale page after any kind of write --------------------------------------------------------------------


def test_no_stale_page_after_an_admin_save(client, trial):
    from tests.test_admin import form_data

    SourceFactory(trial=trial)  # a published trial is saved only with a source it can rest on
    url = trial.get_absolute_url()
    assert "Cells for type 1 diabetes" in served_from_cache(client, url)
    admin = client_class()
    admin.force_login(UserFactory(is_superuser=True))
    change = reverse("admin:trials_trial_change", args=[trial.pk])
    data = form_data(admin.get(change))
    data["brief_title"] = "Edited in the admin"
    response = admin.post(change, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    _, page = get(client, url)
    assert "Edited in the admin" in page and "Cells for type 1 diabetes" not in page


def client_class():
    from django.test import Client

    return Client()


def test_no_stale_page_after_workflow_transitions(client, db):
    trial = publishable_trial(brief_title="Moves through the workflow")
    url = trial.get_absolute_url()
    served_from_cache(client, url)
    assert "Moves through the workflow" in served_from_cache(client, "/trials/")
    editor = UserFactory(role="Editor")
    actions.unpublish(trial=trial, user=editor, reason="Checking the sponsor's results again.")
    assert get(client, url)[0].status_code == 404
    assert "Moves through the workflow" not in get(client, "/trials/")[1]
    trial.refresh_from_db()
    actions.send_to_review(trial=trial, user=editor)
    assert get(client, url)[0].status_code == 404
    trial.refresh_from_db()
    actions.publish(trial=trial, user=editor)
    assert get(client, url)[0].status_code == 200
    assert "Moves through the workflow" in get(client, "/trials/")[1]


def test_no_stale_page_after_mark_reviewed(client, trial):
    served_from_cache(client, trial.get_absolute_url())
    actions.mark_reviewed(trials=Trial.objects.filter(pk=trial.pk), user=UserFactory(role="Curator"))
    assert get(client, trial.get_absolute_url())[0]["X-Page-Cache"] == "miss"


def test_no_stale_page_after_a_registry_update_is_accepted(client, db):
    from tests.factories import SourceFactory, TrialMechanismFactory

    trial = trial_with(identifier="NCT03475563", countries=["SE"], curation_state=CurationState.PUBLISHED)
    TrialMechanismFactory(trial=trial)  # what a published trial keeps at every save, an accepted update's too
    SourceFactory(trial=trial)
    url = trial.get_absolute_url()
    assert "Sweden" in served_from_cache(client, url)
    with open(os.path.join(DATA, "NCT03475563.json")) as file:
        study = json.load(file)
    (update,) = actions.import_ctgov_studies([(reading.study_nct_id(study), study)], source="test").updates
    actions.resolve_registry_update(update=update, accept=["countries"], user=UserFactory(role="Editor"))
    _, page = get(client, url)
    assert "Spain" in page and "Sweden" not in page


def test_no_stale_page_after_an_import(client, trial):
    served_from_cache(client, "/trials/")
    summary = actions.import_ctgov_files([os.path.join(DATA, name) for name in sorted(os.listdir(DATA))[:1]])
    assert summary.created  # drafts: not public, but the registry changed
    assert get(client, "/trials/")[0]["X-Page-Cache"] == "miss"


def test_no_stale_page_after_the_loader(client, db):
    served_from_cache(client, "/")
    before = Trial.objects.published().count()
    actions.load_trials(actions.read_records())
    published = Trial.objects.published().count()
    assert published > before
    assert f"{published} trials" in get(client, "/")[1]


def test_no_stale_page_after_a_mechanism_edit_even_without_the_orm_save(client, trial):
    assert "Angiogenesis" in served_from_cache(client, "/mechanisms/")
    Mechanism.objects.filter(slug="angiogenesis").update(name="New vessels")  # no save(), no signal
    _, page = get(client, "/mechanisms/")
    assert "New vessels" in page


def test_no_stale_page_after_a_delete(client, trial):
    url = trial.get_absolute_url()
    served_from_cache(client, url)
    trial.delete()
    assert get(client, url)[0].status_code == 404


def test_no_stale_page_after_raw_sql(client, trial):
    url = trial.get_absolute_url()
    served_from_cache(client, url)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE trials_trial SET brief_title = %s WHERE id = %s", ["Written in SQL", trial.pk])
    assert "Written in SQL" in get(client, url)[1]


def test_no_stale_page_after_many_writes_in_one_transaction(client, trial):
    """On PostgreSQL the version's row is written once a transaction; its later writes still show to itself."""
    url = trial.get_absolute_url()
    with transaction.atomic():
        for number in range(3):
            Trial.objects.filter(pk=trial.pk).update(brief_title=f"Title {number}")
            assert f"Title {number}" in served_from_cache(client, url)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_stale_page_after_a_restore(client, tmp_path):
    from django.contrib.contenttypes.models import ContentType

    from trials.backup import restore_backup, write_backup

    trial = trial_with(identifier="NCT01234567", brief_title="As backed up")
    path = tmp_path / "backup.json.gz"
    write_backup(path)
    trial.brief_title = "Changed after the backup"
    trial.save()
    url = trial.get_absolute_url()
    assert "Changed after the backup" in served_from_cache(client, url)
    try:
        restore_backup(path, replace=True)
        _, page = get(client, url)
        assert "As backed up" in page and "Changed after the backup" not in page
    finally:
        ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_committed_write_changes_the_version_others_read():
    trial = trial_with(identifier="NCT01234567")
    before = data_version.current()
    with transaction.atomic():
        Trial.objects.filter(pk=trial.pk).update(brief_title="Committed")
    after = data_version.current()
    assert after.tag != before.tag and after.changed_at >= before.changed_at


def test_every_table_of_the_projects_apps_has_the_trigger(db):
    tables = data_version.covered_tables()
    assert {"trials_trial", "trials_trial_countries", "trials_historicaltrial", "mechanisms_mechanism"} <= set(tables)
    assert set(tables) <= data_version.tables_with_triggers()


def test_a_rolled_back_write_never_brings_back_an_old_version(trial):
    before = data_version.current()
    with pytest.raises(RuntimeError), transaction.atomic():
        Trial.objects.update(brief_title="Never committed")
        raise RuntimeError
    Trial.objects.update(brief_title="Committed")
    assert data_version.current().tag != before.tag


# --- A shared cache: Redis -------------------------------------------------------------------------------------


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"needs Redis at {REDIS_URL} (CI starts one: .ci/run)")
    return client


def test_pages_are_shared_through_redis_and_never_stale(client, trial):
    server = redis_or_skip()
    prefix = f"registry-test-{os.getpid()}"
    settings = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": prefix,
    }
    try:
        with override_settings(CACHES={"default": settings}):
            url = trial.get_absolute_url()
            served_from_cache(client, url)
            assert server.keys(f"{prefix}:*")
            # Another process (another gunicorn worker or host) reads what this one stored.
            caches["default"].close()
            assert get(client, url)[0]["X-Page-Cache"] == "hit"
            Trial.objects.filter(pk=trial.pk).update(brief_title="Seen by every worker")
            assert "Seen by every worker" in get(client, url)[1]
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)
    cache.clear()


def test_each_process_keeps_a_copy_of_what_it_read_from_redis_and_it_is_never_stale(client, trial):
    """With a shared cache server, a process's next hits are served from its own memory ("local": no round trip),
    which cannot be stale: the entries' keys hold the data version."""
    server = redis_or_skip()
    prefix = f"registry-test-local-{os.getpid()}"
    shared = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local-copies"}
    url = trial.get_absolute_url()
    try:
        with override_settings(CACHES={"default": shared, "local": local}):
            served_from_cache(client, url)
            for key in server.scan_iter(f"{prefix}:*"):
                server.delete(key)  # the shared server lost it: this process still has its copy
            assert get(client, url)[0]["X-Page-Cache"] == "hit"
            Trial.objects.filter(pk=trial.pk).update(brief_title="Seen at once")
            response, text = get(client, url)
            assert response["X-Page-Cache"] == "miss" and "Seen at once" in text
            # Another process reads what this one stored, and keeps its own copy.
            caches["local"].clear()
            assert get(client, url)[0]["X-Page-Cache"] == "hit"
            assert any(":pages:" in key for key in caches["local"]._cache)
            caches["local"].clear()
    finally:
        for key in server.scan_iter(f"{prefix}:*"):
            server.delete(key)
    cache.clear()


def test_no_stale_page_after_a_version_is_restored(client, db):
    from trials.versions import versions

    trial = publishable_trial(brief_title="Restored title")
    trial.brief_title = "A later title"
    trial.save()
    assert "A later title" in served_from_cache(client, trial.get_absolute_url())
    assert "A later title" in served_from_cache(client, "/trials/")
    number = max(v.number for v in versions(trial.pk) if v.state.fields["brief_title"] == "Restored title")
    actions.restore_version(trial=trial, number=number, user=UserFactory(role="Editor"))
    for url in (trial.get_absolute_url(), "/trials/"):
        response, page = get(client, url)
        assert response["X-Page-Cache"] == "miss" and "Restored title" in page and "A later title" not in page


def test_no_stale_page_after_a_wording_change_is_approved(client, trial):
    from mechanisms import actions as wording

    mechanism = Mechanism.objects.get(slug="angiogenesis")
    served_from_cache(client, "/mechanisms/angiogenesis/")
    change = wording.propose_wording(
        concept=mechanism,
        changes={"summary": {"old": mechanism.summary, "new": "New blood vessels feed the cells, in plain words."}},
        user=UserFactory(role="Curator"),
    )
    response, page = get(client, "/mechanisms/angiogenesis/")  # a change waits: readers keep the approved wording
    assert response.status_code == 200 and "New blood vessels feed the cells" not in page
    wording.approve_wording(change=change, user=UserFactory(role="Editor"))
    response, page = get(client, "/mechanisms/angiogenesis/")
    assert response["X-Page-Cache"] == "miss" and "New blood vessels feed the cells" in page
