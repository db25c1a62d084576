"""A stored replay set-up without a model call: corpus, endpoint, one queued run, a FAIL gate."""

from dataclasses import dataclass

from auditcore.models import Corpus, CorpusPrompt, Endpoint, GateDecision, ReplayRun
from auditcore.services import replay as replay_svc


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
    decision = GateDecision.objects.create(
        baseline=run, candidate=run, k=1, n00=0, n01=1, n10=0, n11=0,
        delta=1, lower=0, upper=1, p_value=0.5, outcome=GateDecision.Outcome.FAIL,
    )  # fmt: skip
    return StoredReplay(corpus, added, endpoint, run, decision)
