"""Settings come from the environment and a bad value stops start-up, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewapp import env

ROOT = Path(__file__).resolve().parents[2]


def _check(**overrides: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    environ["DJANGO_SETTINGS_MODULE"] = "reviewapp.settings"
    environ.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _check()
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_it_starts_without_a_secret_key_in_debug():
    result = _check(DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_it_names_the_variable_when_debug_is_not_a_boolean():
    result = _check(DEBUG="maybe", SECRET_KEY="x")
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_it_rejects_a_database_url_of_an_unsupported_kind():
    result = _check(DEBUG="1", DATABASE_URL="mysql://root@localhost/test")
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL starting with one of" in result.stderr


def test_secure_cookies_and_hsts_are_on_when_debug_is_off(settings):
    # The test settings run with DEBUG off, as production does.
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SECURE_HSTS_SECONDS >= 31536000


def test_without_database_url_or_redis_url_the_embedded_defaults_are_used():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    )
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    environ.update(DJANGO_SETTINGS_MODULE="reviewapp.settings", DEBUG="1")
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda: env.env_int("X_INT", 1), "ten", "X_INT must be a whole number"),
        (lambda: env.env_int("X_INT", 1, minimum=5), "2", "X_INT must be at least 5"),
        (lambda: env.env_float("X_INT", 1.0), "fast", "X_INT must be a number"),
        (lambda: env.env_bool("X_INT"), "perhaps", "X_INT must be one of"),
        (lambda: env.env_url("X_INT", ("redis",)), "http://x", "X_INT must be a URL"),
    ],
)
def test_env_readers_name_the_variable_and_the_reason(monkeypatch, reader, value, message):
    monkeypatch.setenv("X_INT", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def test_env_readers_parse_good_values(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_BOOL", "Yes")
    assert env.env_list("X_LIST", []) == ["a", "b", "c"]
    assert env.env_bool("X_BOOL") is True
    assert env.env_int("X_MISSING", 7) == 7
