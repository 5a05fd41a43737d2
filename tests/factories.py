import datetime

import factory

from mechanisms.models import Mechanism
from trials.models import Publication, RegistryIdentifier, Source, Trial, TrialMechanism
from trials.vocabularies import CurationState, OverallStatus, Phase, Registry


class TrialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trial

    slug = factory.Sequence(lambda n: f"trial-{n}")
    brief_title = factory.Sequence(lambda n: f"Mesenchymal stromal cells in type 1 diabetes, study {n}")
    sponsor = "University Hospital"
    sponsor_class = "OTHER"
    phase = Phase.PHASE1_PHASE2
    overall_status = OverallStatus.COMPLETED
    status_confirmed_on = datetime.date(2026, 1, 15)
    status_confirmed_on_precision = factory.LazyAttribute(lambda trial: "DAY" if trial.status_confirmed_on else "")
    last_reviewed_on = datetime.date(2026, 11, 24)
    curation_state = CurationState.PUBLISHED


class RegistryIdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegistryIdentifier

    trial = factory.SubFactory(TrialFactory)
    registry = Registry.CTGOV
    value = factory.Sequence(lambda n: f"NCT{90000000 + n:08d}")
    is_primary = True


class TrialMechanismFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrialMechanism

    trial = factory.SubFactory(TrialFactory)
    mechanism = factory.LazyFunction(lambda: Mechanism.objects.get(slug="immune-regulation"))
    role = "PRIMARY"
    rationale = "Mesenchymal stromal cells damp the autoimmune attack on beta cells."


class PublicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Publication

    trial = factory.SubFactory(TrialFactory)
    citation = "Author A et al. A trial of cells. J Trials 2025;1:1-10"
    doi = "10.1000/example.1"
    pmid = "12345678"
    year = 2025


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    trial = factory.SubFactory(TrialFactory)
    url = "https://clinicaltrials.gov/study/NCT00000000"
    kind = "REGISTRY"
    used_for = "registry record"


class UserFactory(factory.django.DjangoModelFactory):
    """A staff user; pass `role="Curator"` or `role="Editor"` (groups made by trials.actions.setup_roles)."""

    class Meta:
        model = "auth.User"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"curator{n}")
    is_staff = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            from django.contrib.auth.models import Group

            from trials.actions import setup_roles

            if not Group.objects.filter(name=extracted).exists():
                setup_roles()
            self.groups.add(Group.objects.get(name=extracted))


def publishable_trial(**fields):
    """A trial with everything publishing needs: a mechanism link with a rationale, a source, a review date."""
    trial = TrialFactory(**fields)
    RegistryIdentifierFactory(trial=trial)
    TrialMechanismFactory(trial=trial)
    SourceFactory(trial=trial)
    return trial


def trial_with(*, identifier=True, mechanisms=(), diabetes_types=(), routes=(), countries=(), **fields):
    """A trial with its many-valued parts given as codes: mechanisms (slugs), diabetes types, routes, countries.

    `identifier`: True for a generated NCT number, a string for that NCT number, False for none.
    """
    trial = TrialFactory(**fields)
    if identifier:
        extra = {"value": identifier} if isinstance(identifier, str) else {}
        RegistryIdentifierFactory(trial=trial, **extra)
    for slug in mechanisms:
        TrialMechanismFactory(trial=trial, mechanism=Mechanism.objects.get(slug=slug))
    trial.diabetes_types.add(*diabetes_types)
    trial.routes.add(*routes)
    trial.countries.add(*countries)
    return trial
