"""Measure parse + validate + redact per ~900-byte JSONL record on one core, then the whole
per-record preparation (Preparer.prepare: validate, redact, response and category
classification, user hashing, sampling keys), the same run a chunk at a time as ingest runs it
(Preparer.prepare_many), and its parts.

Times are CPU time of this process (time.process_time), best of --repeat runs, so other load on a
shared machine inflates them less than wall-clock time would.

Run: .venv/bin/python bench/ingest_parse.py [records] [--demo] [--repeat N]
  --demo  use auditcore.demo_data records (target_bytes=900) instead of the synthetic ones below
"""

from __future__ import annotations

import argparse
import gc
import io
import random
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from auditcore import sampling
from auditcore.consistency import prompt_digest
from auditcore.demo_data import generate_records
from auditcore.detection import response as response_classifier
from auditcore.detection.category import CategoryClassifier
from auditcore.detection.default_policy import default_category_specs
from auditcore.detection.response import classify_response, classify_served
from auditcore.ingest import redaction
from auditcore.ingest.parsers import iter_records
from auditcore.ingest.pipeline import INGEST_SIZE_MEASURE, PreparedRow, Preparer
from auditcore.ingest.redaction import hash_user, redact_record
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


def make_demo_jsonl(count: int) -> bytes:
    records = generate_records(count, seed=7, target_bytes=900)
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def cpu_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Best CPU time of ``repeat`` runs, with the cyclic GC off as in a tight ingest loop."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            fn()
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=50_000)
    parser.add_argument("--demo", action="store_true", help="use auditcore.demo_data records")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the best counts")
    parser.add_argument(
        "--engines",
        default="hyperscan,re2",
        help="pre-filter engines to measure, comma-separated; 'none' is pure re (classifier, "
        "categories, redaction)",
    )
    args = parser.parse_args()
    count, repeat = args.records, args.repeat
    data = make_demo_jsonl(count) if args.demo else make_jsonl(count)
    source = "demo records" if args.demo else "synthetic records"
    print(f"{count:,} {source}, {len(data) / count:.0f} bytes each on average, best of {repeat}")
    for engine in args.engines.split(","):
        name = None if engine == "none" else engine
        # Redaction's family scan needs Hyperscan's pattern mode; with re2 it runs on its gates.
        redaction_scan = nullcontext() if engine == "hyperscan" else redaction.prefilter_off()
        try:
            with response_classifier._prefilter_engine(name), redaction_scan:
                print(f"\n== literal pre-filter engine: {engine}")
                stages(data, count, repeat, name)
        except LookupError:
            print(f"\n== literal pre-filter engine: {engine} is not installed")


def stages(data: bytes, count: int, repeat: int, engine: str | None) -> None:
    """Print the per-stage table for these records with the current classifier set-up."""

    def us(seconds: float) -> str:
        return f"{seconds / count * 1e6:6.2f} us/record"

    def parse() -> list:
        return [r for _, r in iter_records(io.BytesIO(data), "jsonl")]

    parsed = parse()
    parse_s = cpu_seconds(parse, repeat)

    validated = [validate_record(r, line=i) for i, r in enumerate(parsed, 1)]
    validate_s = cpu_seconds(
        lambda: [validate_record(r, line=i) for i, r in enumerate(parsed, 1)], repeat
    )
    assert all(isinstance(v, IngestRecord) for v in validated)

    redact_s = cpu_seconds(lambda: [redact_record(r) for r in validated], repeat)  # type: ignore[arg-type]

    def pipeline() -> None:
        for line, raw in iter_records(io.BytesIO(data), "auto"):
            record = validate_record(raw, line=line)  # type: ignore[arg-type]
            redact_record(record)  # type: ignore[arg-type]

    total_s = cpu_seconds(pipeline, repeat)

    print(f"parse     {us(parse_s)}")
    print(f"validate  {us(validate_s)}")
    print(f"redact    {us(redact_s)}")
    print(f"pipeline  {us(total_s)}  ({count / total_s:,.0f} records/s on one core)")

    # The whole per-record preparation, as the ingest service runs it, and what it is made of.
    categories = CategoryClassifier(default_category_specs(), literal_engine=engine)
    preparer = Preparer(
        source="bench", categories=categories, user_key=b"bench-key", sampling_salt="bench-salt"
    )
    prepared = [preparer.prepare(r, i) for i, r in enumerate(parsed, 1)]
    assert all(isinstance(p, PreparedRow) for p in prepared)
    prepare_s = cpu_seconds(
        lambda: [preparer.prepare(r, i) for i, r in enumerate(parsed, 1)], repeat
    )
    # As the ingest service runs it: a chunk at a time, stage by stage, the cyclic GC paused.
    numbered = list(enumerate(parsed, 1))
    chunk = 10_000
    batch_s = cpu_seconds(
        lambda: [
            preparer.prepare_many(numbered[i : i + chunk]) for i in range(0, len(numbered), chunk)
        ],
        repeat,
    )

    redacted = [redact_record(r) for r in validated]  # type: ignore[arg-type]

    def responses() -> None:
        for r in redacted:
            model_result = classify_response(r.response, r.prompt)
            classify_served(model_result, r.served_response, r.gateway_action)

    def category() -> None:
        for r in redacted:
            context = [t["content"] for t in r.earlier_turns if t["role"] == "user"]
            categories.classify(r.prompt, context)

    def keys() -> None:
        for r in redacted:
            u = sampling.record_u(f"bench\x1f{r.external_id}", "bench-salt")
            x = sampling.size_measure(r.impact_weight, INGEST_SIZE_MEASURE)
            sampling.priority_key(u, x)
            sampling.stratum_key(r.day, "slug", "compliance", r.model)
            prompt_digest(r.prompt)
            if r.user_id:
                hash_user(r.user_id, b"bench-key")

    response_s = cpu_seconds(responses, repeat)
    category_s = cpu_seconds(category, repeat)
    keys_s = cpu_seconds(keys, repeat)
    rest_s = batch_s - validate_s - redact_s - response_s - category_s - keys_s
    print(f"prepare   {us(prepare_s)}  (Preparer.prepare, one record at a time; parsing excluded)")
    print(f"prepare_many {us(batch_s)}  (chunks of {chunk:,} as ingest runs them), made of:")
    print(f"  validate          {us(validate_s)}")
    print(f"  redact            {us(redact_s)}")
    print(f"  response+served   {us(response_s)}")
    print(f"  category          {us(category_s)}")
    print(f"  keys+digest+hash  {us(keys_s)}")
    # Parts are timed in their own loops; on a loaded machine the difference is partly noise.
    print(f"  other (prepare_many less its parts: row assembly + noise) {us(rest_s)}")
    whole_s = parse_s + batch_s
    print(f"parse+prepare_many {us(whole_s)}  ({count / whole_s:,.0f} records/s on one core)")


if __name__ == "__main__":
    main()
