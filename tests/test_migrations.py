import pytest

from mechanisms.content import MECHANISMS, PATHWAY_STEPS
from mechanisms.models import Mechanism, PathwayStep
from trials.models import Country, DiabetesTypeTerm, RouteTerm
from trials.vocabularies import DiabetesType, Route

pytestmark = pytest.mark.django_db


def test_data_migration_loads_the_four_mechanisms_in_order():
    assert list(Mechanism.objects.values_list("slug", flat=True)) == [
        "beta-cell-regeneration",
        "immune-regulation",
        "angiogenesis",
        "trophic-support",
    ]
    for mechanism in Mechanism.objects.all():
        for field in ("summary", "idea", "for_patients", "caveats", "unproven", "source_quote", "document_term"):
            assert getattr(mechanism, field).strip(), (mechanism.slug, field)
        assert "research and clinical trial stage" in mechanism.caveats


def test_data_migration_loads_the_three_pathway_steps():
    assert list(PathwayStep.objects.values_list("slug", flat=True)) == ["preparation", "transplantation", "monitoring"]
    assert len(PATHWAY_STEPS) == 3 and len(MECHANISMS) == 4
    transplantation = PathwayStep.objects.get(slug="transplantation")
    assert "intravenous" in transplantation.what_varies.lower()
    assert "pancreas" in transplantation.what_varies.lower()


def test_vocabulary_tables_hold_exactly_the_vocabularies():
    assert set(DiabetesTypeTerm.objects.values_list("code", flat=True)) == set(DiabetesType.values)
    assert set(RouteTerm.objects.values_list("code", flat=True)) == set(Route.values)
    assert Country.objects.count() == 249
    assert Country.objects.get(code="SE").name == "Sweden"
    assert str(RouteTerm.objects.get(code="PORTAL_VEIN")) == "Hepatic portal vein (into the liver)"
