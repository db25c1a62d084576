"""/healthz reports the database, the broker and a worker, with a real round trip."""

import os

import pytest
from django.urls import reverse

from tests.conftest import wait_until


@pytest.mark.django_db
def test_it_answers_503_and_names_the_worker_when_no_worker_runs(client, settings):
    from celery import current_app

    current_app.conf.task_always_eager = False
    try:
        response = client.get(reverse("healthz"))
    finally:
        current_app.conf.task_always_eager = True
    body = response.json()
    assert response.status_code == 503
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["worker"]["ok"] is False
    assert "no worker answered" in body["worker"]["detail"]


@pytest.mark.services
def test_it_answers_200_with_a_real_worker_running(client, celery_worker_process, settings):
    # Redis and PostgreSQL in CI; the filesystem broker elsewhere: a real worker either way.
    settings.HEALTH_TIMEOUT_SECONDS = 2.0
    assert wait_until(lambda: client.get(reverse("healthz")).status_code == 200, timeout=60)
    body = client.get(reverse("healthz")).json()
    assert body == {
        "ok": True,
        "database": {"ok": True, "detail": "ok"},
        "broker": {"ok": True, "detail": "ok"},
        "worker": {"ok": True, "detail": "ok"},
    }
    if os.environ.get("CI"):
        assert settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.mark.django_db
def test_it_reports_the_broker_down_without_hanging(client, settings, monkeypatch):
    from celery import current_app

    monkeypatch.setattr(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    current_app.conf.task_always_eager = False
    try:
        response = client.get(reverse("healthz"))
    finally:
        current_app.conf.task_always_eager = True
    body = response.json()
    assert response.status_code == 503
    assert body["broker"]["ok"] is False
    assert body["worker"] == {"ok": False, "detail": "broker down"}
