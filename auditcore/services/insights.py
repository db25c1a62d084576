"""Writes of the policy insights: replaying a rewritten category's corpus prompts."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from auditcore import roles
from auditcore.exceptions import ApplicationError
from auditcore.models import (
    Corpus,
    CorpusPrompt,
    Endpoint,
    PolicyVersion,
    ReplayRun,
)
from auditcore.selectors.insights import CATEGORY_REPLAY
from auditcore.services.audit import audit_event_record
from auditcore.services.replay import replay_run_create_for_snapshot, snapshot_freeze


@transaction.atomic
def category_replay_start(
    *,
    actor: AbstractBaseUser | None,
    version: PolicyVersion,
    category: str,
    corpus_id: int,
    baseline_endpoint_id: int,
    candidate_endpoint_id: int,
) -> tuple[ReplayRun, ReplayRun]:
    """Freeze the corpus's active prompts of one category and queue a baseline and a candidate run.

    The two runs replay the same snapshot, so a gate decision can pair them; the event recorded
    on the policy version lets its before/after page find them.
    """
    if actor is not None and not roles.is_safety_lead(actor):
        raise ApplicationError("Only a safety lead may replay corpora.")
    if not version.is_published:
        raise ApplicationError(
            "policy_version: only a published version's rewrite can be replayed",
            {"field": "policy_version"},
        )
    if baseline_endpoint_id == candidate_endpoint_id:
        raise ApplicationError(
            "candidate: choose an endpoint other than the baseline", {"field": "candidate"}
        )
    corpus = Corpus.objects.select_for_update().get(pk=corpus_id)
    baseline = Endpoint.objects.get(pk=baseline_endpoint_id)
    candidate = Endpoint.objects.get(pk=candidate_endpoint_id)
    prompts = list(
        CorpusPrompt.objects.filter(corpus=corpus, active=True, category=category).order_by("id")
    )
    if not prompts:
        raise ApplicationError(
            f"corpus: {corpus.name!r} has no active prompts of {category!r}", {"field": "corpus"}
        )
    snapshot = snapshot_freeze(actor=actor, corpus=corpus, prompts=prompts)
    runs = (
        replay_run_create_for_snapshot(actor=actor, snapshot=snapshot, endpoint=baseline),
        replay_run_create_for_snapshot(actor=actor, snapshot=snapshot, endpoint=candidate),
    )
    audit_event_record(
        actor=actor,
        action=CATEGORY_REPLAY,
        obj=version,
        after={
            "category": category,
            "corpus": corpus.pk,
            "snapshot": snapshot.pk,
            "baseline_run": runs[0].pk,
            "candidate_run": runs[1].pk,
        },
    )
    return runs
