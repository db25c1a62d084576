"""One raw log record to one row for the bulk writer: validate, redact, hash, classify, key."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from auditcore import sampling
from auditcore.consistency import prompt_digest
from auditcore.detection.category import CategoryClassifier
from auditcore.detection.response import ResponseResult, classify_response, classify_served
from auditcore.ingest.parsers import EXCERPT_CHARS
from auditcore.ingest.redaction import REDACTIONS_METADATA_KEY, hash_user, redact_record
from auditcore.ingest.validation import IngestRecord, Rejection, validate_record

# Interactions are keyed for sampling at ingest with the impact weight as the size measure; a round
# with another size measure or its own salt derives its keys from the same stored u.
INGEST_SIZE_MEASURE = "impact"


# Not frozen: a frozen dataclass pays an object.__setattr__ per field, a cost felt per record.
@dataclass(slots=True)
class PreparedRow(IngestRecord):
    """A validated record with what preparation derives from it; every field is a column of the
    interaction under its own name unless its metadata says otherwise (writer.COLUMNS)."""

    prompt_digest: bytes
    user_ref: str
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


# The values of a record's fields, in field order: the start of its prepared row.
_record_values = operator.attrgetter(*(f.name for f in dataclasses.fields(IngestRecord)))


@dataclass(frozen=True, slots=True)
class Quarantine:
    line: int
    field: str
    reason: str
    excerpt: str


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is parsed and prepared.

    Reference counting frees a batch's objects, which form few if any cycles (the collector
    takes those once it resumes); but the collector, triggered every 700 allocations, walks the
    growing batch again and again, a sizeable share of the preparation (bench/README.md).
    Process-wide, and re-enabled on exit only by whoever found it enabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def excerpt_of(raw: dict[str, Any]) -> str:
    try:
        text = orjson.dumps(raw, default=str)[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    except TypeError:  # orjson refuses integers past 64 bits and lone surrogates; JSON has both
        text = json.dumps(raw, default=str)
    return text[:EXCERPT_CHARS]


class Preparer:
    """Holds what every record of a job shares: the source, the keys and the category classifier."""

    def __init__(
        self,
        *,
        source: str,
        categories: CategoryClassifier,
        user_key: bytes,
        sampling_salt: str,
        classify: Callable[[str | None, str | None], ResponseResult] = classify_response,
    ) -> None:
        self.source = source
        self.categories = categories
        # The fast tier, or a tiered classifier that asks a judge about the uncertain band.
        self.classify = classify
        self.user_key = user_key
        self.sampling_salt = sampling_salt

    def prepare(self, raw: dict[str, Any], line: int) -> PreparedRow | Quarantine:
        return self.prepare_many([(line, raw)])[0]

    def prepare_many(
        self, records: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[PreparedRow | Quarantine]:
        """Prepare a batch one stage at a time: each stage's code and regex automata stay in the
        CPU's caches across the batch, which makes a record cheaper than running every stage on
        one record first (bench/README.md has the figures)."""
        with cyclic_gc_paused():
            return self._prepare_many(records)

    def _prepare_many(
        self, records: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[PreparedRow | Quarantine]:
        out: list[PreparedRow | Quarantine | None] = []
        valid: list[tuple[int, IngestRecord]] = []  # (position in out, record)
        for line, raw in records:
            checked = validate_record(raw, line=line)
            if isinstance(checked, Rejection):
                out.append(Quarantine(line, checked.field, checked.reason, excerpt_of(raw)))
            else:
                valid.append((len(out), checked))
                out.append(None)  # filled in below
        redacted = [redact_record(record) for _, record in valid]
        classify_model = self.classify
        model_results = [classify_model(r.response, r.prompt) for r in redacted]
        classify = self.categories.classify
        categories = [
            classify(r.prompt, [t["content"] for t in r.earlier_turns if t["role"] == "user"])
            for r in redacted
        ]
        source, user_key, salt = self.source, self.user_key, self.sampling_salt
        # A chunk's records fall into few strata: each key is built once per batch.
        stratum_keys: dict[tuple, str] = {}
        for (position, original), record, model_result, category in zip(
            valid, redacted, model_results, categories, strict=True
        ):
            served_result = classify_served(
                model_result, record.served_response, record.gateway_action
            )
            # redact_record hands back the record itself when it redacted nothing; a count the
            # source put under the same key is its own metadata, not a redaction.
            redactions = 0
            if record is not original:
                redactions = sum(record.metadata[REDACTIONS_METADATA_KEY].values())
            u = sampling.record_u(f"{source}\x1f{record.external_id}", salt)
            x = sampling.size_measure(record.impact_weight, INGEST_SIZE_MEASURE)
            stratum = (record.day, category.slug, model_result.label, record.model)
            stratum_key = stratum_keys.get(stratum)
            if stratum_key is None:
                stratum_key = stratum_keys[stratum] = sampling.stratum_key(*stratum)
            # Positional, in PreparedRow's field order: keywords cost more (bench/README.md).
            out[position] = PreparedRow(
                *_record_values(record),
                prompt_digest(record.prompt),
                hash_user(record.user_id, user_key) if record.user_id else "",
                category.slug,
                category.score,
                model_result.label,
                model_result.score,
                served_result.label,
                model_result.detector_version,
                u,
                sampling.priority_key(u, x),
                stratum_key,
                redactions,
            )
        return out  # type: ignore[return-value] - every None was filled in
