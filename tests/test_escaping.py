"""Script and HTML payloads in every curated text field of a published trial and its inlines are shown as text:
escaped on every public page and in the admin, written as they are (never interpreted) in the CSV exports.

Each field gets its own payload, tagged so that a page shows which field it came from: the full escaped payload
must appear where the field is shown, and no page may hold a raw tag of any payload.
"""

import csv
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from mechanisms.models import Mechanism
from tests.factories import PublicationFactory, RegistryIdentifierFactory, SourceFactory, TrialFactory
from trials.admin.forms import duplicate_identifier_error
from trials.exports import safe_cell
from trials.models import Outcome, RegistryIdentifier, Site, Source, TrialMechanism
from trials.vocabularies import OverallStatus, Registry

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
# What must never reach a page unescaped: the payloads' tags, raw.
RAW = re.compile(r"<script>alert|<img src=x|<svg/onload", re.IGNORECASE)


def payload(tag, start=""):
    """A payload tagged with its field (e.g. "T03"); `start` puts a spreadsheet formula character first."""
    return f"{start}{tag}{SCRIPT}{BREAKOUT}"


TRIAL_FIELDS = {
    "brief_title": payload("T01", start="-"),
    "official_title": payload("T02"),
    "acronym": payload("T03", start="@"),  # 60 characters at most
    "summary": payload("T04"),
    "sponsor": '=HYPERLINK("https://example.org/")' + payload("T05"),
    "collaborators": payload("T06"),
    "product_name": payload("T07", start="+"),
    "population_notes": payload("T08"),
    "enrollment_notes": payload("T09"),
    "cell_notes": payload("T10"),
    "route_notes": payload("T11"),
    "immunosuppression_notes": payload("T12"),
    "key_results": payload("T13"),
    "curator_notes": payload("T14"),  # never public
    "public_caveats": payload("T15"),
    "why_stopped": payload("T16"),
    "programme": payload("T17"),
}
IDENTIFIER = payload("I01")  # the OTHER registry takes free text: the primary identifier, in the trial's address
RATIONALE = payload("M01")
CITATION, DOI, JOURNAL = payload("P01"), "10.1000/" + payload("P02"), payload("P03")
SOURCE_URL = "https://example.org/p?q=<script>alert(1)</script>&r=%22><svg/onload=alert(1)>"
DATE_NOTES, USED_FOR = payload("S01"), payload("S02")
SOURCE_TITLE, PUBLISHER = payload("S03"), payload("S04")
FACILITY, CITY = payload("L01"), payload("L02")[:100]
RESULT, TIMEPOINT = payload("O01"), payload("O02")

PUBLIC_ON_TRIAL_PAGE = [
    *(value for name, value in TRIAL_FIELDS.items() if name != "curator_notes"),
    IDENTIFIER,
    RATIONALE,
    CITATION,
    DOI,
    SOURCE_URL,
    DATE_NOTES,
    USED_FOR,
    SOURCE_TITLE,
    PUBLISHER,
    FACILITY,
    CITY,
    RESULT,
    TIMEPOINT,
]
ON_A_CARD = [TRIAL_FIELDS[name] for name in ("brief_title", "acronym", "product_name", "sponsor")] + [IDENTIFIER]


@pytest.fixture
def trial():
    # Recruiting, so that its card shows on the home page too ("Recruiting now").
    trial = TrialFactory(slug="payloads", **TRIAL_FIELDS, enrollment=30, overall_status=OverallStatus.RECRUITING)
    identifier = RegistryIdentifier(trial=trial, registry=Registry.OTHER, value=IDENTIFIER, is_primary=True)
    identifier.full_clean()  # the admin accepts it: free text is this registry's format
    identifier.save()
    RegistryIdentifierFactory(trial=trial, value="NCT01234567", is_primary=False)
    link = TrialMechanism(trial=trial, mechanism=Mechanism.objects.get(slug="immune-regulation"), rationale=RATIONALE)
    link.full_clean()
    link.save()
    PublicationFactory(trial=trial, citation=CITATION, doi=DOI, journal=JOURNAL, pmid="12345678")
    source = Source(
        trial=trial, url=SOURCE_URL, title=SOURCE_TITLE, publisher=PUBLISHER, date_notes=DATE_NOTES, used_for=USED_FOR
    )
    source.full_clean()
    source.save()
    Site.objects.create(trial=trial, facility=FACILITY, city=CITY, country_id="SE")
    Outcome.objects.create(trial=trial, measure="SAFETY", result=RESULT, timepoint=TIMEPOINT, source=source)
    SourceFactory(trial=trial)
    # A change, so that the history page has old and new values to show.
    trial.summary = TRIAL_FIELDS["summary"] + " (changed)"
    trial.save()
    trial.summary = TRIAL_FIELDS["summary"]
    trial.save()
    return trial


def html_of(response, status=200):
    assert response.status_code == status
    return response.content.decode()


def assert_escaped(html, shown, where):
    """No raw payload tag anywhere; each of `shown` appears in full, escaped."""
    raw = RAW.search(html)
    assert raw is None, f"raw payload on {where}: …{html[max(raw.start() - 80, 0) : raw.end() + 40]}…"
    for value in shown:
        assert escape(value) in html, f"{value[:12]}… is not shown escaped on {where}"


