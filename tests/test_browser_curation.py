"""Curation in a real browser (Chromium): two curators and an editor on one published trial. Ana and Ben open it;
Ana saves first, Ben's save is refused with who saved what; Ben's change, saved again, waits for the editor while
readers see the published version; the editor sees the change old → new and approves it; a second change is sent
back with a reason that the curator reads. Screenshots go to $CURATION_SCREENSHOTS when set."""

import os

import pytest

from tests.browser import MARKS, expect
from tests.factories import UserFactory, publishable_trial
from trials.vocabularies import CurationState

pytestmark = MARKS

PASSWORD = "a long test password 42"
SHOTS = os.environ.get("CURATION_SCREENSHOTS", "")


def user(name, role):
    person = UserFactory(username=name, role=role)
    person.set_password(PASSWORD)
    person.save()
    return person


@pytest.fixture
def people(live_server, browser):
    trial = publishable_trial(
        curation_state=CurationState.PUBLISHED, brief_title="Islet cells in a pouch", last_reviewed_on="2026-11-01"
    )
    draft = publishable_trial(curation_state=CurationState.DRAFT, brief_title="A draft trial")
    users = {name: user(name, role) for name, role in (("ana", "Curator"), ("ben", "Curator"), ("eve", "Editor"))}
    pages = {}
    for name in users:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.goto("/admin/login/")
        page.fill("#id_username", name)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#curation-queue")).to_be_visible()
        pages[name] = page
    reader = browser.new_context(base_url=live_server.url).new_page()
    yield trial, draft, pages, reader
    for page in [*pages.values(), reader]:
        page.context.close()


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_edit_conflict_approve_and_send_back(people):
    trial, draft, pages, reader = people
    ana, ben, eve = pages["ana"], pages["ben"], pages["eve"]

    # Two curators on one draft: the second save, from a page opened before the first, is refused.
    draft_url = f"/admin/trials/trial/{draft.pk}/change/"
    ana.goto(draft_url)
    ben.goto(draft_url)
    ana.fill("#id_acronym", "ANA")
    ana.click("input[name=_continue]")
    expect(ana.locator(".messagelist")).to_contain_text("was changed successfully")
    ben.fill("#id_brief_title", "A draft trial, renamed by Ben")
    ben.click("input[name=_continue]")
    expect(ben.locator("body")).to_contain_text("saved by someone else after you opened this page: by ana on")
    expect(ben.locator("body")).to_contain_text("(Acronym)")
    expect(ben.locator("#id_brief_title")).to_have_value("A draft trial, renamed by Ben")  # his input kept
    shot(ben, "1-ben-conflict")
    ben.click("input[name=_continue]")  # saving again applies his input knowingly; Ana's acronym stays
    expect(ben.locator(".messagelist")).to_contain_text("was changed successfully")
    draft.refresh_from_db()
    assert (draft.brief_title, draft.acronym) == ("A draft trial, renamed by Ben", "ANA")

    # A published trial: Ana's change waits for the editor; Ben's, meanwhile, is refused in words.
    url = f"/admin/trials/trial/{trial.pk}/change/"
    ana.goto(url)
    ben.goto(url)
    ana.fill("#id_acronym", "POUCH")
    ana.click("input[name=_continue]")
    expect(ana.locator(".messagelist")).to_contain_text("waits for an editor's approval")
    shot(ana, "2-ana-change-waits")
    ben.fill("#id_brief_title", "Islet cells in a pouch under the skin")
    ben.click("input[name=_continue]")
    expect(ben.locator(".messagelist")).to_contain_text("A change by ana")

    reader.goto(trial.get_absolute_url())
    expect(reader.locator("h1")).to_contain_text("Islet cells in a pouch")
    expect(reader.locator("h1")).not_to_contain_text("POUCH")

    eve.goto(url)
    expect(eve.locator("#pending-change")).to_contain_text("A change waits for an editor's approval")
    eve.click("#pending-change a")
    expect(eve.locator("#ctgov-changes")).to_contain_text("POUCH")
    shot(eve, "3-eve-reviews-the-diff")
    eve.click("input[name=_accept]")
    expect(eve.locator(".messagelist")).to_contain_text("Approved the change by ana: acronym")
    reader.goto(trial.get_absolute_url())
    expect(reader.locator("h1")).to_contain_text("POUCH")
    shot(reader, "4-reader-sees-the-approved-change")

    ben.goto(url)
    ben.fill("#id_brief_title", "Islet cells under the skin")
    ben.click("input[name=_continue]")
    expect(ben.locator(".messagelist")).to_contain_text("waits for an editor's approval")
    eve.goto(url)
    eve.click("#pending-change a")
    eve.fill("#id_reason", "The registry still calls it a pouch.")
    eve.click("input[name=_dismiss]")
    expect(eve.locator(".messagelist")).to_contain_text("sent back")
    ben.goto(url)
    expect(ben.locator("#sent-back-change")).to_contain_text("The registry still calls it a pouch.")
    expect(ben.locator("#review-conversation")).to_contain_text("The registry still calls it a pouch.")
    shot(ben, "5-ben-reads-why")
    reader.goto(trial.get_absolute_url())
    expect(reader.locator("h1")).not_to_contain_text("under the skin")
