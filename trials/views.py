from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from mechanisms.models import Mechanism

from .models import Trial


@require_GET
def home(request):
    published = Trial.objects.published()
    mechanisms = Mechanism.objects.annotate(
        trial_count=Count("trial_links", filter=_published_link_filter(), distinct=True)
    )
    return render(request, "home.html", {"trial_count": published.count(), "mechanisms": mechanisms})


def _published_link_filter():
    from django.db.models import Q

    return Q(trial_links__trial__curation_state="PUBLISHED")


@require_GET
def about(request):
    return render(request, "about.html")


@require_GET
def trial_list(request):
    trials = Trial.objects.published().with_primary_identifier().order_by("brief_title")
    return render(request, "trials/trial_list.html", {"trials": trials})


@require_GET
def trial_detail(request, key):
    trial = get_object_or_404(Trial.objects.published().with_primary_identifier().by_public_key(key))
    return render(request, "trials/trial_detail.html", {"trial": trial})
