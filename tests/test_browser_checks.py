"""Machines check the public face, and the admin works under the strict Content Security Policy.

- axe-core (accessibility) in headless Chromium on the home, list, trial, mechanism and about pages: no serious or
  critical violation.
- The Nu HTML Checker (vnu-jar, on the machine's Java) over the same pages' HTML as the server sends it: no error.
- The admin in a real browser: sign in, the trial list, the add form with its autocomplete and inlines ("Add another"
  adds a form), and no CSP violation reported on any of them.

The checkers are npm packages in tests/a11y (`make install-page-checks`, which CI runs). Skipped, with the reason,
when they, Java, Chromium or Playwright are missing; CI installs them all and fails on any skip.
"""

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.browser import MARKS, expect
from tests.factories import PublicationFactory, SourceFactory, trial_with
from trials.models import Outcome, Site
from trials.vocabularies import CellSource, OverallStatus, Phase

BASE_DIR = Path(__file__).resolve().parent.parent
CHECKERS = BASE_DIR / "tests" / "a11y" / "node_modules"
AXE = CHECKERS / "axe-core" / "axe.min.js"
VNU = CHECKERS / "vnu-jar" / "build" / "dist" / "vnu.jar"
JAVA = shutil.which("java")

pytestmark = [
    *MARKS,
    pytest.mark.skipif(
        not (AXE.exists() and VNU.exists()),
        reason="axe-core and vnu-jar are not installed in tests/a11y/node_modules: make install-page-checks",
    ),
    pytest.mark.skipif(
        JAVA is None,
        reason="Java is not installed (the Nu HTML Checker runs on it): apt-get install default-jre-headless",
    ),  # fmt: skip
]

PASSWORD = "a long curator passphrase"


@pytest.fixture
def trial():
    """A published trial with every part a page shows; created before the browser starts."""
    trial = trial_with(
        brief_title="Islet cells made from stem cells",
        identifier="NCT07654321",
        mechanisms=["beta-cell-regeneration", "immune-regulation"],
        diabetes_types=["T1D"],
        countries=["US", "CA"],
        routes=["PORTAL_VEIN"],
        phase=Phase.PHASE1_PHASE2,
        overall_status=OverallStatus.RECRUITING,
        acronym="FORWARD",
        official_title="A study of stem cell-derived islets in type 1 diabetes",
        summary="Islet cells grown from stem cells are infused into the liver.\nParticipants take immunosuppressants.",
        cell_source=CellSource("ESC"),
        enrollment=37,
        key_results="Insulin independence in some participants at one year.",
        follow_up_months=60,
        programme="Stem cell-derived islet programme",
        public_caveats="The registry lists Phase 3 only; the results come from the Phase 1/2 part.",
    )
    paper = PublicationFactory(trial=trial, kind="RESULTS", journal="N Engl J Med")
    source = SourceFactory(trial=trial, title="The registry record", source_date="2026-09-01", date_precision="DAY")
    SourceFactory(trial=trial, kind="NEWS", url="https://news.example/story", used_for="the dose")
    trial.status_source = source
    trial.save()
    Site.objects.create(trial=trial, facility="Toronto General Hospital", city="Toronto", country_id="CA")
    Site.objects.create(trial=trial, facility="University of Chicago", city="Chicago", country_id="US")
    Outcome.objects.create(trial=trial, measure="C_PEPTIDE", result="Detectable in all 12", n=12, publication=paper)
    trial_with(brief_title="The programme's first trial", programme="Stem cell-derived islet programme")
    Outcome.objects.create(trial=trial, measure="SAFETY", result="No serious adverse event", source=source)
    return trial


@pytest.fixture
def pages(trial):
    """name: (path, status). The list also filtered and searched, and with a value it does not understand."""
    return {
        "home": ("/", 200),
        "list": ("/trials/", 200),
        "list-filtered": ("/trials/?q=islet&mechanism=immune-regulation&country=US&sort=title", 200),
        "list-not-understood": ("/trials/?phase=PHASE9&started_after=yesterday", 400),
        "trial": (trial.get_absolute_url(), 200),
        "changes": (trial.get_absolute_url() + "changes/", 200),
        "mechanisms": ("/mechanisms/", 200),
        "mechanism": ("/mechanisms/immune-regulation/", 200),
        "about": ("/about/", 200),
        "glossary": ("/glossary/", 200),
        "evidence": ("/evidence/", 200),
        "evidence-filtered": ("/evidence/?measure=C_PEPTIDE&mechanism=beta-cell-regeneration", 200),
        "evidence-not-understood": ("/evidence/?measure=CURE", 400),
        "not-found": ("/trials/NCT00000000/", 404),
    }


