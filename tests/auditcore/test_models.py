"""The data model's constraints hold in the database itself."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from auditcore.models import IngestJob, Interaction
from tests.factories import InteractionFactory, ModelVersionFactory, SurfaceFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _interaction(**overrides) -> Interaction:
    fields = {
        "source": "prod",
        "external_id": "req_1",
        "occurred_at": WHEN,
        "day": WHEN.date(),
        "surface": SurfaceFactory(name="support-chat"),
        "model_version": ModelVersionFactory(name="acme-chat-2026-10"),
        "prompt": "How do I dispute a charge?",
        "response": "I can't give financial advice.",
        "category": "financial",
        **overrides,
    }
    return InteractionFactory(**fields)


def test_the_same_source_and_external_id_cannot_be_stored_twice():
    _interaction()
    with pytest.raises(IntegrityError), transaction.atomic():
        _interaction()


def test_the_same_external_id_from_another_source_is_a_different_record():
    _interaction()
    _interaction(source="staging")
    assert Interaction.objects.count() == 2


def test_an_impact_weight_of_zero_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        _interaction(impact_weight=0)


def test_an_interaction_without_its_prompt_digest_is_refused_by_the_database():
    # A row missing from the consistency report's "same prompt" groups must not go in silently.
    for digest in (b"", b"short"):
        with pytest.raises(IntegrityError), transaction.atomic():
            _interaction(prompt_digest=digest)


def test_a_surface_or_model_version_in_use_cannot_be_deleted():
    # Interaction keeps no database FK constraints (bulk ingest); Django still protects them.
    interaction = _interaction()
    with pytest.raises(ProtectedError):
        interaction.surface.delete()
    with pytest.raises(ProtectedError):
        interaction.model_version.delete()
    assert Interaction.objects.count() == 1


def test_deleting_an_ingest_job_keeps_its_interactions():
    job = IngestJob.objects.create(source="prod", origin="command", file_path="/x.jsonl")
    interaction = _interaction(ingest_job=job)
    job.delete()
    interaction.refresh_from_db()
    assert interaction.ingest_job_id is None
