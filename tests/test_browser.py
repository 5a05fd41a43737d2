"""The public pages in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Skipped, with the reason, when Chromium or Playwright is missing (CI installs both and fails on any skip).
"""

import datetime

import pytest

from tests.browser import MARKS, expect
from tests.factories import trial_with
from trials.vocabularies import OverallStatus, Phase

pytestmark = MARKS

NOTICE = "Investigational therapies only."


@pytest.fixture
def trials():
    """Two published trials; created before the browser starts (Playwright runs an event loop)."""
    return [
        trial_with(
            brief_title="Stromal cells for new type 1 diabetes",
            identifier="NCT01234567",
            mechanisms=["immune-regulation"],
            diabetes_types=["T1D"],
            countries=["SE"],
            phase=Phase.PHASE2,
            overall_status=OverallStatus.COMPLETED,
        ),
        trial_with(
            brief_title="Islet cells made from stem cells",
            identifier="NCT07654321",
            mechanisms=["beta-cell-regeneration"],
            diabetes_types=["T1D"],
            countries=["US"],
            phase=Phase.PHASE3,
            overall_status=OverallStatus.RECRUITING,
            status_confirmed_on=datetime.date.today(),
        ),
    ]


@pytest.fixture
def page(trials, live_server, browser):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    # Nothing may be fetched from another site: fail any request that leaves the live server.
    outside = []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    yield context.new_page()
    context.close()
    assert outside == []


def test_filter_the_list(page):
    page.goto("/trials/")
    expect(page.get_by_role("heading", name="2 trials in the registry")).to_be_visible()
    page.get_by_label("Phase 3").check()
    page.get_by_role("button", name="Show trials").click()
    expect(page.get_by_role("heading", name="1 trial matches")).to_be_visible()
    assert "phase=PHASE3" in page.url
    expect(page.get_by_role("link", name="Islet cells made from stem cells")).to_be_visible()
    expect(page.get_by_role("link", name="Stromal cells for new type 1 diabetes")).to_have_count(0)
    expect(page.get_by_label("Phase 3")).to_be_checked()


def test_search_with_the_keyboard(page):
    page.goto("/trials/")
    page.get_by_label("Search titles").fill("islets")
    page.get_by_label("Search titles").press("Enter")
    expect(page.get_by_role("heading", name="1 trial matches")).to_be_visible()
    expect(page.get_by_role("link", name="Islet cells made from stem cells")).to_be_visible()


def test_follow_a_mechanism_to_its_trials_and_open_one(page):
    page.goto("/")
    page.get_by_role("link", name="Immune regulation").first.click()
    expect(page.get_by_role("heading", level=1, name="Immune regulation")).to_be_visible()
    page.get_by_role("link", name="Stromal cells for new type 1 diabetes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stromal cells for new type 1 diabetes")
    assert page.url.endswith("/trials/NCT01234567/")
    expect(page.get_by_text("Completed", exact=True)).to_be_visible()
    expect(page.get_by_text("This therapy is investigational")).to_be_visible()


def test_mechanism_page_links_to_its_filtered_list(page):
    page.goto("/mechanisms/beta-cell-regeneration/")
    page.get_by_role("link", name="Filter and search all 1 trial").click()
    expect(page.get_by_role("heading", name="1 trial matches")).to_be_visible()
    expect(page.get_by_role("link", name="Islet cells made from stem cells")).to_be_visible()


PAGES = ["/", "/trials/", "/trials/NCT07654321/", "/mechanisms/", "/mechanisms/immune-regulation/", "/about/", "/no/"]


def test_the_investigational_notice_is_visible_on_every_page_on_a_desktop_and_a_phone(page):
    for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 740}):
        page.set_viewport_size(viewport)
        for path in PAGES:
            page.goto(path)
            notice = page.get_by_role("complementary", name="Investigational therapies")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text(NOTICE)
            assert notice.bounding_box()["y"] < viewport["height"], path  # above the fold
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{path} is wider than a {viewport['width']}px screen"


def test_skip_link_appears_on_focus_and_moves_to_the_content(page):
    page.goto("/trials/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