def describe(violation):
    nodes = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {nodes}"


def test_axe_finds_no_serious_or_critical_violation(pages, live_server, browser):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    axe = AXE.read_text()
    found = {}
    for name, (path, status) in pages.items():
        assert page.goto(path).status == status, path
        # Evaluated through the DevTools protocol, not as a page script: the site's CSP does not apply.
        page.evaluate(axe)
        result = page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations'], "
            "runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
        )
        found[name] = [describe(v) for v in result["violations"] if v["impact"] in ("serious", "critical")]
        print(f"axe {name}: {len(result['violations'])} violations, {[describe(v) for v in result['violations']]}")
    context.close()
    assert found == {name: [] for name in pages}


def test_the_nu_html_checker_finds_no_error(pages, live_server, tmp_path):
    for name, (path, status) in pages.items():
        try:
            with urllib.request.urlopen(live_server.url + path, timeout=30) as response:
                html = response.read()
        except urllib.error.HTTPError as error:  # the 400 and 404 pages
            assert error.code == status, path
            html = error.read()
        (tmp_path / f"{name}.html").write_bytes(html)
    files = sorted(str(file) for file in tmp_path.glob("*.html"))
    result = subprocess.run(
        [JAVA, "-jar", str(VNU), "--format", "json", "--also-check-css", *files],
        capture_output=True,
        text=True,
        timeout=180,
    )
    messages = json.loads(result.stderr)["messages"]
    for message in messages:
        print(f"vnu {Path(message.get('url', '')).name}: {message['type']}: {message['message']}")
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']} ({m.get('extract', '').strip()})"
        for m in messages
        if m["type"] in ("error", "non-document-error")
    ]
    assert errors == []
    assert len(files) == len(pages)


@pytest.fixture
def curator(trial):
    return get_user_model().objects.create_superuser("curator", "curator@example.org", PASSWORD)


def test_the_admin_works_under_the_content_security_policy(curator, live_server, browser):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    # What the policy blocks: the console's "Refused to …" lines and the page's securitypolicyviolation events.
    context.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    refused, errors = [], []
    page.on("console", lambda message: refused.append(message.text) if "Refused to" in message.text else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def no_violation(where):
        assert page.evaluate("window.cspViolations") == [], where
        assert refused == [], where
        assert errors == [], where

    page.goto("/admin/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Curation")).to_be_visible()
    (session,) = [cookie for cookie in context.cookies() if cookie["name"] == "sessionid"]
    assert session["httpOnly"]
    no_violation("the admin's index")

    page.goto("/admin/trials/trial/")
    expect(page.get_by_role("link", name="Islet cells made from stem cells")).to_be_visible()
    no_violation("the trial list")

    page.goto("/admin/trials/trial/add/")
    expect(page.get_by_role("heading", name="Add trial")).to_be_visible()
    # The countries' autocomplete (select2) is set up by the admin's scripts: it searches as one types.
    page.locator("#id_countries + .select2-container").click()
    page.locator(".select2-search__field").fill("Swed")
    expect(page.locator(".select2-results__option", has_text="Sweden")).to_be_visible()
    page.keyboard.press("Escape")
    # An inline's "Add another": a new empty form appears.
    publications = page.locator("#publications-group .inline-related:not(.empty-form)")
    before = publications.count()
    page.locator("#publications-group .add-row a").click()
    expect(publications).to_have_count(before + 1)
    identifiers = page.locator("#identifiers-group tr.form-row:not(.empty-form)")
    before = identifiers.count()
    page.locator("#identifiers-group .add-row a").click()
    expect(identifiers).to_have_count(before + 1)
    no_violation("the add form")
    context.close()
