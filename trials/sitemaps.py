"""/sitemap.xml (django.contrib.sitemaps): every published trial, every mechanism and every public page, each with
the date it last changed. Addresses are SITE_URL's (as the CSV's and the API's), not the asking host's: the
sitemap is a public page, cached and shared by every reader.

- `TrialSitemap`: published trials only (`Trial.objects.published()`), at their page's address; lastmod: the
  trial's last save.
- `MechanismSitemap`: each mechanism's page; lastmod: the last save of a published trial linked to it, or the
  registry's last change when none is.
- `PageSitemap`: the public pages (home, list, mechanisms, evidence, glossary, about); lastmod: the registry's
  last change (trials/data_version.py).

Queries: 4, whatever the number of trials: the mechanisms and the trials, each counted by Django's paginator and
read (the registry's last change is the data version the pages' cache has read).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import data_version
from trials.models import Trial
from trials.page_cache import request_version
from trials.vocabularies import CurationState

# The public pages listed, by URL name (a page another part of the site adds goes here).
PAGES = ["home", "trials:list", "mechanisms:list", "evidence:list", "glossary", "about"]


class SiteUrlSitemap(Sitemap):
    """Addresses on SITE_URL's scheme and host."""

    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc


def registry_changed_at():
    """When the registry last changed: the data version the pages' cache read for this request, or (one query) the
    current one; now, if there is none."""
    version = request_version.get() or data_version.current()
    return version.changed_at if version else timezone.now()


class TrialSitemap(SiteUrlSitemap):
    changefreq = "weekly"

    def items(self):
        return Trial.objects.published().with_primary_identifier().only("slug", "updated_at").order_by("pk")

    def lastmod(self, trial):
        return trial.updated_at


class TrialChangesSitemap(TrialSitemap):
    """Each published trial's public change log (/trials/<identifier>/changes/)."""

    changefreq = "weekly"

    def location(self, trial):
        return reverse("trials:changes", args=[trial.public_key])


class MechanismSitemap(SiteUrlSitemap):
    changefreq = "weekly"

    def items(self):
        published = Q(trial_links__trial__curation_state=CurationState.PUBLISHED)
        self.fallback = registry_changed_at()
        changed = Max("trial_links__trial__updated_at", filter=published)
        return Mechanism.objects.annotate(trials_changed=changed).order_by("position", "slug")

    def lastmod(self, mechanism):
        return mechanism.trials_changed or self.fallback


class PageSitemap(SiteUrlSitemap):
    changefreq = "daily"

    def items(self):
        self.changed_at = registry_changed_at()
        return PAGES

    def location(self, name):
        return reverse(name)

    def lastmod(self, name):
        return self.changed_at


SITEMAPS = {
    "pages": PageSitemap,
    "mechanisms": MechanismSitemap,
    "trials": TrialSitemap,
    "changes": TrialChangesSitemap,
}
