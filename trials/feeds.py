"""The Atom feeds (django.contrib.syndication): every public change to the registry (`/feed/`), the trials of a
filtered list, each by its newest public change (`/trials/feed/?...`, the list's parameters), and one trial's
changes (`/trials/<identifier>/feed/`). What a change is comes from trials/changes.py, the change-log page's
source too: published trials only, never curator notes. Each feed is a page like the others for the page cache
(trials/page_cache.py): cached under the registry's data version, keyed by the parameters it reads."""

from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import require_GET

from trials.changes import public_changes
from trials.feed_changes import TrialChange, latest_changes, registry_changes
from trials.filters import LIST_MULTI_PARAMETERS, LIST_SINGLE_PARAMETERS, filtered_trials
from trials.page_cache import cache_parameters

REGISTRY = "Stem-cell diabetes trials registry"
TRIAL_FEED_LIMIT = 100  # a trial's newest changes in its feed; its change-log page lists them all


class ChangeFeed(Feed):
    """An Atom feed of public changes, each entry a TrialChange; given its title, page and entries by the view."""

    feed_type = Atom1Feed
    description_template = "trials/feed_entry.html"
    author_name = REGISTRY

    def __init__(self, *, title: str, link: str, subtitle: str, entries: list[TrialChange]):
        super().__init__()
        self.title, self.link, self.subtitle, self.entries = title, link, subtitle, entries

    def get_feed(self, obj, request):
        self.feed_url = request.get_full_path()  # the feed's own address, with its parameters
        self.host = request.get_host().split(":")[0]
        return super().get_feed(obj, request)

    def get_context_data(self, **kwargs):
        item = kwargs["item"]
        return {"obj": item, "trial_url": kwargs["request"].build_absolute_uri(item.trial.get_absolute_url())}

    def items(self):
        return self.entries

    def item_title(self, item: TrialChange) -> str:
        return f"{item.trial.brief_title}: {item.change.title}"

    def item_link(self, item: TrialChange) -> str:
        return reverse("trials:changes", args=[item.trial.public_key]) + f"#{item.change.anchor}"

    def item_guid(self, item: TrialChange) -> str:
        # A tag URI (RFC 4151): permanent, whatever the trial's address becomes.
        return f"tag:{self.host},2026:trial-{item.trial.pk}-{item.change.anchor}"

    item_guid_is_permalink = False

    def item_updateddate(self, item: TrialChange):
        return item.change.when

    def item_pubdate(self, item: TrialChange):
        return item.change.when


@require_GET
def registry_feed(request: HttpRequest) -> HttpResponse:
    """/feed/: the newest public changes across the registry, newest first (at most 50): trials/feed_changes.py."""
    return ChangeFeed(
        title=f"{REGISTRY}: every public change",
        link=reverse("home"),
        subtitle="Trials published and changes to published trials' public facts, newest first.",
        entries=registry_changes(),
    )(request)


@cache_parameters(single=LIST_SINGLE_PARAMETERS, multi=LIST_MULTI_PARAMETERS)
@require_GET
def list_feed(request: HttpRequest) -> HttpResponse:
    """/trials/feed/?<the list's parameters>: one entry per matching trial, its newest public change, newest first
    (at most 50). Parameters not understood get the list's 400 page."""
    from trials.views import trial_list

    filterset, trials = filtered_trials(request.GET)
    if trials is None:
        return trial_list(request)
    query = request.GET.copy()
    for name in LIST_FEED_IGNORES:
        query.pop(name, None)
    link = reverse("trials:list") + (f"?{query.urlencode()}" if query else "")
    return ChangeFeed(
        title=f"{REGISTRY}: {'trials matching a search' if filterset.is_filtered else 'all trials'}",
        link=link,
        subtitle="Each trial of the list once, by its newest public change, newest first.",
        entries=latest_changes(trials),
    )(request)


@require_GET
def trial_feed(request: HttpRequest, key: str) -> HttpResponse:
    """/trials/<identifier>/feed/: one published trial's public changes, newest first."""
    from trials.views import trial_or_redirect

    trial, moved = trial_or_redirect(key, "trials:trial_feed")
    if moved:
        return moved
    changes = public_changes([trial.pk]).get(trial.pk, [])
    entries = [TrialChange(trial, change) for change in reversed(changes)][:TRIAL_FEED_LIMIT]
    return ChangeFeed(
        title=f"{trial.brief_title}: public changes",
        link=trial.get_absolute_url(),
        subtitle=f"What changed in this trial's public record in the {REGISTRY.lower()}, newest first.",
        entries=entries,
    )(request)


LIST_FEED_IGNORES = ("page", "page_size", "sort")


def feed_link(request: HttpRequest) -> dict:
    """Context processor: the feed that follows the page being shown (home, the list with its parameters, a trial
    and its change log), for base.html's `<link rel="alternate">`. No query."""
    match = getattr(request, "resolver_match", None)
    name = match.view_name if match else ""
    if name == "home":
        return {"feed_link": {"url": reverse("feed"), "title": "Every public change to the registry (Atom)"}}
    if name == "trials:list":
        query = request.GET.copy()
        for parameter in LIST_FEED_IGNORES:
            query.pop(parameter, None)
        url = reverse("trials:feed") + (f"?{query.urlencode()}" if query else "")
        return {"feed_link": {"url": url, "title": "These trials' changes (Atom)"}}
    if name in ("trials:detail", "trials:changes"):
        url = reverse("trials:trial_feed", args=[match.kwargs["key"]])
        return {"feed_link": {"url": url, "title": "This trial's public changes (Atom)"}}
    return {}
