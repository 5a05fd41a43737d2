"""The registry's models: trials (`trial`), what they link to (`parts`: registry identifiers, mechanism links,
publications, sources, sites, published outcomes, related trials), the lookup tables of multi-valued vocabularies
(`lookups`), and the registry updates found on ClinicalTrials.gov or in a newer curated data file
(`registry_updates`), the review conversation's comments (`comments`), each trial's integrity problems, stored
(`problems`), and PostgreSQL's search entries (`search`).

The database enforces every vocabulary (trials/vocabularies.py), the order of dates and non-negative enrollment
with named constraints. Reusable reads are QuerySet methods. Import the models from here: `trials.models.Trial`.
"""

from trials.models.comments import Comment
from trials.models.lookups import Country, DiabetesTypeTerm, RouteTerm, VocabularyTerm
from trials.models.parts import (  # noqa: I001 (after the trial they link to)
    Outcome,
    Publication,
    RegistryIdentifier,
    Site,
    Source,
    TrialMechanism,
    TrialRelation,
)
from trials.models.problems import TrialProblem, TrialProblemQuerySet
from trials.models.registry_updates import (
    RegistryUpdate,
    RegistryUpdateOrigin,
    RegistryUpdateQuerySet,
    RegistryUpdateStatus,
)
from trials.models.search import SearchEntry
from trials.models.trial import Trial, TrialQuerySet

__all__ = [
    "Country",
    "VocabularyTerm",
    "DiabetesTypeTerm",
    "RouteTerm",
    "Trial",
    "TrialQuerySet",
    "RegistryIdentifier",
    "TrialMechanism",
    "Publication",
    "Source",
    "Site",
    "Outcome",
    "TrialRelation",
    "RegistryUpdate",
    "RegistryUpdateOrigin",
    "RegistryUpdateQuerySet",
    "RegistryUpdateStatus",
    "Comment",
    "TrialProblem",
    "TrialProblemQuerySet",
    "SearchEntry",
]
