"""Measure parse + validate + redact per ~900-byte JSONL record on one core.

Run: .venv/bin/python bench/ingest_parse.py [records]
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from auditcore.ingest.parsers import iter_records
from auditcore.ingest.redaction import redact_record
from auditcore.ingest.validation import IngestRecord, validate_record

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "you",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "I",
    "can",
    "help",
    "how",
    "your",
    "what",
    "this",
    "be",
    "are",
    "not",
    "have",
    "or",
    "from",
    "at",
    "by",
    "an",
    "charge",
    "account",
    "bank",
    "card",
    "dispute",
    "refund",
    "order",
    "policy",
    "advice",
    "model",
    "please",
    "sorry",
    "cannot",
    "explain",
    "steps",
    "first",
    "then",
    "contact",
    "within",
    "days",
]
# About one record in ten carries something to redact, as production chat text might.
PII = ["mail me at jane@example.com", "call +1 415 555 2671", "card 4111 1111 1111 1111"]


def make_jsonl(count: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        prompt = " ".join(rng.choices(WORDS, k=30)) + "?"
        response = (
            " ".join(rng.choices(WORDS, k=95)) + f". In 2024 it took {rng.randint(2, 90)} days."
        )
        if i % 10 == 0:
            prompt += " " + rng.choice(PII)
        record = {
            "id": f"req_{i:08d}",
            "timestamp": f"2026-11-{1 + i % 28:02d}T12:{i % 60:02d}:05Z",
            "surface": "support-chat",
            "model": "acme-chat-2026-10",
            "messages": [{"role": "user", "content": prompt}],
            "response": response,
            "gateway_action": "none",
            "user": {"id": f"u_{i % 5000}", "segment": "non_native_en", "weight": 1.5},
            "metadata": {"locale": "en-GB"},
        }
        lines.append(orjson.dumps(record))
    return b"\n".join(lines) + b"\n"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    data = make_jsonl(count)
    print(f"{count:,} records, {len(data) / count:.0f} bytes each on average")

    start = time.perf_counter()
    parsed = [r for _, r in iter_records(io.BytesIO(data), "jsonl")]
    parse_s = time.perf_counter() - start

    start = time.perf_counter()
    validated = [validate_record(r, line=i) for i, r in enumerate(parsed, 1)]
    validate_s = time.perf_counter() - start
    assert all(isinstance(v, IngestRecord) for v in validated)

    start = time.perf_counter()
    for record in validated:
        redact_record(record)  # type: ignore[arg-type]
    redact_s = time.perf_counter() - start

    start = time.perf_counter()
    for line, raw in iter_records(io.BytesIO(data), "auto"):
        record = validate_record(raw, line=line)  # type: ignore[arg-type]
        redact_record(record)  # type: ignore[arg-type]
    total_s = time.perf_counter() - start

    def us(seconds: float) -> str:
        return f"{seconds / count * 1e6:6.2f} us/record"

    print(f"parse     {us(parse_s)}")
    print(f"validate  {us(validate_s)}")
    print(f"redact    {us(redact_s)}")
    print(f"pipeline  {us(total_s)}  ({count / total_s:,.0f} records/s on one core)")


if __name__ == "__main__":
    main()
