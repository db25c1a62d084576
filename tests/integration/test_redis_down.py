"""Redis stopped under a running app: the review queue still serves, pages that need the workers
answer quickly with a clear banner instead of hanging, and /healthz says what is down.

Uses a private redis-server on a free port and a private gunicorn with a file SQLite database,
so the shared Redis on 6379 is never touched.
"""

import time

import httpx
import pytest

from tests.factories import PASSWORD
from tests.integration.live import AppServer, RedisServer, app_env, manage


@pytest.fixture
def stack(tmp_path):
    redis = RedisServer()
    redis.start()
    env = app_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}", REDIS_URL=redis.url)
    manage(env, "migrate", "--noinput")
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    for username, role in (("alice", "reviewer"), ("bob", "safety_lead")):
        manage(env, "create_user", username, "--role", role, "--password-file", str(password_file))
    server = AppServer(env)
    server.start()
    yield server, redis
    server.stop()
    redis.kill()


def _timed(client: httpx.Client, method: str, path: str, **kwargs):
    start = time.monotonic()
    response = client.request(method, path, **kwargs)
    return response, time.monotonic() - start


def test_with_redis_down_the_queue_serves_and_background_pages_say_so(stack, tmp_path):
    server, redis = stack
    alice = server.client("alice")
    bob = server.client("bob")
    assert alice.get("/review/").status_code == 200
    health = httpx.get(f"{server.url}/healthz", timeout=10).json()
    assert health["broker"]["ok"] is True

    redis.kill()

    # Pages that need no background work still serve, quickly.
    response, seconds = _timed(alice, "GET", "/review/")
    assert response.status_code == 200 and seconds < 5
    assert "Your queue is empty" in response.text
    response, seconds = _timed(bob, "GET", "/rounds/")
    assert response.status_code == 200 and seconds < 5

    # /healthz: 503, naming the broker (and so the workers) as down, the database as fine.
    response, seconds = _timed(httpx.Client(base_url=server.url, timeout=15), "GET", "/healthz")
    assert response.status_code == 503 and seconds < 5
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False and "broker" in body["broker"]["detail"]
    assert body["worker"]["ok"] is False

    # An upload needs a worker: answered fast, with a banner saying the workers are unreachable.
    (tmp_path / "log.jsonl").write_text('{"id": "1"}\n')
    with open(tmp_path / "log.jsonl", "rb") as handle:
        response, seconds = _timed(
            bob,
            "POST",
            "/ingest/upload",
            data={"source": "s", "format": "auto", "csrfmiddlewaretoken": bob.cookies["csrftoken"]},
            files={"file": ("log.jsonl", handle)},
            headers={"Referer": f"{server.url}/ingest/"},
            follow_redirects=True,
        )
    assert seconds < 10, f"the upload hung for {seconds:.1f}s with Redis down"
    assert response.status_code == 503 and response.headers["X-Banner"] == "workers-down"
    assert "background workers cannot be reached" in response.text
