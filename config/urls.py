from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from config.crawlers import favicon, robots_txt
from config.views import healthz
from trials import views as trial_views
from trials.feeds import registry_feed
from trials.sitemaps import SITEMAPS

admin.site.site_header = "Stem-cell diabetes trials registry: curators"
admin.site.site_title = "Registry curators"
admin.site.index_title = "Curation"
# The trial list has many columns: the full width serves it better than the navigation sidebar.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", trial_views.home, name="home"),
    path("about/", trial_views.about, name="about"),
    path("glossary/", trial_views.glossary, name="glossary"),
    path("feed/", registry_feed, name="feed"),
    path("mechanisms/", include("trials.mechanism_urls")),
    path("trials/", include("trials.urls")),
    path("api/v1/", include("trials.api.urls")),
    path("evidence/", include("trials.evidence_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots_txt, name="robots"),
    path("favicon.ico", favicon, name="favicon"),
]
