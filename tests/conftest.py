"""Fixtures shared by every test: the three roles, an outsider, and a real Celery worker."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import (
    AdminFactory,
    ReviewerFactory,
    SafetyLeadFactory,
    UserFactory,
    ViewerFactory,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def reviewer(db):
    return ReviewerFactory(username="alice")


@pytest.fixture
def second_reviewer(db):
    return ReviewerFactory(username="anna")


@pytest.fixture
def safety_lead(db):
    return SafetyLeadFactory(username="bob")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="carol")


@pytest.fixture
def viewer(db):
    """Reads the dashboard, trends and gate decisions; changes nothing."""
    return ViewerFactory(username="vera")


@pytest.fixture
def outsider(db):
    """Logged in, but with no role at all."""
    return UserFactory(username="charlie")


@pytest.fixture(autouse=True)
def _own_cache_keys(request):
    """With Redis as the cache, each test counts throttles under its own keys: Redis, unlike the
    database cache, keeps them after the test's transaction is rolled back."""
    if not settings.REDIS_URL:
        yield
        return
    settings_fixture = request.getfixturevalue("settings")
    default = {**settings.CACHES["default"], "KEY_PREFIX": uuid.uuid4().hex}
    settings_fixture.CACHES = {**settings.CACHES, "default": default}
    yield


def services_available() -> bool:
    return bool(settings.REDIS_URL) and connection.vendor == "postgresql"


def require_services() -> None:
    """Skip where PostgreSQL and Redis are not configured, but never in CI."""
    if services_available():
        return
    if os.environ.get("CI"):
        pytest.fail("CI is set but DATABASE_URL (PostgreSQL) and REDIS_URL are not both configured")
    pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")


def worker_env() -> dict[str, str]:
    """The environment a worker needs to share this test run's database and broker."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "reviewapp.settings"
    env["SECRET_KEY"] = os.environ["SECRET_KEY"]
    env["DATA_DIR"] = str(settings.DATA_DIR)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or "root"
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    else:
        # An in-memory SQLite test database cannot be shared; such workers touch no tables.
        env.pop("DATABASE_URL", None)
    return env


class WorkerProcess:
    def __init__(self, concurrency: int = 1, env: dict[str, str] | None = None) -> None:
        self.concurrency = concurrency
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewapp",
                "worker",
                "--loglevel",
                "warning",
                "--concurrency",
                str(self.concurrency),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env={**worker_env(), **self.env},
            stdout=subprocess.DEVNULL,
            stderr=self._log(),
            # Its own process group, so a test can kill the worker and its children at once.
            start_new_session=True,
        )

    def _log(self):
        """The worker's log, kept beside the test run's data for when a test fails."""
        path = Path(settings.DATA_DIR) / f"worker-{time.time_ns()}.log"
        self.log_path = path
        return open(path, "wb")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crashed machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker in its own process, sharing the test database and broker."""
    from celery import current_app

    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    worker = WorkerProcess()
    worker.start()
    yield worker
    worker.stop()
    current_app.conf.task_always_eager = eager


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def failed_gate(safety_lead):
    """A recorded FAIL: the candidate refuses a fifth of 200 must-help prompts."""
    from auditcore.models import GateDecision
    from tests.support.replay_data import gate_on

    decision = gate_on(safety_lead, "helpful", "refuses:0.2")
    assert decision.outcome == GateDecision.Outcome.FAIL
    return decision
