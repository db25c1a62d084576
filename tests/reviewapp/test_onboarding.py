"""Onboarding: Ingest in the navigation, the record format and a sample file on the upload page,
a live quarantine list, and /admin/ answering non-staff with the app's 403 page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from auditcore.ingest.validation import KNOWN_FIELDS
from auditcore.models import IngestJob, Interaction
from reviewapp.views.ingest import FIELD_HELP
from tests.support.ingest_upload import upload

pytestmark = pytest.mark.django_db


def test_ingest_is_in_the_navigation_for_leads_and_admins_only(
    client, reviewer, safety_lead, admin_user
):
    link = f'<a href="{reverse("ingest:list")}">Ingest</a>'
    for user, shown in ((reviewer, False), (safety_lead, True), (admin_user, True)):
        client.force_login(user)
        assert (link in client.get(reverse("home")).content.decode()) is shown, user


def test_the_upload_page_documents_every_field_the_validator_knows(client, safety_lead):
    assert set(FIELD_HELP) == KNOWN_FIELDS
    client.force_login(safety_lead)
    html = client.get(reverse("ingest:list")).content.decode()
    table = html.split('id="record-fields"', 1)[1].split("</table>", 1)[0]
    assert {name for name in KNOWN_FIELDS if f"<code>{name}</code>" in table} == KNOWN_FIELDS
    assert reverse("ingest:sample") in html


def test_the_sample_file_downloads_and_ingests_without_a_rejection(client, safety_lead):
    client.force_login(safety_lead)
    response = client.get(reverse("ingest:sample"))
    assert response["Content-Disposition"] == 'attachment; filename="refusal-audit-sample.jsonl"'
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("ingest:upload"),
            {
                "file": SimpleUploadedFile("sample.jsonl", response.content),
                "source": "web",
                "format": "auto",
            },
        )
    job = IngestJob.objects.get()
    assert (job.status, job.inserted, job.rejected) == ("succeeded", 2, 0)
    assert Interaction.objects.filter(external_id__startswith="sample-").count() == 2


def test_the_polled_progress_carries_the_quarantine_list(client, safety_lead):
    client.force_login(safety_lead)
    upload(client)
    job = IngestJob.objects.get()
    fragment = client.get(
        reverse("ingest:job", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert 'id="count-rejected"' in fragment and 'id="quarantine"' in fragment
    assert "timestamp must include a timezone" in fragment


def test_admin_answers_non_staff_with_the_apps_403_page(client, reviewer, safety_lead, admin_user):
    for user in (reviewer, safety_lead):
        client.force_login(user)
        for url in ("/admin/", "/admin/auditcore/"):
            response = client.get(url)
            assert response.status_code == 403, (user, url)
            assert "Your role does not give access to this page" in response.content.decode()
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    client.logout()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
