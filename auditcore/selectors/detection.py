"""The response classifier the app runs: the fast tier, and the LLM judge when one is set up."""

from django.conf import settings
from django.core.cache import cache

from auditcore.detection.tiers import LLMJudge, TieredClassifier


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
