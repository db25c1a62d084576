"""Replay a prompt corpus against OpenAI-compatible chat endpoints (pure: no ORM, no Celery)."""

from auditcore.replay.client import (
    ChatClient,
    ChatResult,
    EndpointConfig,
    ReplaySummary,
    base_url_problem,
    replay_prompts,
)
from auditcore.replay.corpus_io import (
    CorpusError,
    CorpusPrompt,
    Expect,
    parse_corpus,
    write_corpus,
)

__all__ = [
    "ChatClient",
    "ChatResult",
    "CorpusError",
    "CorpusPrompt",
    "EndpointConfig",
    "Expect",
    "ReplaySummary",
    "base_url_problem",
    "parse_corpus",
    "replay_prompts",
    "write_corpus",
]
