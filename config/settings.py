"""Settings for the stem-cell diabetes trials registry.

One module for every environment: production differs from development by
environment variables alone (see .env.example). With no variable set, the
registry runs in development mode on an SQLite file inside the project.
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def load_env_file(path):
    """Read KEY=value lines from a .env file into os.environ; real environment variables win."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


load_env_file(BASE_DIR / ".env")


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    value = value.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}.")


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}.") from None


# PostgreSQL's own timeouts, in seconds (0: none), each from an environment variable with its default: a statement
# running longer (a query, or an export sent to a slow reader) is cancelled; waiting longer for a lock (another
# transaction, a migration) gives up; a transaction left open and idle is ended.
POSTGRES_TIMEOUTS = [
    ("statement_timeout", "DATABASE_STATEMENT_TIMEOUT", 30),
    ("lock_timeout", "DATABASE_LOCK_TIMEOUT", 10),
    ("idle_in_transaction_session_timeout", "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", 60),
]


def database_from_url(url):
    """Turn a DATABASE_URL (sqlite:///path or postgres://user:pass@host:port/name) into DATABASES["default"]."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        name = path if Path(path).is_absolute() else BASE_DIR / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        options = dict(parse_qsl(parts.query))
        # PostgreSQL's JIT compiler spends more than it saves on these short queries: 1.5 s before the first row
        # of a 100,000-trial export (bench/RESULTS.md). `?options=...` in the URL replaces this.
        options.setdefault("options", "-c jit=off")
        # Timeouts, so that a slow, locked or unreachable server gives an error (a 503 page) instead of requests
        # that hang: `?connect_timeout=` or `-c name=` in the URL's options win over these settings.
        options.setdefault("connect_timeout", str(env_int("DATABASE_CONNECT_TIMEOUT", 5)))
        for name, setting, default in POSTGRES_TIMEOUTS:
            if f"{name}=" not in options["options"]:
                options["options"] += f" -c {name}={env_int(setting, default) * 1000}"
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"DATABASE_URL must start with sqlite:/// or postgres://; got scheme {parts.scheme!r}.")


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env (see .env.example), e.g. "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'). "
            "For local development, `make run` writes a .env for you."
        )
    SECRET_KEY = "development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public address of the site, used for absolute links (e.g. in the CSV export).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "corsheaders",
    "simple_history",
    "axes",
    "mechanisms",
    "trials",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    # CORS headers on the API's answers (CORS_URLS_REGEX), the cached ones too: before every middleware that answers.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Public pages from the cache, keyed by the registry's data version (after sessions, CSRF and auth: it checks
    # whether a page used them). Staff and every non-GET bypass it.
    "trials.page_cache.PageCacheMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Every history record one request writes shares a revision: the trial's history is read one save at a time.
    "trials.models.revisions.RevisionMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trials.feeds.feed_link",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# The cache of the public pages and their counts (trials/page_cache.py, trials/facets.py), keyed by the registry's
# data version, so never stale and needing no expiry; the timeout only frees what old versions left. By default each
# process keeps its own, capped at CACHE_MAX_ENTRIES pages (a page is at most PAGE_CACHE_MAX_BYTES). CACHE_URL
# (redis://host:6379/0, Redis or Valkey) shares one between processes and hosts: give that server a maxmemory and
# `maxmemory-policy allkeys-lru`, which is its cap. CACHE_KEY_PREFIX keeps several sites apart on one server.
CACHE_URL = os.environ.get("CACHE_URL", "").strip()
CACHE_TIMEOUT = env_int("CACHE_TIMEOUT", 24 * 3600)
PAGE_CACHE_MAX_BYTES = env_int("PAGE_CACHE_MAX_BYTES", 512 * 1024)
# On PostgreSQL each process learns of every change of the data version by LISTEN/NOTIFY and keeps it in memory, so
# that a cached page costs no query (trials/version_watch.py); off, every public request reads it (one query).
DATA_VERSION_LISTEN = env_bool("DATA_VERSION_LISTEN", default=True)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "registry"),
            "TIMEOUT": CACHE_TIMEOUT,
        },
        # In front of the shared server, each process keeps the entries it last read (trials/page_cache.py: `get`):
        # an entry's key holds the data version, so a copy is never stale, and a hit costs no round trip.
        "local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": CACHE_TIMEOUT,
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_LOCAL_MAX_ENTRIES", env_int("CACHE_MAX_ENTRIES", 1000))},
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": CACHE_TIMEOUT,
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 1000)},
        }
    }

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
# The registry speaks English alone (no LocaleMiddleware, no translations): without the translation machinery, every
# date, number and text a template shows skips a language lookup: a search page's template took 30-31 ms instead of
# 34-36 at 100,000 trials. The pages' bytes are the same.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Production serves static files with whitenoise from STATIC_ROOT (`manage.py collectstatic`):
# compressed copies and content-hashed names, so they can be cached for ever. Development
# (DEBUG on, and the test suite) serves them from the apps and static/ as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In development whitenoise finds files where runserver does and rereads them on each request.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Production and security -------------------------------------------------------------------
# Safe by default: with DEBUG off, HTTPS is required (redirect, HSTS, secure cookies). Each switch
# can be turned off by the environment, e.g. behind a reverse proxy that terminates TLS and
# redirects to HTTPS itself. `manage.py check --deploy` reports nothing with the defaults.

# Behind a proxy that terminates TLS: trust its X-Forwarded-Proto header (only if the proxy
# always sets it) and, for the sign-in lockout, take the client's address from X-Forwarded-For:
# the TRUSTED_PROXIES-th entry from the end, as that many proxies each append one (default 1;
# config.middleware.client_ip, which falls back to the connection's address if that entry is not an IP).
BEHIND_PROXY = env_bool("BEHIND_PROXY", default=False)
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 1)
if TRUSTED_PROXIES < 1:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES must be 1 or more (proxies in front of gunicorn); got {TRUSTED_PROXIES}."
    )
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer may probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Sent on every response by config.middleware.SecurityHeadersMiddleware: only the site's own
# scripts, styles and images; no inline script or style, no plugins, no framing, forms post here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

# Curators' sessions: they end after SESSION_COOKIE_AGE seconds (default 8 hours) and when the
# browser closes; the cookie is not readable by scripts.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

# The admin's address (default admin/): set ADMIN_URL to move it away from the obvious place.
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

# Sign-in lockout (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one user name from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES. Note: Client.login() in tests
# cannot pass a request to the backend; tests sign in with force_login().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_COOLOFF_MESSAGE = "Too many failed sign-ins: this account is locked for a while. Try again later."
AXES_CLIENT_IP_CALLABLE = "config.middleware.client_ip"
AXES_VERBOSE = False

# ClinicalTrials.gov API v2, for the importer and the daily check (trials/ctgov/client.py): its default is written
# only here; tests point it at 127.0.0.1.
CTGOV_API_URL = os.environ.get("CTGOV_API_URL", "https://clinicaltrials.gov/api/v2").rstrip("/")

# --- The JSON API (/api/v1/, trials/api/) ------------------------------------------------------------------------
# Read-only, JSON only, for anyone: no sign-in, no session, no browsable pages (the pages' cache keys an answer by
# its address and parameters, not by its Accept header). Rate-limited per client address (trials/api/throttling.py):
# API_RATE_LIMIT requests per second, minute, hour or day, e.g. "120/minute".
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "").strip() or "120/minute"
if not re.fullmatch(r"[0-9]+/(second|minute|hour|day)", API_RATE_LIMIT):
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT must be a number of requests per second, minute, hour or day, e.g. 120/minute; "
        f"got {API_RATE_LIMIT!r}."
    )
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": ["trials.api.throttling.ClientRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stem-cell diabetes trials registry API",
    "DESCRIPTION": "Read-only JSON of the registry's published trials of stem-cell therapies for diabetes, with the "
    "filters of /trials/. Every therapy in it is investigational: none is an approved treatment or a cure.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
}
# CORS: any site may read the API with GET (no credentials: it has none to offer).
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
