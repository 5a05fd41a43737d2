"""When a search finds nothing (trials/suggestions.py): "did you mean" from the published trials' own words, the
same search without the other filters, and a message that names what was asked."""

import pytest
from django.urls import reverse

from tests.factories import SourceFactory, TrialFactory


@pytest.fixture
def trials():
    for title, summary, phase in [
        ("Mesenchymal stromal cells in new-onset diabetes", "Intravenous infusion.", "PHASE1"),
        ("Islets in a pouch", "Encapsulated islets under the skin.", "PHASE2"),
    ]:
        SourceFactory(trial=TrialFactory(brief_title=title, summary=summary, phase=phase))
    TrialFactory(brief_title="A draft", summary="Zanzibarian cells", curation_state="DRAFT")


def page(client, query):
    response = client.get(reverse("trials:list") + "?" + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a_misspelling_is_answered_with_the_registrys_own_word(client, trials):
    html = page(client, "q=mesenchimal")
    assert "No published trial matches the search “mesenchimal”." in html
    assert "Did you mean" in html and "?q=mesenchymal" in html and "(1 trial)" in html


@pytest.mark.django_db
def test_a_drafts_words_are_never_suggested(client, trials):
    html = page(client, "q=zanzibarien")
    assert "Did you mean" not in html and "zanzibarian" not in html


@pytest.mark.django_db
def test_the_same_search_without_the_other_filters(client, trials):
    html = page(client, "q=islets&phase=PHASE1")
    assert "together with the filters chosen" in html
    assert "without the other filters</a> finds 1 trial" in html
    assert "Did you mean" not in html


@pytest.mark.django_db
def test_an_empty_page_without_a_search_blames_the_filters(client, trials):
    html = page(client, "phase=PHASE3")
    assert "No published trial matches all of these filters" in html
    assert "Did you mean" not in html


@pytest.mark.django_db
def test_a_list_with_results_asks_for_no_suggestion(client, trials):
    html = page(client, "q=islets")
    assert "1 trial match" in html and "Did you mean" not in html
