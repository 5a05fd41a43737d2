from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from trials.filters import cached_counts, count_by, count_by_status
from trials.models import Phase, Trial, TrialMechanism

from .models import Mechanism, PathwayStep

TRIALS_SHOWN = 20  # on a mechanism's page; the rest are one link away, in the filtered list


@require_GET
def mechanism_list(request):
    published = Trial.objects.published()
    mechanisms = Mechanism.objects.annotate(
        trial_count=Count("trial_links", filter=Q(trial_links__trial__in=published))
    )
    return render(
        request,
        "mechanisms/mechanism_list.html",
        {"mechanisms": mechanisms, "steps": PathwayStep.objects.all(), "trial_count": published.count()},
    )


@require_GET
def mechanism_detail(request, slug):
    mechanism = get_object_or_404(Mechanism, slug=slug)
    links = TrialMechanism.objects.filter(mechanism=mechanism)
    trials = Trial.objects.published().filter(Exists(links.filter(trial=OuterRef("pk"))))
    shown = (
        trials.with_primary_identifier()
        .prefetch_related(
            Prefetch("mechanism_links", queryset=links, to_attr="links_here"),
            "diabetes_types",
            "routes",
            "countries",
        )
        .order_by("-last_reviewed_on", "pk")[:TRIALS_SHOWN]
    )

    def counts():
        by_phase = count_by(trials, "phase", [*Phase.choices, ("", "Phase not recorded")])
        return [row for row in by_phase if row[2]], [row for row in count_by_status(trials) if row[2]]

    by_phase, by_status = cached_counts("mechanism", slug, counts)  # until the registry changes, as the list's
    return render(
        request,
        "mechanisms/mechanism_detail.html",
        {
            "mechanism": mechanism,
            "trials": shown,
            "trial_count": sum(row[2] for row in by_status),
            "by_phase": by_phase,
            "by_status": by_status,
            "steps": PathwayStep.objects.all(),
        },
    )
