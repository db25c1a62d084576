"""Login and API-token throttles: one count per person whatever the spelling, per address across
usernames, and shared by every process of the deployment."""

import os
import subprocess
import sys
import uuid

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from django.urls import reverse

from auditcore import roles
from auditcore.exceptions import ApplicationError
from auditcore.services.users import user_create
from tests.conftest import ROOT
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

# NFKC-equivalent spellings of "alice" that Django's login form folds to the same account.
SPELLINGS = ["ａｌｉｃｅ", "𝐚𝐥𝐢𝐜𝐞", "ＡＬＩＣＥ", "Alice", " alice"]


def _login(client, password, username="alice", ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_a_locked_username_stays_locked_under_every_compatible_spelling(client, reviewer):
    for _ in range(5):
        _login(client, "wrong")
    for spelling in SPELLINGS:
        response = _login(Client(), PASSWORD, username=spelling)
        assert response.status_code == 429, spelling
    assert _login(Client(), PASSWORD, ip="10.0.0.2").status_code == 302


def test_failures_under_different_spellings_add_up(client, reviewer):
    for spelling in SPELLINGS:
        _login(client, "wrong", username=spelling)
    assert _login(Client(), PASSWORD).status_code == 429


def test_one_address_is_limited_across_usernames(client, reviewer, settings):
    settings.LOGIN_THROTTLE_ADDRESS_FAILURES = 10
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
    answers = [
        _login(client, "wrong", username=names[i % len(names)]).status_code for i in range(10)
    ]
    assert answers[:9] == [200] * 9
    assert answers[9] == 429
    # Locked for this address, right password or not; another address is not affected.
    response = _login(Client(), PASSWORD)
    assert response.status_code == 429
    assert "from your address" in response.content.decode()
    assert _login(Client(), PASSWORD, ip="10.0.0.9").status_code == 302


def test_the_cache_is_shared_by_every_process():
    cache = caches["default"]
    assert not isinstance(cache, LocMemCache)
    expected = "RedisCache" if os.environ.get("REDIS_URL") else "DatabaseCache"
    assert type(cache).__name__ == expected


_TOKEN_GUESSES = """
import os, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, run_syncdb=True) if sys.argv[2] == "setup" else None
call_command("createcachetable", verbosity=0)
from django.test import Client
client = Client()
codes = [
    client.get("/api/v1/rounds", HTTP_AUTHORIZATION="Bearer ra_wrong", REMOTE_ADDR=sys.argv[1])
    .status_code
    for _ in range(int(sys.argv[3]))
]
print(" ".join(map(str, codes)))
"""


def _guess_in_a_new_process(database: str, address: str, step: str, guesses: int) -> list[int]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _TOKEN_GUESSES, address, step, str(guesses)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [int(code) for code in done.stdout.split()]


def test_token_failures_are_counted_across_processes(tmp_path, settings):
    # Two web processes (two interpreters) answering the same client: together they allow no
    # more bad tokens than the 20/min limit, instead of 20 each.
    database = tmp_path / "shared.sqlite3"
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    first = _guess_in_a_new_process(database, address, "setup", 15)
    second = _guess_in_a_new_process(database, address, "again", 15)
    assert first == [401] * 15
    assert second == [401] * 5 + [429] * 10


def test_usernames_are_normalised_at_creation_and_cannot_differ_only_by_form(db):
    user = user_create(username="ｂｏｂ", role=roles.REVIEWER, password=PASSWORD)
    assert user.username == "bob"
    for twin in ("BOB", "𝐛𝐨𝐛", "Ｂｏｂ"):
        with pytest.raises(ApplicationError, match="already exists") as failure:
            user_create(username=twin, role=roles.REVIEWER, password=PASSWORD)
        assert failure.value.extra["field"] == "username"