def test_the_payloads_are_what_a_curator_can_enter(trial):
    assert trial.public_key == IDENTIFIER
    trial.full_clean()  # lengths and formats, which SQLite does not enforce
    # A link with a script scheme is refused: a source is always http(s).
    with pytest.raises(ValidationError):
        Source(trial=trial, url="javascript:alert(1)", used_for="x").full_clean()


def test_public_pages_show_the_payloads_escaped(client, trial):
    detail = trial.get_absolute_url()
    assert "<" not in detail and '"' not in detail  # the address itself is percent-encoded
    pages = {
        "home": (reverse("home"), ON_A_CARD),
        "list": (reverse("trials:list"), ON_A_CARD),
        "search": (reverse("trials:list") + "?q=T01", ON_A_CARD),
        "trial": (detail, PUBLIC_ON_TRIAL_PAGE),
        "mechanism": (reverse("mechanisms:detail", args=["immune-regulation"]), [*ON_A_CARD, RATIONALE]),
        "mechanisms": (reverse("mechanisms:list"), []),
        "about": (reverse("about"), []),
    }
    for where, (url, shown) in pages.items():
        html = html_of(client.get(url))
        assert_escaped(html, shown, where)
        assert escape(TRIAL_FIELDS["curator_notes"]) not in html, f"the curator's notes are shown on {where}"
    # The trial page's links are attributes: escaped too.
    html = html_of(client.get(detail))
    assert f'href="{escape(SOURCE_URL)}"' in html
    assert f'href="https://doi.org/{escape(DOI)}"' in html


def test_payloads_given_as_query_values_are_shown_escaped(client, trial):
    html = html_of(client.get(reverse("trials:list"), {"q": SCRIPT + BREAKOUT}))
    assert_escaped(html, [SCRIPT + BREAKOUT], "a search for a payload")
    html = html_of(client.get(reverse("trials:list"), {"mechanism": SCRIPT + BREAKOUT}), status=400)
    assert_escaped(html, [SCRIPT + BREAKOUT], "the 400 page")


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"  # never sniffed as HTML
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def assert_written_as_text(row):
    """Every cell is the curated text itself, not HTML-escaped; a formula's first character is neutralised."""
    for name in ("brief_title", "acronym", "sponsor"):
        assert row[name] == "'" + TRIAL_FIELDS[name], name
    assert row["primary_identifier"] == IDENTIFIER
    assert row["identifiers"].split("; ") == [IDENTIFIER, "NCT01234567"]
    assert row["publications"] == f"doi:{DOI} PMID:12345678"
    assert "&lt;" not in "".join(row.values())


def test_the_csv_export_writes_the_payloads_as_text(client, trial):
    (row,) = csv_rows(client.get(reverse("trials:export")))
    assert_written_as_text(row)
    assert "curator_notes" not in row


def test_the_admin_shows_the_payloads_escaped(admin_client, trial):
    change = reverse("admin:trials_trial_change", args=[trial.pk])
    html = html_of(admin_client.get(change))
    # Every curated field and inline, in its input or text area.
    assert_escaped(
        html, [*TRIAL_FIELDS.values(), IDENTIFIER, RATIONALE, CITATION, DOI, JOURNAL, SOURCE_URL, DATE_NOTES, USED_FOR],
        "the admin's change page",
    )  # fmt: skip
    changelist = reverse("admin:trials_trial_changelist")
    assert_escaped(html_of(admin_client.get(changelist)), [TRIAL_FIELDS["brief_title"], IDENTIFIER], "the admin's list")
    html = html_of(admin_client.get(changelist, {"q": SCRIPT + BREAKOUT}))
    assert_escaped(html, [SCRIPT + BREAKOUT], "the admin's list searched for a payload")
    html = html_of(admin_client.get(reverse("admin:trials_trial_history", args=[trial.pk])))
    assert_escaped(html, [TRIAL_FIELDS["summary"], TRIAL_FIELDS["summary"] + " (changed)"], "the trial's history")
    for model in ("registryidentifier", "trialmechanism", "publication", "source"):
        html = html_of(admin_client.get(reverse(f"admin:trials_{model}_changelist")))
        assert_escaped(html, [], f"the admin's list of {model}")
    # The message for an identifier already taken names its trial: a link whose text is the (escaped) title.
    message = duplicate_identifier_error(IDENTIFIER)
    assert_escaped(str(message), [IDENTIFIER, TRIAL_FIELDS["brief_title"]], "the duplicate identifier message")


def test_the_admin_csv_export_writes_the_payloads_as_text(admin_client, trial):
    response = admin_client.post(
        reverse("admin:trials_trial_changelist"), {"action": "export_csv", "_selected_action": [trial.pk]}
    )
    (row,) = csv_rows(response)
    assert_written_as_text(row)
    assert row["curator_notes"] == safe_cell(TRIAL_FIELDS["curator_notes"]) == TRIAL_FIELDS["curator_notes"]
