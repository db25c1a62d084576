"""Benchmark the demo-data generator: records per second and average JSON line size.

.venv/bin/python bench/demo_data.py [--count 1000000] [--target-bytes 900] [--out FILE]
"""

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditcore.demo_data import generate_records, write_jsonl

SIZE_SAMPLE = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--target-bytes", type=int, default=900)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="also write the records as JSONL here")
    args = parser.parse_args()

    started, cpu_started = time.perf_counter(), time.process_time()
    n = sum(1 for _ in generate_records(args.count, seed=args.seed, target_bytes=args.target_bytes))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # CPU time too: on a shared machine wall-clock speed mostly measures the neighbours.
    print(
        f"generated {n:,} records in {elapsed:.2f} s: {n / elapsed:,.0f} records/s "
        f"({n / cpu:,.0f} per CPU-second)"
    )

    # Measured outside the timed loop: serialising costs more than generating.
    sample = islice(
        generate_records(args.count, seed=args.seed, target_bytes=args.target_bytes), SIZE_SAMPLE
    )
    sizes = [len(json.dumps(r, ensure_ascii=False).encode()) + 1 for r in sample]
    print(f"average JSON line: {sum(sizes) / len(sizes):,.0f} bytes (first {len(sizes):,} records)")

    if args.out:
        started = time.perf_counter()
        records = generate_records(args.count, seed=args.seed, target_bytes=args.target_bytes)
        written = write_jsonl(records, args.out)
        elapsed = time.perf_counter() - started
        size = args.out.stat().st_size
        print(
            f"wrote {written:,} records, {size / 1e6:,.1f} MB ({size / written:,.0f} bytes/line) "
            f"to {args.out} in {elapsed:.1f} s"
        )


if __name__ == "__main__":
    main()
