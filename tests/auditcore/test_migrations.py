"""Data migrations: rows stored before a migration come out of it complete."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from auditcore.consistency import prompt_digest

BEFORE = ("auditcore", "0004_export_job_lease")
AFTER = ("auditcore", "0005_interaction_prompt_digest")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_interactions_stored_before_the_digest_existed_get_theirs():
    apps = _migrate(BEFORE)
    try:
        surface = apps.get_model("auditcore", "Surface").objects.create(name="web")
        model = apps.get_model("auditcore", "ModelVersion").objects.create(name="m1")
        interaction = apps.get_model("auditcore", "Interaction")
        when = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
        prompts = ["How do I dispute a charge?", "how do i DISPUTE a charge", "Kill process 7"]
        # More rows than one batch of the migration, so the batching is exercised too.
        prompts += [f"prompt number {i}" for i in range(2100)]
        interaction.objects.bulk_create(
            interaction(
                source="prod",
                external_id=f"r{i}",
                occurred_at=when,
                day=when.date(),
                surface_id=surface.pk,
                model_version_id=model.pk,
                prompt=prompt,
                response="ok",
                category="general",
                response_label="compliance",
                served_label="compliance",
                detector_version="t",
                u=0.5,
                priority_key=0.5,
                stratum_key="k",
            )
            for i, prompt in enumerate(prompts)
        )
        apps = _migrate(AFTER)
        stored = dict(
            apps.get_model("auditcore", "Interaction").objects.values_list(
                "prompt", "prompt_digest"
            )
        )
        assert len(stored) == len(prompts)
        assert all(bytes(stored[p]) == prompt_digest(p) for p in prompts)
        assert stored[prompts[0]] == stored[prompts[1]] != stored[prompts[2]]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("auditcore")[0])
