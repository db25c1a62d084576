"""Ingest in the browser: upload, the job page and its progress fragment, the quarantine."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from auditcore.models import IngestJob, Interaction
from tests.support.ingest_upload import upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["ingest:list"])
def test_reviewers_and_outsiders_get_403_and_anonymous_users_the_login_page(
    client, reviewer, outsider, url
):
    assert client.get(reverse(url)).status_code == 302
    for user in (reviewer, outsider):
        client.force_login(user)
        assert client.get(reverse(url)).status_code == 403


def test_a_reviewer_cannot_upload_or_read_a_job(client, reviewer, safety_lead):
    client.force_login(safety_lead)
    upload(client)
    job = IngestJob.objects.get()
    client.force_login(reviewer)
    assert upload(client).status_code == 403
    assert client.get(reverse("ingest:job", args=[job.pk])).status_code == 403
    assert client.get(reverse("ingest:quarantine_csv", args=[job.pk])).status_code == 403
    assert IngestJob.objects.count() == 1


def test_a_safety_lead_uploads_a_file_and_lands_on_its_finished_job(client, safety_lead):
    client.force_login(safety_lead)
    response = upload(client)
    job = IngestJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ingest:job", args=[job.pk])
    # Tasks run eagerly in tests, so the job has finished by now.
    page = client.get(response["Location"]).content.decode()
    assert "Succeeded" in page
    assert job.inserted == Interaction.objects.count() == 2
    assert "timestamp must include a timezone" in page
    assert "invalid UTF-8" in page


def test_the_job_list_shows_recent_jobs_with_counts(client, admin_user):
    client.force_login(admin_user)
    upload(client)
    page = client.get(reverse("ingest:list")).content.decode()
    assert "sample_with_errors.jsonl" in page
    assert "Upload a log file" in page


def test_the_progress_fragment_alone_is_sent_to_htmx_and_polls_while_running(client, safety_lead):
    client.force_login(safety_lead)
    job = IngestJob.objects.create(source="s", origin="upload", status="running", total_bytes=100)
    IngestJob.objects.filter(pk=job.pk).update(bytes_done=40, received=12)
    fragment = client.get(reverse("ingest:job", args=[job.pk]), headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'id="job-progress"' in body
    assert 'hx-trigger="every 1s"' in body
    assert 'value="400"' in body
    IngestJob.objects.filter(pk=job.pk).update(status="succeeded")
    finished = client.get(reverse("ingest:job", args=[job.pk]), headers={"HX-Request": "true"})
    assert "hx-trigger" not in finished.content.decode()


def test_the_quarantine_downloads_as_csv(client, safety_lead):
    client.force_login(safety_lead)
    upload(client)
    job = IngestJob.objects.get()
    response = client.get(reverse("ingest:quarantine_csv", args=[job.pk]))
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    lines = body.strip().splitlines()
    assert lines[0] == "line,field,reason,excerpt"
    assert len(lines) - 1 == job.rejected == 6


def test_a_file_of_the_wrong_type_is_refused_with_a_reason(client, safety_lead):
    client.force_login(safety_lead)
    response = client.post(
        reverse("ingest:upload"),
        {"file": SimpleUploadedFile("evil.exe", b"MZ"), "source": "web", "format": "auto"},
    )
    assert response.status_code == 400
    assert "The file must be JSONL, CSV or an OpenAI log" in response.content.decode()
    assert not IngestJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client, safety_lead, settings):
    settings.INGEST_MAX_UPLOAD_MB = 0
    client.force_login(safety_lead)
    response = upload(client)
    assert response.status_code == 400
    assert "the limit is 0 MB" in response.content.decode()


def test_hostile_text_in_the_quarantine_is_escaped(client, safety_lead, tmp_path):
    client.force_login(safety_lead)
    payload = (
        b'{"id": "x", "timestamp": "2026-11-20T12:00:00", "prompt": "<script>alert(1)</script>"}\n'
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("ingest:upload"),
            {"file": SimpleUploadedFile("h.jsonl", payload), "source": "web", "format": "auto"},
        )
    page = client.get(response["Location"]).content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
