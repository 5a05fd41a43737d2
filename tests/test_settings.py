"""Settings as production sees them: each case runs in a fresh interpreter with its own environment.

The real environment variables win over .env (see config/settings.py), so every variable a case
cares about is set explicitly, even to "" (which means "not set" to the settings' helpers).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "registry.example.org",
    "DATABASE_URL": "postgres://registry:secret@db.example.org:5432/registry",
}
SWITCHES = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "BEHIND_PROXY",
    "TRUSTED_PROXIES",
    "ADMIN_URL",
    "SESSION_COOKIE_AGE",
]


def run(args, **env):
    environment = {key: value for key, value in os.environ.items() if key not in PRODUCTION and key not in SWITCHES}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "CI": "", **env})
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


def settings_in(names, **env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}, default=str))"
    )
    result = run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_nothing_in_production():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_defaults_are_safe():
    values = settings_in(
        [
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_PROXY_SSL_HEADER",
            "SESSION_COOKIE_AGE",
            "SESSION_EXPIRE_AT_BROWSER_CLOSE",
            "X_FRAME_OPTIONS",
            "SECURE_REFERRER_POLICY",
            "STORAGES",
        ],
        **PRODUCTION,
    )
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # only trusted when told the proxy sets it
    assert values["SESSION_COOKIE_AGE"] == 8 * 3600 and values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY" and values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_debug_is_off_unless_asked_for():
    assert settings_in(["DEBUG"], **{**PRODUCTION, "DEBUG": ""})["DEBUG"] is False


def test_a_proxy_that_terminates_tls_can_switch_each_https_setting_off():
    values = settings_in(
        [
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_PROXY_SSL_HEADER",
        ],
        **PRODUCTION,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="off",
        BEHIND_PROXY="1",
    )
    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_a_missing_secret_key_fails_loudly_outside_debug():
    result = run(["manage.py", "check"], **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_malformed_switch_fails_loudly():
    result = run(["manage.py", "check"], **PRODUCTION, SECURE_SSL_REDIRECT="maybe")
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT must be one of" in result.stderr


def test_a_proxy_count_below_one_fails_loudly():
    result = run(["manage.py", "check"], **PRODUCTION, BEHIND_PROXY="1", TRUSTED_PROXIES="0")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES must be 1 or more" in result.stderr


def test_the_admin_address_is_set_by_the_environment():
    code = "import django; django.setup(); from django.urls import reverse; print(reverse('admin:index'))"
    result = run(["-c", code], **PRODUCTION, ADMIN_URL="/curators-7f3a/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/curators-7f3a/"


def test_session_length_is_set_by_the_environment():
    assert settings_in(["SESSION_COOKIE_AGE"], **PRODUCTION, SESSION_COOKIE_AGE="1800")["SESSION_COOKIE_AGE"] == 1800
