"""Limits on what an import brings in: text and rows a draft can hold and the admin can save, the import page's
upload and fetch form, memory while parsing, and the page's deadline for fetching from ClinicalTrials.gov."""

import copy
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.ctgov_server import SilentServer
from tests.test_admin import change_url, form_data
from trials import actions, ctgov
from trials.ctgov import limits, validation
from trials.models import Publication, RegistryIdentifier, Trial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

DATA = Path(__file__).resolve().parent / "data" / "ctgov"
IMPORT = "admin:trials_registryupdate_import"


def study(nct_id="NCT00763412"):
    return json.loads((DATA / f"{nct_id}.json").read_text())


def largest_study():
    """A record at or past every limit, in four-byte characters (the worst case for the admin's form)."""
    wide = "🧪"
    record = study()
    protocol = record["protocolSection"]
    ids = protocol["identificationModule"]
    ids["briefTitle"] = wide * 300
    ids["acronym"] = wide * 60
    ids["officialTitle"] = wide * 5_000
    ids["secondaryIdInfos"] = [{"id": f"2020-{n:06d}-{n % 90 + 10}", "type": "EUDRACT_NUMBER"} for n in range(40)]
    protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = wide * 200
    protocol["sponsorCollaboratorsModule"]["collaborators"] = [{"name": wide * 200} for _ in range(150)]
    protocol["descriptionModule"]["briefSummary"] = wide * 100_000
    protocol["conditionsModule"]["conditions"] = ["Type 1 diabetes " + wide * 1_000 for _ in range(50)]
    protocol["statusModule"]["whyStopped"] = wide * 10_000
    protocol["armsInterventionsModule"]["interventions"] = [
        {"type": "BIOLOGICAL", "name": wide * 500, "description": wide * 5_000, "otherNames": [wide * 100] * 5}
        for _ in range(100)
    ]
    protocol["referencesModule"] = {
        "references": [
            {"pmid": str(10_000_000 + n), "type": "RESULT", "citation": wide * 20_000 + " doi: 10.1/" + "x" * 300}
            for n in range(60)
        ]
    }
    protocol["designModule"]["enrollmentInfo"] = {"count": 5_000_000, "type": "ACTUAL"}
    return record


# --- What a draft can hold, and the admin can save -------------------------------------------------


def test_the_limits_follow_the_models():
    assert Publication._meta.get_field("doi").max_length == limits.DOI_LENGTH


def test_the_limits_fit_the_admins_form_in_the_worst_case():
    """Every character four bytes of UTF-8, sent percent-encoded (12 bytes), leaves room for the curator's work."""
    assert limits.MAX_DRAFT_CHARACTERS * 12 < django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE * 0.75
    rows = 8 * limits.MAX_PUBLICATIONS + 5 * (1 + limits.MAX_SECONDARY_IDENTIFIERS)
    assert rows + 250 + 100 < django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS  # + every country and the trial's fields


