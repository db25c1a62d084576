"""The response classifier the app runs (the fast tier, and the LLM judge when one is set up),
and how often reviewers agree with each tier."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count

from auditcore.detection.tiers import LLMJudge, TieredClassifier
from auditcore.models import Verdict
from auditcore.models.traffic import Label

_REFUSED = frozenset({Label.REFUSAL, Label.PARTIAL_REFUSAL})


class _SharedLabelCache:
    """Judged labels in Django's cache, so every worker reuses them."""

    def get(self, key: str) -> str | None:
        return cache.get(key)

    def set(self, key: str, label: str) -> None:
        cache.set(key, label, timeout=settings.DETECTION_JUDGE_CACHE_SECONDS)


def response_classifier() -> TieredClassifier:
    """The fast tier alone unless DETECTION_JUDGE_URL names a judge endpoint."""
    if not settings.DETECTION_JUDGE_URL:
        return TieredClassifier()
    judge = LLMJudge(
        base_url=settings.DETECTION_JUDGE_URL,
        model=settings.DETECTION_JUDGE_MODEL,
        api_key=settings.DETECTION_JUDGE_API_KEY,
        timeout=settings.DETECTION_JUDGE_TIMEOUT,
        cache=_SharedLabelCache(),
    )
    return TieredClassifier(second_tier=judge)


@dataclass(frozen=True)
class TierAgreement:
    """How often reviewers saw what one classifier tier said, over revealed, non-gold items."""

    detector_version: str
    observed: int
    exact_matches: int
    refusal_matches: int

    @property
    def judged(self) -> bool:
        """Labels given by the LLM judge carry its version after a "+"."""
        return "+" in self.detector_version


def tier_agreement(round_ids: Sequence[int]) -> list[TierAgreement]:
    """Reviewers' observed labels against the classifier's, per detector version."""
    grouped = (
        Verdict.objects.filter(
            item__round_id__in=list(round_ids), item__is_gold=False, superseded=False
        )
        .exclude(observed_label="")
        .values_list(
            "item__interaction__detector_version",
            "item__interaction__response_label",
            "observed_label",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    totals: dict[str, list[int]] = {}
    for version, label, observed, n in grouped:
        counts = totals.setdefault(version or "—", [0, 0, 0])
        counts[0] += n
        counts[1] += n if observed == label else 0
        counts[2] += n if (observed in _REFUSED) == (label in _REFUSED) else 0
    return [
        TierAgreement(version, observed, exact, refusal)
        for version, (observed, exact, refusal) in sorted(totals.items())
    ]
