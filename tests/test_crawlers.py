"""For crawlers and browsers (issue 16, point 6): /sitemap.xml, /robots.txt, the favicon and the Open Graph and
Twitter tags of a shared link. Drafts and trials in review appear in none of them."""

import datetime
import html
import re
from xml.etree import ElementTree

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

from tests.factories import SourceFactory, trial_with
from trials.vocabularies import CurationState, OverallStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SITE = "http://127.0.0.1:8000"


@pytest.fixture
def trials():
    published = trial_with(
        brief_title="Islet cells made from stem cells",
        identifier="NCT07654321",
        mechanisms=["beta-cell-regeneration"],
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 6, 1),
    )
    no_identifier = trial_with(identifier=False, slug="cord-blood-t2d", mechanisms=["immune-regulation"])
    hidden = [
        trial_with(identifier=f"NCT0000000{number}", slug=f"hidden-{number}", curation_state=state)
        for number, state in enumerate([CurationState.DRAFT, CurationState.REVIEW], start=1)
    ]
    for trial in [published, no_identifier, *hidden]:
        SourceFactory(trial=trial)
    return published, no_identifier


def sitemap(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    root = ElementTree.fromstring(response.content)
    return {
        url.findtext("s:loc", namespaces=SITEMAP_NS): url.findtext("s:lastmod", namespaces=SITEMAP_NS)
        for url in root.findall("s:url", SITEMAP_NS)
    }


def test_the_sitemap_lists_every_published_trial_mechanism_and_page_with_its_last_change(client, trials):
    published, no_identifier = trials
    urls = sitemap(client)
    assert set(urls) == {
        f"{SITE}/",
        f"{SITE}/trials/",
        f"{SITE}/mechanisms/",
        f"{SITE}/evidence/",
        f"{SITE}/glossary/",
        f"{SITE}/about/",
        f"{SITE}/mechanisms/beta-cell-regeneration/",
        f"{SITE}/mechanisms/immune-regulation/",
        f"{SITE}/mechanisms/angiogenesis/",
        f"{SITE}/mechanisms/trophic-support/",
        f"{SITE}/trials/NCT07654321/",
        f"{SITE}/trials/cord-blood-t2d/",
        f"{SITE}/trials/NCT07654321/changes/",  # each trial's public change log
        f"{SITE}/trials/cord-blood-t2d/changes/",
    }
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", lastmod or "") for lastmod in urls.values()), urls
    assert urls[f"{SITE}/trials/NCT07654321/"] == published.updated_at.date().isoformat()


def test_drafts_and_trials_in_review_are_not_in_the_sitemap(client, trials):
    text = client.get("/sitemap.xml").content.decode()
    assert "hidden-" not in text and "NCT0000000" not in text


def test_the_sitemap_uses_the_site_address_whatever_the_host_asked(client, trials, settings):
    settings.SITE_URL = "https://registry.example.org"
    settings.ALLOWED_HOSTS = ["other.example.org"]
    urls = sitemap(client.__class__(HTTP_HOST="other.example.org"))
    assert "https://registry.example.org/trials/NCT07654321/" in urls
    assert not [url for url in urls if not url.startswith("https://registry.example.org/")]


@pytest.mark.parametrize("extra", [0, 15])
def test_the_sitemap_makes_a_fixed_number_of_queries(client, trials, django_assert_num_queries, extra):
    for _ in range(extra):
        SourceFactory(trial=trial_with(mechanisms=["angiogenesis"]))
    # The data version (the pages' cache's, the pages' lastmod too); the mechanisms, the trials and their change
    # logs, each counted by the paginator and read.
    with django_assert_num_queries(7):
        assert len(sitemap(client)) == 12 + 2 * extra + 2


def test_robots_txt_names_the_sitemap_and_keeps_crawlers_off_the_admin_the_exports_and_the_api(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        "User-agent: *\n"
        "Disallow: /admin/\n"
        "Disallow: /trials/export.csv\n"
        "Disallow: /evidence/export.csv\n"
        "Disallow: /api/\n"
        "Disallow: /trials/?\n"
        "\n"
        "Sitemap: http://127.0.0.1:8000/sitemap.xml\n"
    )


def test_robots_txt_does_not_reveal_an_admin_moved_elsewhere(client, settings):
    settings.ADMIN_URL = "curation-7f3a/"
    text = client.get("/robots.txt").content.decode()
    assert "curation" not in text and "admin" not in text and "Sitemap:" in text


def test_the_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    with open(finders.find("favicon.ico"), "rb") as file:
        assert response.content == file.read()
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    svg = ElementTree.parse(finders.find("favicon.svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    page = client.get("/about/").content.decode()
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in page
    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in page


def meta(page):
    """{property or name: content} of a page's meta tags."""
    found = {}
    for tag in re.findall(r"<meta [^>]*>", page):
        key = re.search(r'(?:property|name)="([^"]+)"', tag)
        content = re.search(r'content="([^"]*)"', tag)
        if key and content:
            found[key.group(1)] = html.unescape(content.group(1))
    return found


def test_a_shared_trial_link_shows_its_title_and_status(client, trials):
    page = client.get("/trials/NCT07654321/").content.decode()
    tags = meta(page)
    assert tags["og:title"] == tags["twitter:title"] == "Islet cells made from stem cells"
    assert "Recruiting" in tags["og:description"] and tags["og:description"] == tags["twitter:description"]
    assert tags["og:description"] == tags["description"]
    assert tags["og:url"] == f"{SITE}/trials/NCT07654321/"
    assert tags["og:type"] == "website" and tags["twitter:card"] == "summary"
    assert tags["og:site_name"] == "Stem-cell diabetes trials registry"
    assert "<title>Islet cells made from stem cells · Stem-cell diabetes trials registry</title>" in page


def test_every_page_has_its_own_title_and_description_for_a_shared_link(client, trials):
    home = meta(client.get("/").content.decode())
    assert home["og:title"] == "Stem-cell therapy trials for diabetes"
    assert "investigational" in home["og:description"]
    mechanism = meta(client.get("/mechanisms/immune-regulation/").content.decode())
    assert mechanism["og:title"] != home["og:title"] and mechanism["og:url"] == f"{SITE}/mechanisms/immune-regulation/"
    about = meta(client.get("/about/").content.decode())
    assert about["og:title"] == "About the registry"


def test_a_title_is_escaped_once(client):
    SourceFactory(trial=trial_with(identifier="NCT07654320", brief_title='Cells "A" & <B>'))
    page = client.get("/trials/NCT07654320/").content.decode()
    assert '<meta property="og:title" content="Cells &quot;A&quot; &amp; &lt;B&gt;">' in page
    assert "<title>Cells &quot;A&quot; &amp; &lt;B&gt; · " in page
    assert "&amp;amp;" not in page


@pytest.mark.parametrize("path", ["/robots.txt", "/favicon.ico"])
def test_head_is_answered_and_writes_are_not(client, path):
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
