"""Plain words (issue 15, point 7): a glossary of the field's terms and abbreviations, linked where they appear in
curated texts, escaped like everything else (trials/glossary.py)."""

import pytest
from django.urls import reverse

from tests.factories import trial_with
from trials.glossary import TERMS, explain

pytestmark = pytest.mark.django_db


def test_the_glossary_lists_every_term_with_its_anchor(client):
    html = client.get(reverse("glossary")).content.decode()
    for term in TERMS:
        assert f'id="{term.slug}"' in html and term.meaning.split(". ")[0] in html.replace("&#x27;", "'")
    for name in ("C-peptide", "HbA1c", "Time in range", "Serious adverse event", "Allogeneic"):
        assert name.lower() in html.lower()
    assert len({term.slug for term in TERMS}) == len(TERMS)


def test_a_term_is_linked_once_with_its_expansion_and_the_rest_stays_text():
    html = str(explain("UC-MSC and MSC cells; MSC again.\nHbA1c fell.", "/glossary/"))
    assert html.count('href="/glossary/#msc"') == 1  # the first "MSC" only, not the one inside "UC-MSC"
    assert "UC-MSC and " in html
    assert 'title="mesenchymal stromal (or stem) cells">MSC</a>' in html
    assert 'href="/glossary/#hba1c" title="glycated haemoglobin">HbA1c</a>' in html
    assert "<br>" in html
    assert "glossary/#phase" not in str(explain("A Phase 1/2 study.", "/glossary/"))  # not half of "Phase 1/2"


def test_curated_text_is_escaped_before_terms_are_linked():
    html = str(explain('<script>alert(1)</script> islet "cells"', "/glossary/"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a class="term" href="/glossary/#islet"' in html


def test_a_trials_page_links_its_jargon_to_the_glossary(client):
    trial = trial_with(
        summary="Encapsulated islets from iPSC, no immunosuppression.", population_notes="Adults with T1D."
    )
    html = client.get(trial.get_absolute_url()).content.decode()
    for slug in ("encapsulation", "islet", "ipsc", "immunosuppression", "t1d"):
        assert f'href="/glossary/#{slug}"' in html, slug
