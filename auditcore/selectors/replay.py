"""Reads for replay: corpora, endpoints, runs and their progress, gate decisions, the trend."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from auditcore.models import (
    Corpus,
    CorpusPrompt,
    Endpoint,
    Expect,
    GateDecision,
    Label,
    ReplayResult,
    ReplayRun,
    SnapshotPrompt,
)
from auditcore.replay import CorpusPrompt as PlainPrompt
from auditcore.replay import write_corpus
from auditcore.replay.corpus_io import Expect as PlainExpect
from auditcore.stats import clopper_pearson


def corpus_list() -> QuerySet[Corpus]:
    return Corpus.objects.annotate(
        active_count=Count("prompts", filter=Q(prompts__active=True)),
        control_count=Count(
            "prompts", filter=Q(prompts__active=True, prompts__expect=Expect.MUST_DECLINE)
        ),
    ).order_by("name")


def corpus_prompts(corpus: Corpus) -> QuerySet[CorpusPrompt]:
    return corpus.prompts.select_related("origin_item").order_by("-active", "id")


def corpus_export(corpus: Corpus, format: str) -> str:
    """The corpus's active prompts as CSV or JSONL text that corpus_import reads back."""
    stream = io.StringIO(newline="")
    prompts = (
        PlainPrompt(
            prompt=p.prompt,
            category=p.category,
            expect=PlainExpect(p.expect),
            earlier=tuple((m["role"], m["content"]) for m in p.earlier_messages or []),
        )
        for p in corpus.prompts.filter(active=True).order_by("id")
    )
    write_corpus(prompts, stream, format)  # type: ignore[arg-type]
    return stream.getvalue()


def endpoint_list() -> QuerySet[Endpoint]:
    return Endpoint.objects.order_by("name")


def run_list() -> QuerySet[ReplayRun]:
    return ReplayRun.objects.select_related("endpoint", "snapshot__corpus").order_by(
        "-created_at", "-id"
    )


def runs_for_gate() -> QuerySet[ReplayRun]:
    return run_list().filter(status=ReplayRun.Status.SUCCEEDED)


@dataclass(frozen=True)
class RunProgress:
    done: int
    total: int
    answered: int
    failed: int


def run_progress(run: ReplayRun) -> RunProgress:
    """Live counts from the results (the run's own counters are updated per chunk)."""
    counts = ReplayResult.objects.filter(run=run).aggregate(
        done=Count("id"), failed=Count("id", filter=~Q(error=""))
    )
    return RunProgress(
        done=counts["done"],
        total=run.total,
        answered=counts["done"] - counts["failed"],
        failed=counts["failed"],
    )


def run_results(run: ReplayRun) -> QuerySet[ReplayResult]:
    return (
        ReplayResult.objects.filter(run=run).select_related("prompt").order_by("prompt__position")
    )


def decision_list() -> QuerySet[GateDecision]:
    return GateDecision.objects.select_related(
        "baseline__endpoint", "candidate__endpoint", "baseline__snapshot__corpus", "accepted_by"
    ).order_by("-created_at", "-id")


def decisions_for_run(run: ReplayRun) -> QuerySet[GateDecision]:
    return decision_list().filter(Q(baseline=run) | Q(candidate=run))


@dataclass(frozen=True)
class DiscordantPair:
    prompt: SnapshotPrompt
    baseline: ReplayResult
    candidate: ReplayResult

    @property
    def candidate_refused(self) -> bool:
        return self.candidate.refused


def discordant_pairs(
    decision: GateDecision, expect: str = Expect.MUST_HELP
) -> list[DiscordantPair]:
    """Prompts where exactly one of the two runs refused, candidate regressions first."""
    results: dict[int, dict[int, ReplayResult]] = {}
    for r in ReplayResult.objects.filter(
        run_id__in=[decision.baseline_id, decision.candidate_id],
        prompt__expect=expect,
    ).exclude(label=""):
        results.setdefault(r.prompt_id, {})[r.run_id] = r
    ids = [
        pid
        for pid, both in results.items()
        if len(both) == 2
        and both[decision.baseline_id].refused != both[decision.candidate_id].refused
    ]
    prompts = SnapshotPrompt.objects.in_bulk(ids)
    pairs = [
        DiscordantPair(
            prompts[pid],
            results[pid][decision.baseline_id],
            results[pid][decision.candidate_id],
        )
        for pid in ids
    ]
    pairs.sort(key=lambda p: (not p.candidate_refused, p.prompt.position))
    return pairs


# --- Replay trend ------------------------------------------------------------------------------

REPLAY_TREND_RUNS = 60


@dataclass(frozen=True)
class ReplayTrendPoint:
    """One finished run's refusal rate on one kind of prompt (must-help or must-decline)."""

    run_id: int
    day: str  # the run's finishing day, ISO
    model: str
    expect: str
    refused: int
    answered: int
    rate: float | None
    lower: float | None
    upper: float | None


def replay_trend(limit: int = REPLAY_TREND_RUNS) -> dict[str, list[ReplayTrendPoint]]:
    """Per corpus (by name), the refusal rates of its latest finished runs, oldest first.

    Every answered prompt counts once; the interval is exact binomial (Clopper-Pearson).
    """
    runs = list(
        ReplayRun.objects.filter(status=ReplayRun.Status.SUCCEEDED, finished_at__isnull=False)
        .order_by("-finished_at", "-pk")
        .values_list("pk", "finished_at", "endpoint__model", "snapshot__corpus__name")[:limit]
    )
    counts = (
        ReplayResult.objects.filter(run_id__in=[r[0] for r in runs])
        .exclude(label="")
        .values("run_id", "prompt__expect")
        .annotate(
            answered=Count("id"),
            refused=Count("id", filter=Q(label__in=(Label.REFUSAL, Label.PARTIAL_REFUSAL))),
        )
        .order_by()
    )
    by_run = {(c["run_id"], c["prompt__expect"]): c for c in counts}
    out: dict[str, list[ReplayTrendPoint]] = {}
    for pk, finished, model, corpus in reversed(runs):
        for expect in (Expect.MUST_HELP, Expect.MUST_DECLINE):
            c = by_run.get((pk, expect))
            if c is None:
                continue
            lower, upper = clopper_pearson(c["refused"], c["answered"])
            out.setdefault(corpus, []).append(
                ReplayTrendPoint(
                    run_id=pk,
                    day=finished.date().isoformat(),
                    model=model,
                    expect=expect,
                    refused=c["refused"],
                    answered=c["answered"],
                    rate=c["refused"] / c["answered"] if c["answered"] else None,
                    lower=lower,
                    upper=upper,
                )
            )
    return out
