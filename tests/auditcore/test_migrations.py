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


def _interaction(apps, surface, model, external_id: str, prompt: str, **fields):
    """An unsaved interaction of the migration state's model."""
    when = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    return apps.get_model("auditcore", "Interaction")(
        source="prod",
        external_id=external_id,
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
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_interactions_stored_before_the_digest_existed_get_theirs():
    apps = _migrate(BEFORE)
    try:
        surface = apps.get_model("auditcore", "Surface").objects.create(name="web")
        model = apps.get_model("auditcore", "ModelVersion").objects.create(name="m1")
        prompts = ["How do I dispute a charge?", "how do i DISPUTE a charge", "Kill process 7"]
        # More rows than one batch of the migration, so the batching is exercised too.
        prompts += [f"prompt number {i}" for i in range(2100)]
        apps.get_model("auditcore", "Interaction").objects.bulk_create(
            _interaction(apps, surface, model, f"r{i}", prompt) for i, prompt in enumerate(prompts)
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


@pytest.mark.django_db(transaction=True)
def test_counts_stored_before_the_served_outcome_split_into_served_cells():
    apps = _migrate(AFTER)
    try:
        surface = apps.get_model("auditcore", "Surface").objects.create(name="web")
        model = apps.get_model("auditcore", "ModelVersion").objects.create(name="m1")
        interaction = apps.get_model("auditcore", "Interaction")
        when = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
        actions = ["none"] * 5 + ["blocked"] * 2 + ["replaced"]
        interaction.objects.bulk_create(
            interaction(
                source="prod",
                external_id=f"r{i}",
                occurred_at=when,
                day=when.date(),
                surface_id=surface.pk,
                model_version_id=model.pk,
                prompt=f"p{i}",
                prompt_digest=prompt_digest(f"p{i}"),
                response="ok",
                gateway_action=action,
                impact_weight=float(i + 1),
                category="general",
                response_label="compliance",
                served_label="refusal" if action != "none" else "compliance",
                detector_version="t",
                u=0.5,
                priority_key=0.5,
                stratum_key="k",
            )
            for i, action in enumerate(actions)
        )
        apps.get_model("auditcore", "StratumCount").objects.create(
            day=when.date(),
            surface_id=surface.pk,
            model_version_id=model.pk,
            category="general",
            outcome="compliance",
            count=8,
            impact_sum=36.0,  # 1 + 2 + ... + 8
            impact_sq_sum=204.0,
        )
        apps = _migrate(("auditcore", "0006_round_strata_budget"))
        rows = {
            r.gateway_changed: (r.count, r.impact_sum, r.impact_sq_sum)
            for r in apps.get_model("auditcore", "StratumCount").objects.all()
        }
        # Records 6, 7 and 8 went through a gateway: 6 + 7 + 8 = 21, 36 + 49 + 64 = 149.
        assert rows == {False: (5, 15.0, 55.0), True: (3, 21.0, 149.0)}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("auditcore")[0])


@pytest.mark.django_db(transaction=True)
def test_endpoints_that_named_a_key_variable_lose_the_key_and_say_so(client):
    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    from auditcore import roles

    apps = _migrate(AFTER)
    try:
        endpoint = apps.get_model("auditcore", "Endpoint").objects.create(
            name="prod", base_url="https://api.example.com/v1", model="m", api_key_env="PROD_KEY"
        )
        corpus = apps.get_model("auditcore", "Corpus").objects.create(name="c")
        snapshot = apps.get_model("auditcore", "CorpusSnapshot").objects.create(
            corpus=corpus, prompt_count=0
        )
        run = apps.get_model("auditcore", "ReplayRun").objects.create(
            snapshot=snapshot,
            endpoint=endpoint,
            config={"base_url": "https://api.example.com/v1", "model": "m", "api_key_env": "K"},
        )
        apps = _migrate(("auditcore", "0006_endpoint_encrypted_keys"))
        migrated = apps.get_model("auditcore", "Endpoint").objects.get(pk=endpoint.pk)
        assert (migrated.api_key_encrypted, migrated.legacy_api_key_env) == ("", "PROD_KEY")
        config = apps.get_model("auditcore", "ReplayRun").objects.get(pk=run.pk).config
        assert "api_key_env" not in config
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("auditcore")[0])
    lead = User.objects.create_user("lead", password="x")
    lead.groups.add(Group.objects.get_or_create(name=roles.SAFETY_LEAD)[0])
    client.force_login(lead)
    page = client.get(reverse("replay:endpoints")).content.decode()
    assert "key removed: enter it again" in page
    assert "PROD_KEY" in page


def _search_vectors() -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT prompt, prompt_search::text FROM auditcore_interaction")
        return dict(cursor.fetchall())


def _pending_index_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'interaction_prompt_search_pending'"
        )
        return cursor.fetchone()[0] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search column is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_search_vectors_stored_while_generated_are_kept_new_rows_wait_and_it_reverses():
    generated = ("auditcore", "0019_merge_recategorise_after_reveal")
    filled_later = ("auditcore", "0020_interaction_prompt_search_filled_later")

    def store(apps, external_id: str, prompt: str) -> None:
        surface, _ = apps.get_model("auditcore", "Surface").objects.get_or_create(name="web")
        model, _ = apps.get_model("auditcore", "ModelVersion").objects.get_or_create(name="m1")
        row = _interaction(apps, surface, model, external_id, prompt)
        row.prompt_digest = prompt_digest(prompt)
        row.save()

    try:
        store(_migrate(generated), "before", "Stored while generated")
        assert _search_vectors() == {"Stored while generated": "'generated':3 'stored':1 'while':2"}
        store(_migrate(filled_later), "after", "Stored after")
        assert _search_vectors() == {
            "Stored while generated": "'generated':3 'stored':1 'while':2",
            "Stored after": None,
        }
        assert _pending_index_exists()
        _migrate(generated)
        assert _search_vectors()["Stored after"] == "'after':2 'stored':1"
        assert not _pending_index_exists()
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("auditcore")[0])


def _search_index_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'interaction_prompt_search'"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search column is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_search_index_leaves_out_the_vectors_not_yet_filled_and_it_reverses():
    whole = ("auditcore", "0020_interaction_prompt_search_filled_later")
    partial = ("auditcore", "0021_interaction_prompt_search_partial_gin")
    try:
        _migrate(whole)
        assert "WHERE" not in _search_index_definition()
        _migrate(partial)
        assert _search_index_definition().endswith("WHERE (prompt_search IS NOT NULL)")
        _migrate(whole)
        assert "WHERE" not in _search_index_definition()
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("auditcore")[0])
