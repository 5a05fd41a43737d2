from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import Mechanism, PathwayStep


@require_GET
def mechanism_list(request):
    return render(
        request,
        "mechanisms/mechanism_list.html",
        {"mechanisms": Mechanism.objects.all(), "steps": PathwayStep.objects.all()},
    )


@require_GET
def mechanism_detail(request, slug):
    mechanism = get_object_or_404(Mechanism, slug=slug)
    return render(request, "mechanisms/mechanism_detail.html", {"mechanism": mechanism})
