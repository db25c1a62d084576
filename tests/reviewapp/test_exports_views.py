"""The exports page (admins): start an export, follow it, download it by an expiring link."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.core import signing
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from auditcore import tasks
from auditcore.models import AuditEvent, ExportJob
from auditcore.services.exports import export_job_create, export_job_run
from reviewapp.views.exports import download_url
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(reviewer):
    audit_round = make_round(items=2)
    for item in items_of(audit_round):
        offered_verdict(
            reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info"
        )
    return audit_round


def _finished_job(admin_user, fmt="csv"):
    job = export_job_create(actor=admin_user, fmt=fmt)
    return export_job_run(job_id=job.pk)


def test_only_admins_reach_the_exports_pages(client, reviewer, safety_lead, outsider, admin_user):
    job = _finished_job(admin_user)
    urls = [
        reverse("exports:list"),
        reverse("exports:detail", args=[job.pk]),
        download_url(job),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
    for user in (reviewer, safety_lead, outsider):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, url
        assert client.post(reverse("exports:start"), {"format": "csv"}).status_code == 403
    client.force_login(admin_user)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert ExportJob.objects.count() == 1


def test_the_nav_links_to_exports_for_admins_only(client, safety_lead, admin_user):
    client.force_login(safety_lead)
    assert reverse("exports:list") not in client.get(reverse("home")).content.decode()
    client.force_login(admin_user)
    assert reverse("exports:list") in client.get(reverse("home")).content.decode()


def test_an_admin_starts_an_export_follows_it_and_downloads_it(client, admin_user, labelled):
    client.force_login(admin_user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("exports:start"), {"format": "csv", "round": labelled.pk})
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("exports:detail", args=[job.pk])
    fragment = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "2 of 2 rows" in fragment
    assert "hx-trigger" not in fragment  # finished: the polling stops
    # The link is signed with the time it was made, so take the page's own link: a second
    # boundary between the page and this test would change the signature.
    prefix = download_url(job).rsplit("/", 1)[0] + "/"
    found = re.search(re.escape(prefix) + r'[^"]+', fragment)
    assert found, "the finished export offers no download link"
    download = client.get(found.group().replace("&amp;", "&"))
    body = b"".join(download.streaming_content).decode()
    assert len(body.splitlines()) == 3
    assert download["Content-Disposition"].startswith("attachment")
    event = AuditEvent.objects.get(action="labels.export")
    assert (event.actor, event.after["rows"]) == (admin_user, 2)
    listing = client.get(reverse("exports:list")).content.decode()
    assert job.filename in listing


def test_an_export_in_progress_is_polled(client, admin_user, labelled):
    job = export_job_create(actor=admin_user, fmt="jsonl")
    client.force_login(admin_user)
    fragment = client.get(
        reverse("exports:detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "<progress" in fragment
    assert "0 of 2 rows" in fragment


def test_a_tampered_or_expired_link_does_not_download(client, admin_user, labelled, settings):
    job = _finished_job(admin_user)
    client.force_login(admin_user)
    other = signing.TimestampSigner(salt="reviewapp.exports.download").sign("999")
    assert client.get(reverse("exports:download", args=[job.pk, other])).status_code == 404
    assert client.get(reverse("exports:download", args=[job.pk, "nonsense"])).status_code == 404
    settings.EXPORT_LINK_MINUTES = 0
    assert client.get(download_url(job)).status_code == 404


def test_an_expired_export_is_listed_as_expired_and_the_periodic_sweep_deletes_it(
    client, admin_user, labelled
):
    job = _finished_job(admin_user)
    link = download_url(job)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    client.force_login(admin_user)
    html = client.get(reverse("exports:list")).content.decode()
    detail = client.get(reverse("exports:detail", args=[job.pk])).content.decode()
    # Reading the page deletes nothing; it shows the export expired and offers no file.
    assert Path(job.file_path).is_file()
    assert "Expired" in html
    assert job.filename not in html
    assert "The file expired" in detail
    assert client.get(link).status_code == 404

    assert tasks.export_jobs_expire_scheduled() == 1

    assert not Path(job.file_path).exists()
    job.refresh_from_db()
    assert (job.status, job.file_path) == (ExportJob.Status.EXPIRED, "")


def test_beat_sweeps_expired_exports_every_quarter_hour(settings):
    from reviewapp.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["exports-expire"]
    assert entry["task"] == tasks.export_jobs_expire_scheduled.name
    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {0, 15, 30, 45}


def test_a_bad_format_is_refused_with_the_form(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("exports:start"), {"format": "xlsx"})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


def test_the_list_page_runs_a_fixed_number_of_queries(
    client, admin_user, labelled, django_assert_max_num_queries
):
    for _ in range(5):
        _finished_job(admin_user)
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("exports:list")).status_code == 200
