"""An admin uploads a log file, watches its progress bar, opens the quarantine list, and
downloads an export."""

import json

from django.urls import reverse

from auditcore.models import IngestJob, Interaction
from tests.support.review_round import make_round


def _log(path, good: int, bad: int) -> None:
    lines = [
        json.dumps(
            {
                "id": f"adm-{i}",
                "timestamp": "2026-11-02T09:00:00Z",
                "surface": "web",
                "model": "acme-chat",
                "prompt": f"How do I reset my password? ({i})",
                "response": "Open Settings, then Security, then Reset password.",
            }
        )
        for i in range(good)
    ]
    lines += [f'{{"id": "broken-{i}", "prompt": ' for i in range(bad)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_admin_uploads_a_log_watches_it_and_downloads_an_export(
    page, login_as, screenshot, admin_user, tmp_path
):
    _log(tmp_path / "traffic.jsonl", good=40, bad=3)
    make_round(items=2)
    login_as(page, admin_user)
    page.goto(reverse("ingest:list"))
    screenshot(page, "01-ingest-list")
    page.set_input_files("input[type=file]", str(tmp_path / "traffic.jsonl"))
    page.fill("input[name=source]", "admin-upload")
    page.click("form[action$='/ingest/upload'] button[type=submit]")
    page.wait_for_url("**/ingest/*/")
    # The progress bar is a <progress> element that fills to its max when the job is done.
    bar = page.locator("#job-progress-bar")
    bar.wait_for()
    page.wait_for_function(
        "() => { const b = document.getElementById('job-progress-bar');"
        " return b && Number(b.value) === Number(b.max); }",
        timeout=30_000,
    )
    screenshot(page, "02-job-progress")
    job = IngestJob.objects.get(source="admin-upload")
    assert job.status == IngestJob.Status.SUCCEEDED
    assert (job.inserted, job.rejected) == (40, 3)
    assert Interaction.objects.filter(source="admin-upload").count() == 40
    assert page.locator("#count-rejected").inner_text().strip() == "3"

    # The quarantine list names each broken line; the CSV downloads.
    rows = page.locator("#quarantine tbody tr")
    assert rows.count() == 3
    assert "broken-0" in page.locator("#quarantine").inner_text()
    screenshot(page, "03-quarantine")
    with page.expect_download() as download_info:
        page.click("a[href$='quarantine.csv']")
    csv_path = tmp_path / "quarantine.csv"
    download_info.value.save_as(csv_path)
    assert csv_path.read_text().count("broken-") == 3

    # An export of the labels, downloaded from its page.
    page.goto(reverse("exports:list"))
    screenshot(page, "04-exports")
    page.click("form[action$='/exports/start'] button[type=submit]")
    page.wait_for_url("**/exports/*/")
    link = page.locator("a[download]").first
    link.wait_for(timeout=30_000)
    screenshot(page, "05-export-ready")
    with page.expect_download() as download_info:
        link.click()
    export_path = tmp_path / "export.bin"
    download_info.value.save_as(export_path)
    assert export_path.stat().st_size > 0
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
