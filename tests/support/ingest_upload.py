"""Uploading a log file on the ingest page, the job run as a worker would on commit."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from tests.paths import FIXTURES


def upload(client, name="sample_with_errors.jsonl", **data):
    payload = (FIXTURES / "logs" / name).read_bytes()
    # The job is enqueued on commit and, in tests, runs eagerly when the callbacks execute.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("ingest:upload"),
            {"file": SimpleUploadedFile(name, payload), "source": "web", "format": "auto", **data},
        )