def test_a_record_past_every_limit_becomes_a_draft_the_admin_can_save(client, curator):
    summary = actions.import_ctgov_studies([("big.json", largest_study())], source="test")
    assert summary.errors == []
    (trial,) = summary.created
    trial.refresh_from_db()
    trial.full_clean()
    assert len(trial.summary) == limits.TEXT_LIMITS["summary"] and trial.summary.endswith("…")
    assert len(trial.official_title) == limits.TEXT_LIMITS["official_title"]
    assert len(trial.curator_notes) <= limits.TEXT_LIMITS["curator_notes"]
    assert trial.publications.count() == limits.MAX_PUBLICATIONS
    assert trial.identifiers.count() == 1 + limits.MAX_SECONDARY_IDENTIFIERS
    assert trial.enrollment is None and trial.enrollment_type == ""
    warnings = "\n".join(summary.warnings)
    for words in (
        "the summary is 100,000 characters: cut at 10,000",
        "150 collaborators: the first",
        "40 further identifiers: the first 20 are added",
        "60 references with a PMID: the first 30 are added",
        "the citation of PMID 10000000 is 20,311 characters: cut at 2,000",
        "the DOI in the citation of PMID 10000000 is too long to be one: left out",
        "the enrollment on the registry, 5,000,000, is more than the registry accepts (1,000,000): left empty",
    ):
        assert words in warnings
    assert trial.curator_notes.startswith("Warnings from the import:\n- the official title is 5,000 characters")

    # The admin's form, posted as a browser posts it (urlencoded), is within Django's limits and saves.
    client.force_login(curator)
    page = client.get(change_url(trial))
    data = form_data(page)
    data["key_results"] = "Added by the curator."
    body = urlencode(data, doseq=True)
    assert len(body) < django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post(change_url(trial), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    trial.refresh_from_db()
    assert trial.key_results == "Added by the curator."


def test_a_huge_title_is_refused_by_name_and_a_huge_summary_is_cut():
    titled, summarised = study(), study("NCT06171568")
    titled["protocolSection"]["identificationModule"]["briefTitle"] = "t" * 4_900_000
    summarised["protocolSection"]["descriptionModule"]["briefSummary"] = "s" * 4_900_000
    documents = [
        ("NCT00763412.json", json.dumps(titled).encode()),
        ("NCT06171568.json", json.dumps(summarised).encode()),
    ]
    summary = actions.import_ctgov_documents(documents, source="test {name}")
    assert summary.errors == [
        "NCT00763412.json: protocolSection.identificationModule.briefTitle: 4,900,000 characters, more than the "
        "registry holds here (300)."
    ]
    (trial,) = summary.created
    assert len(trial.summary) == limits.TEXT_LIMITS["summary"]
    assert "NCT06171568.json: the summary is 4,900,000 characters: cut at 10,000" in summary.warnings[-1]


# --- The import page: upload size and count, the NCT field ------------------------------------------


def uploads(count, size=None):
    data = (DATA / "NCT00973089.json").read_bytes()
    return [SimpleUploadedFile(f"f{n}.json", data if size is None else b" " * size) for n in range(count)]


def test_too_many_files_are_refused_before_any_is_read(client, curator):
    client.force_login(curator)
    response = client.post(reverse(IMPORT), {"files": uploads(limits.MAX_UPLOAD_FILES + 1)})
    assert response.status_code == 200 and response.context["summary"] is None
    assert f"At most {limits.MAX_UPLOAD_FILES} files at a time: nothing was imported" in response.content.decode()
    assert not Trial.objects.exists()


def test_files_too_large_together_are_refused_as_they_arrive(client, curator, monkeypatch):
    monkeypatch.setattr(limits, "MAX_UPLOAD_BYTES", 100_000)
    client.force_login(curator)
    response = client.post(reverse(IMPORT), {"files": uploads(3, size=60_000)})
    assert response.context["summary"] is None
    assert "The files together are larger than 0 MB: nothing was imported" in response.content.decode()
    assert len(response.wsgi_request.FILES.getlist("files")) == 1  # the second was never stored


def test_a_file_too_large_is_refused_as_it_arrives(client, curator, monkeypatch):
    monkeypatch.setattr(validation, "MAX_DOCUMENT_BYTES", 50_000)
    client.force_login(curator)
    response = client.post(reverse(IMPORT), {"files": uploads(1, size=80_000)})
    assert response.context["summary"] is None
    assert "f0.json is larger than a study record can be" in response.content.decode()
    assert response.wsgi_request.FILES.getlist("files") == []


def test_the_upload_limits_keep_the_csrf_check(client, curator):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(curator)
    response = client.post(reverse(IMPORT), {"files": uploads(1)})
    assert response.status_code == 403
    assert not Trial.objects.exists()


def test_the_nct_field_is_bounded(client, curator):
    client.force_login(curator)
    started = time.monotonic()
    response = client.post(reverse(IMPORT), {"nct_ids": "NCT00763412 " * 200_000})  # 2.4 MB
    assert time.monotonic() - started < 2
    assert response.context["summary"] is None
    assert f"At most {limits.NCT_FIELD_LENGTH} characters" in response.content.decode()


# --- Memory while parsing -------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from trials import actions

    def rss_mb():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 1e6

    def peak_mb():
        # VmHWM is this program's own peak; getrusage's ru_maxrss survives exec, so in a child of a large
        # test process it would report the parent's size.
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024 / 1e6

    record = json.loads(open(sys.argv[1]).read())
    def documents(start, count):
        for n in range(start, start + count):
            big = json.loads(json.dumps(record))
            ids = big["protocolSection"]["identificationModule"]
            ids["nctId"] = f"NCT{90000000 + n:08d}"
            big["protocolSection"]["descriptionModule"]["briefSummary"] = "s" * 4_800_000
            yield f"big{n}.json", json.dumps(big).encode()

    actions.import_ctgov_documents(documents(0, 1), source="warm-up {name}")
    gc.collect()
    baseline = rss_mb()
    summary = actions.import_ctgov_documents(documents(1, int(sys.argv[2])), source="test {name}")
    gc.collect()
    print(json.dumps({"baseline": baseline, "after": rss_mb(), "created": len(summary.created),
                      "peak": peak_mb()}))
    """
)


def test_a_large_import_leaves_memory_near_its_baseline(tmp_path):
    """20 documents of 4.8 MB each (96 MB in all), in a process of its own on a fresh SQLite database."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'memory.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(DATA / "NCT00763412.json"), "20"],
        capture_output=True,
        text=True,
        env=env,
        cwd=django_settings.BASE_DIR,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["created"] == 20
    assert figures["after"] - figures["baseline"] < 30, figures  # MB: nothing of the 96 MB is kept
    assert figures["peak"] - figures["baseline"] < 120, figures  # one document at a time, not all 20


# --- The page's deadline for fetching ---------------------------------------------------------------


def test_fetching_from_a_server_that_never_answers_ends_within_five_seconds(client, curator, settings):
    client.force_login(curator)
    nct_ids = ["NCT00763412", "NCT00973089", "NCT03475563", "NCT05594173", "NCT06171568"]
    with SilentServer() as server:
        settings.CTGOV_API_URL = server.url
        started = time.monotonic()
        response = client.post(reverse(IMPORT), {"nct_ids": " ".join(nct_ids)})
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    summary = response.context["summary"]
    assert len(summary.errors) == 5 and not summary.created
    assert summary.errors[0].startswith("NCT00763412: no answer within")
    assert "not fetched, no time left within this page's 4 s" in summary.errors[-1]
    assert server.connections  # it did connect: the server accepted and kept silent


def test_one_deadline_for_all_fetches():
    class Clock:
        now = 0.0

    class SlowClient:
        def clock(self):
            return Clock.now

        def fetch_study(self, nct_id, *, until):
            assert until == 4.0
            Clock.now += 1.5  # each fetch takes 1.5 s
            return study(nct_id)

    ids = ["NCT00763412", "NCT00973089", "NCT03475563", "NCT05594173"]
    fetched = list(actions.fetch_ctgov_studies(ids, client=SlowClient(), deadline=4.0))
    assert [isinstance(item, dict) for _, item in fetched] == [True, True, True, False]
    assert "no time left" in str(fetched[-1][1])


def test_pieces_of_an_answer_never_hold_the_client_past_its_deadline():
    class Trickle:
        """An answer that arrives a byte at a time, 0.1 s a byte on the client's clock."""

        def __init__(self, clock):
            self.clock = clock

        def read(self, size):
            self.clock.now += 0.1
            return b" "

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    client = ctgov.client.CtgovClient("http://127.0.0.1:9/api/v2", clock=clock)
    with pytest.raises(TimeoutError):
        client._read(Trickle(clock), deadline=2.0)
    assert clock.now <= 2.1


def test_counts_stay_untouched_by_a_refused_upload(client, curator):
    before = (Trial.objects.count(), RegistryIdentifier.objects.count(), Publication.objects.count())
    client.force_login(curator)
    client.post(reverse(IMPORT), {"files": uploads(limits.MAX_UPLOAD_FILES + 1)})
    assert (Trial.objects.count(), RegistryIdentifier.objects.count(), Publication.objects.count()) == before


def test_largest_study_is_valid_for_the_mapping():
    assert validation.study_problems(copy.deepcopy(largest_study()), "x") == []
