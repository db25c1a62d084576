"""A stored replay set-up without a model call: corpus, endpoint, one queued run, a FAIL gate."""

from dataclasses import dataclass

from auditcore.models import Corpus, CorpusPrompt, Endpoint, GateDecision, ReplayRun
from auditcore.services import replay as replay_svc
from tests.factories import GateDecisionFactory


@dataclass(frozen=True)
class StoredReplay:
    corpus: Corpus
    prompt: CorpusPrompt
    endpoint: Endpoint
    run: ReplayRun
    decision: GateDecision


def stored_replay(*, actor, corpus_name: str, prompt: str, endpoint_name: str) -> StoredReplay:
    """The run is only queued (nothing is sent); the decision compares it with itself."""
    corpus = replay_svc.corpus_create(actor=actor, name=corpus_name)
    added = replay_svc.corpus_prompt_add(actor=actor, corpus_id=corpus.pk, prompt=prompt)
    endpoint = replay_svc.endpoint_create(
        actor=actor, name=endpoint_name, base_url="http://127.0.0.1:9/v1", model="m"
    )
    run = replay_svc.replay_run_create(actor=actor, corpus_id=corpus.pk, endpoint_id=endpoint.pk)
    decision = GateDecisionFactory(baseline=run)
    return StoredReplay(corpus, added, endpoint, run, decision)
