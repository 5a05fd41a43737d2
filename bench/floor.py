"""The benchmark's floor: the site's own URLs plus `/bench/floor`, a trivial view (no query, a few bytes) served
through the same settings and middleware as every page (bench/floor_urls.py), so that a page's time can be compared
with the cheapest request the stack can answer.

    use_floor_urls()                                  # in-process, after django.setup() (bench/run.py)
    gunicorn 'bench.floor:wsgi_application()'         # served (bench/loadtest.py)
"""

import os


def use_floor_urls():
    """Serve the site's URLs and the floor in this process (after django.setup())."""
    from django.conf import settings

    settings.ROOT_URLCONF = "bench.floor_urls"


def wsgi_application():
    """For gunicorn: the site's WSGI application, with the floor's URLs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    use_floor_urls()
    return application
