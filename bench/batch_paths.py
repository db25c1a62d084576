"""Measure two ways of cutting ingest's per-record CPU that were considered and not taken, against
what ingest does, in the same run and on the same records:

1. One Hyperscan scan per response for the classifier's literal groups and the redaction pattern
   families together, instead of redaction's scan of the record's joined text plus the
   classifier's own scan of the lower-cased response (its whole group set for short responses,
   its smaller one for long ones). Only ASCII records can share it (Hyperscan's caseless matching
   equals lower-casing only for ASCII) whose response the classifier reads whole; the rest keep
   both scans. The encoding of the lower-cased response is counted in today's path: the shared
   scan reads the response as it is.
2. Parsing a chunk to columns with pyarrow's JSON reader instead of orjson line by line; the
   preparation still needs every prompt, response and metadata value as a Python object.

CPU time of this process (time.process_time), best of --repeat, cyclic GC off.

Run: .venv/bin/python bench/batch_paths.py [records] [--demo] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hyperscan
import pyarrow
import pyarrow.json as arrow_json
from ingest_parse import cpu_seconds, make_demo_jsonl, make_jsonl

from auditcore.detection import response as classifier
from auditcore.detection.literal_sets import _alternations, _byte_pattern
from auditcore.ingest import redaction
from auditcore.ingest.parsers import iter_records
from auditcore.ingest.validation import IngestRecord, validate_record

FAMILY_ID_FROM = 1000  # family ids in the shared database, after the classifier's groups


def shared_database(groups) -> tuple[hyperscan.Database, hyperscan.Scratch]:
    """The classifier's scan groups (caseless, counted ones per occurrence) and the redaction
    families (pre-filter mode, once per scan) in one database."""
    expressions, ids, flags = [], [], []
    for group_id, group in enumerate(groups):
        counted = group_id in classifier._COUNTED_GROUPS
        for expression in _alternations([_byte_pattern(literal) for literal in group]):
            expressions.append(expression.encode("ascii"))
            ids.append(group_id)
            flags.append(
                hyperscan.HS_FLAG_CASELESS | (0 if counted else hyperscan.HS_FLAG_SINGLEMATCH)
            )
    for family_id, pattern in enumerate(redaction._family_patterns()):
        expressions.append(pattern.encode("ascii"))
        ids.append(FAMILY_ID_FROM + family_id)
        flags.append(hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_PREFILTER)
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
    return database, hyperscan.Scratch(database)


def shared_scan(records: list[IngestRecord], repeat: int) -> None:
    classifier.prepare()
    redaction.prepare()
    family_scan = redaction._family_scan()
    # Short responses get the classifier's whole scan, long ones its smaller one; a response past
    # MAX_SCAN_CHARS is classified on its head but redacted whole, so it keeps both scans.
    short = shared_database(classifier._SCAN_GROUPS)
    long = shared_database(classifier._LONG_SCAN_GROUPS)
    eligible = [
        (r.prompt, r.response)
        for r in records
        if (r.prompt + r.response).isascii() and len(r.response) <= classifier.MAX_SCAN_CHARS
    ]
    # The classifier lower-cases every response for its regexes whichever way it is scanned.
    lowered = [response.lower().encode("ascii") for _, response in eligible]
    own_scans = [
        classifier._SET_SCAN if len(response) < classifier._LONG_TEXT else classifier._SET_SCAN_LONG
        for _, response in eligible
    ]
    shared_scans = [
        short if len(response) < classifier._LONG_TEXT else long for _, response in eligible
    ]

    def on_match(group: int, start: int, end: int, flags: int, found: list[int]) -> None:
        found.append(group)

    # The shared scan reports the same classifier groups, as often, as the classifier's own.
    differ = 0
    for (_, response), low, own, (database, scratch) in zip(
        eligible, lowered, own_scans, shared_scans, strict=True
    ):
        found: list[int] = []
        database.scan(response.encode("ascii"), on_match, 0, found, scratch)
        differ += sorted(g for g in found if g < FAMILY_ID_FROM) != sorted(own(low))

    def separate() -> None:
        for (prompt, response), low, own in zip(eligible, lowered, own_scans, strict=True):
            family_scan(f"{prompt}\n{response}".encode("ascii"))
            own(low)

    def shared() -> None:
        for (prompt, response), (database, scratch) in zip(eligible, shared_scans, strict=True):
            database.scan(response.encode("ascii"), on_match, 0, [], scratch)
            family_scan(prompt.encode("ascii"))

    separate_s = cpu_seconds(separate, repeat)
    shared_s = cpu_seconds(shared, repeat)
    n = len(eligible)
    saved = (separate_s - shared_s) / n * 1e6 if n else 0.0
    print("\n== one scan per response for cues and redaction families")
    print(
        f"records it applies to (ASCII, response <= {classifier.MAX_SCAN_CHARS} chars): "
        f"{n:,} of {len(records):,} ({n / len(records):.0%})"
    )
    print(f"classifier groups reported differently from the classifier's own scan: {differ}")
    if n:
        print(f"today (joined-text family scan + cue scan): {separate_s / n * 1e6:5.2f} us/record")
        print(f"shared (response scan + prompt family scan): {shared_s / n * 1e6:5.2f} us/record")
    print(f"saved per record of the whole set: {saved * n / len(records):5.2f} us")


def batch_parse(data: bytes, count: int, repeat: int) -> None:
    options = arrow_json.ReadOptions(use_threads=False, block_size=1 << 26)

    def lines() -> list:
        return [raw for _, raw in iter_records(io.BytesIO(data), "jsonl")]

    def table():
        return arrow_json.read_json(io.BytesIO(data), read_options=options)

    def columns() -> list:
        return [column.to_pylist() for column in table().columns]

    us = lambda seconds: f"{seconds / count * 1e6:5.2f} us/record"  # noqa: E731
    print("\n== parsing a chunk: orjson per line or pyarrow's JSON reader")
    print(f"orjson per line (ingest today)        {us(cpu_seconds(lines, repeat))}")
    print(f"pyarrow to columns                    {us(cpu_seconds(table, repeat))}")
    print(f"pyarrow to columns of Python values   {us(cpu_seconds(columns, repeat))}")
    # Objects become structs over the union of their keys, and a field must keep one type.
    mixed = b'{"metadata": {"locale": "en-GB"}}\n{"metadata": {"app": "ios"}}\n'
    back = arrow_json.read_json(io.BytesIO(mixed)).column("metadata").to_pylist()
    print(f"metadata {{'locale': 'en-GB'}} and {{'app': 'ios'}} come back as {back}")
    try:
        arrow_json.read_json(io.BytesIO(b'{"metadata": {"v": 1}}\n{"metadata": {"v": "x"}}\n'))
        print("a field that is a number in one record and text in the next: read")
    except pyarrow.ArrowInvalid:
        print("a field that is a number in one record and text in the next: ArrowInvalid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=20_000)
    parser.add_argument("--demo", action="store_true", help="use auditcore.demo_data records")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    args = parser.parse_args()
    data = make_demo_jsonl(args.records) if args.demo else make_jsonl(args.records)
    print(f"{args.records:,} {'demo' if args.demo else 'synthetic'} records, best of {args.repeat}")
    records = [
        validate_record(raw, line=line) for line, raw in iter_records(io.BytesIO(data), "jsonl")
    ]
    shared_scan([r for r in records if isinstance(r, IngestRecord)], args.repeat)
    batch_parse(data, args.records, args.repeat)


if __name__ == "__main__":
    main()
