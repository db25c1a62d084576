"""Replay a prompt corpus against OpenAI-compatible chat endpoints (pure: no ORM, no Celery)."""

from auditcore.replay.client import (
    ChatClient,
    ChatResult,
    EndpointConfig,
    MissingApiKeyError,
    ReplaySummary,
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
    "MissingApiKeyError",
    "ReplaySummary",
    "parse_corpus",
    "replay_prompts",
    "write_corpus",
]
