"""One raw log record to one row for the bulk writer: validate, redact, hash, classify, key."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import orjson

from auditcore import sampling
from auditcore.detection.category import CategoryClassifier
from auditcore.detection.response import classify_response, classify_served
from auditcore.ingest.parsers import EXCERPT_CHARS
from auditcore.ingest.redaction import REDACTIONS_METADATA_KEY, hash_user, redact_record
from auditcore.ingest.validation import Rejection, validate_record

# Interactions are keyed for sampling at ingest with the impact weight as the size measure; a round
# with another size measure or its own salt derives its keys from the same stored u.
INGEST_SIZE_MEASURE = "impact"


@dataclass(frozen=True, slots=True)
class PreparedRow:
    line: int
    external_id: str
    occurred_at: datetime
    day: date
    surface: str
    model: str
    conversation_id: str
    turn: int
    prompt: str
    earlier_turns: list[dict[str, str]]
    response: str
    served_response: str | None
    gateway_action: str
    user_ref: str
    user_segment: str
    impact_weight: float
    category: str
    category_score: float
    response_label: str
    response_score: float
    served_label: str
    detector_version: str
    u: float
    priority_key: float
    stratum_key: str
    redaction_count: int
    metadata: dict[str, Any]


# As for IngestRecord in validation.py: a frozen dataclass's __init__ stores its 27 fields through
# object.__setattr__, a few microseconds a row; prepare() fills a new instance through the slot
# descriptors instead. The check keeps the setters in step with the fields.
_ROW_FIELDS = (
    "line", "external_id", "occurred_at", "day", "surface", "model", "conversation_id", "turn",
    "prompt", "earlier_turns", "response", "served_response", "gateway_action", "user_ref",
    "user_segment", "impact_weight", "category", "category_score", "response_label",
    "response_score", "served_label", "detector_version", "u", "priority_key", "stratum_key",
    "redaction_count", "metadata",
)  # fmt: skip
if tuple(f.name for f in fields(PreparedRow)) != _ROW_FIELDS or hasattr(
    PreparedRow, "__post_init__"
):
    raise RuntimeError("update _ROW_FIELDS and Preparer.prepare to match PreparedRow")
(
    _set_line, _set_external_id, _set_occurred_at, _set_day, _set_surface, _set_model,
    _set_conversation_id, _set_turn, _set_prompt, _set_earlier_turns, _set_response,
    _set_served_response, _set_gateway_action, _set_user_ref, _set_user_segment,
    _set_impact_weight, _set_category, _set_category_score, _set_response_label,
    _set_response_score, _set_served_label, _set_detector_version, _set_u, _set_priority_key,
    _set_stratum_key, _set_redaction_count, _set_metadata,
) = (getattr(PreparedRow, name).__set__ for name in _ROW_FIELDS)  # fmt: skip
_new = object.__new__


@dataclass(frozen=True, slots=True)
class Quarantine:
    line: int
    field: str
    reason: str
    excerpt: str


def excerpt_of(raw: dict[str, Any]) -> str:
    return orjson.dumps(raw, default=str)[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[
        :EXCERPT_CHARS
    ]


class Preparer:
    """Holds what every record of a job shares: the source, the keys and the category classifier."""

    def __init__(
        self, *, source: str, categories: CategoryClassifier, user_key: bytes, sampling_salt: str
    ) -> None:
        self.source = source
        self.categories = categories
        self.user_key = user_key
        self.sampling_salt = sampling_salt

    def prepare(self, raw: dict[str, Any], line: int) -> PreparedRow | Quarantine:
        checked = validate_record(raw, line=line)
        if isinstance(checked, Rejection):
            return Quarantine(line, checked.field, checked.reason, excerpt_of(raw))
        record = redact_record(checked)
        redactions = record.metadata.get(REDACTIONS_METADATA_KEY, {})
        model_result = classify_response(record.response, record.prompt)
        served_result = classify_served(model_result, record.served_response, record.gateway_action)
        context = [t["content"] for t in record.earlier_turns if t["role"] == "user"]
        category = self.categories.classify(record.prompt, context)
        u = sampling.record_u(f"{self.source}\x1f{record.external_id}", self.sampling_salt)
        x = sampling.size_measure(record.impact_weight, INGEST_SIZE_MEASURE)
        row = _new(PreparedRow)
        _set_line(row, line)
        _set_external_id(row, record.external_id)
        _set_occurred_at(row, record.occurred_at)
        _set_day(row, record.day)
        _set_surface(row, record.surface)
        _set_model(row, record.model)
        _set_conversation_id(row, record.conversation_id or "")
        _set_turn(row, record.turn)
        _set_prompt(row, record.prompt)
        _set_earlier_turns(row, record.earlier_turns)
        _set_response(row, record.response)
        _set_served_response(row, record.served_response)
        _set_gateway_action(row, record.gateway_action)
        _set_user_ref(row, hash_user(record.user_id, self.user_key) if record.user_id else "")
        _set_user_segment(row, record.user_segment)
        _set_impact_weight(row, record.impact_weight)
        _set_category(row, category.slug)
        _set_category_score(row, category.score)
        _set_response_label(row, model_result.label)
        _set_response_score(row, model_result.score)
        _set_served_label(row, served_result.label)
        _set_detector_version(row, model_result.detector_version)
        _set_u(row, u)
        _set_priority_key(row, sampling.priority_key(u, x))
        _set_stratum_key(
            row, sampling.stratum_key(record.day, category.slug, model_result.label, record.model)
        )
        _set_redaction_count(row, sum(redactions.values()))
        _set_metadata(row, record.metadata)
        return row
