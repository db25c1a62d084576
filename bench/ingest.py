"""Ingest benchmark: N realistic records through the production path into PostgreSQL.

    python bench/ingest.py [--records 1000000] [--workers 2] [--speedup-from 1]

It generates the records (cached under --workdir), migrates a scratch database, starts a real
Celery worker against Redis, runs `manage.py ingest PATH --wait` and times it; in the same run it
times a plain `psql \\copy` of the same rows into a bare table with a primary key. It prints
records/s, the ratio to the bare copy and the peak RSS of the worker processes.
Targets: >= 25,000 records/s, <= 2.5x the bare copy, worker RSS <= 500 MB.

It then prints what bounds the ingest on this machine, measured in the same run: the CPU the
workers and PostgreSQL spent per record, the shortest time those two CPU costs allow on the
machine's cores, and PostgreSQL's write alone (the rows just ingested, copied in binary into an
empty copy of the table with all its constraints and indexes, with no preparation at all, and
with the search vector NULL as ingest writes it), and
the search indexing the job queues as it finishes, apart from the ingest's figures.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditcore.demo_data import generate_records, write_jsonl  # noqa: E402

PG = "postgres://root@127.0.0.1:5432"


def psql(database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "root", "-d", database, "-v", "ON_ERROR_STOP=1",
         "-qAtc", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip()


def _stat(proc: Path) -> tuple[str, list[str]]:
    """A process's name and the fields after it in /proc/PID/stat: utime and stime are [11] and
    [12], the reaped children's cutime and cstime [13] and [14], all in clock ticks."""
    name, rest = (proc / "stat").read_text().split("(", 1)[1].rsplit(")", 1)
    return name, rest.split()


def worker_usage(root_pid: int) -> tuple[float, float]:
    """Peak resident set (largest VmHWM, MB) and CPU seconds of the worker and its pool."""
    peak, ticks = 0, 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            status = (proc / "status").read_text()
            _, stat = _stat(proc)
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        if (pid == root_pid or ppid == root_pid) and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]))
            ticks += int(stat[11]) + int(stat[12])
    return peak / 1024, ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process (backends, WAL writer, …);
    the postmaster's children's times count the backends that have already exited."""
    ticks = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            name, stat = _stat(proc)
        except OSError:
            continue
        if name == "postgres":
            ticks += sum(int(field) for field in stat[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_write_alone(database: str, workdir: Path) -> float:
    """Seconds PostgreSQL takes to COPY the ingested rows, already prepared and in its binary
    format, into an empty copy of the table with every constraint and index: the write's share of
    an ingest, without any parsing, redaction, classification or keying."""
    columns = psql(
        database,
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = 'auditcore_interaction'::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attname NOT IN ('id', 'prompt_search')",
    )  # ingest leaves the search vector NULL; copying the filled ones would add their GIN work
    rows = workdir / "prepared-rows.bin"
    try:
        select = f"SELECT {columns} FROM auditcore_interaction"  # noqa: S608 - fixed identifiers
        psql(database, f"\\copy ({select}) TO '{rows}' (FORMAT BINARY)")
        psql(
            database,
            "DROP TABLE IF EXISTS write_alone; "
            "CREATE TABLE write_alone (LIKE auditcore_interaction INCLUDING ALL)",
        )
        started = time.perf_counter()
        psql(database, f"\\copy write_alone ({columns}) FROM '{rows}' (FORMAT BINARY)")
        return time.perf_counter() - started
    finally:
        rows.unlink(missing_ok=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ingest(
    args: argparse.Namespace, env: dict[str, str], log: Path, workers: int
) -> tuple[float, float, float, float, dict]:
    """One `manage.py ingest --wait` into a new database, with `workers` worker processes.

    Prints the fixed costs around the chunks: from the command's start to the job's planning
    (the worker's claim) and to the first chunk's commit, and from the last chunk's commit to the
    summary line.
    """
    psql("postgres", f"DROP DATABASE IF EXISTS {args.database}")
    psql("postgres", f"CREATE DATABASE {args.database}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, env=env, cwd=ROOT)
    subprocess.run(["redis-cli", "-u", args.redis, "FLUSHDB"], check=True, capture_output=True)

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reviewapp", "worker", "--loglevel", "warning",
         "--concurrency", str(workers), "--without-gossip", "--without-mingle"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(5)  # the worker's start-up is not part of the figure
        _, start_up_cpu = worker_usage(worker.pid)
        started, pg_before = time.perf_counter(), postgres_cpu()
        command_cpu_before = _children_cpu()
        wall_start = time.time()
        result = subprocess.run(
            [*manage, "ingest", str(log), "--source", "bench", "--wait"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        wall_end = time.time()
        command_cpu = _children_cpu() - command_cpu_before
        ingest_seconds = time.perf_counter() - started
        pg_cpu = postgres_cpu() - pg_before
        rss, worker_cpu = worker_usage(worker.pid)
        worker_cpu -= start_up_cpu
        index_seconds, index_pg_cpu = _wait_for_search_index(args.database)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    job_id = int(summary["job"])
    times = psql(
        args.database,
        "SELECT extract(epoch FROM j.created_at), extract(epoch FROM j.started_at), "  # noqa: S608
        "extract(epoch FROM min(c.finished_at)), extract(epoch FROM max(c.finished_at)), "
        "count(c.id) FROM auditcore_ingestjob j JOIN auditcore_ingestchunk c ON c.job_id = j.id "
        f"WHERE j.id = {job_id} GROUP BY j.id",
    ).split("|")
    created, claimed, first_done, last_done = (float(t) for t in times[:4])
    chunks = int(times[4])
    print(f"-- {workers} worker process(es): {ingest_seconds:.1f}s, "
          f"{summary['received'] / ingest_seconds:,.0f} records/s, {chunks} chunks")  # fmt: skip
    print(f"   command start -> job row: {created - wall_start:.2f}s; "
          f"-> claimed by a worker: {claimed - wall_start:.2f}s; "
          f"-> first chunk committed: {first_done - wall_start:.2f}s")  # fmt: skip
    per_chunk = (last_done - claimed) / max(chunks, 1) * workers
    print(f"   one chunk's work, on average: {per_chunk:.2f}s")
    print(f"   last chunk committed -> summary line: {wall_end - last_done:.2f}s")
    # No chunk records when it started: its start is its commit less one chunk's average work.
    first_running = max(first_done - per_chunk, claimed) - wall_start
    print(f"   fixed costs: command start -> first chunk running ~{first_running:.2f}s, "
          f"last chunk -> summary {wall_end - last_done:.2f}s   [target < 1 s each]; "
          f"the command's own CPU (start-up, enqueue, polling): {command_cpu:.2f}s")  # fmt: skip
    print(f"   then the search indexing the job queued as it finished: {index_seconds:.1f}s, "
          f"PostgreSQL CPU {index_pg_cpu / summary['inserted'] * 1e6:.0f} us/record "
          "(not part of the ingest figures)")  # fmt: skip
    return ingest_seconds, pg_cpu, rss, worker_cpu, summary


def _wait_for_search_index(database: str) -> tuple[float, float]:
    """Wall time and PostgreSQL CPU from the ingest's end until the worker has filled every
    row's search vector (ingest leaves them NULL; migration 0020)."""
    started, pg_before = time.perf_counter(), postgres_cpu()
    pending = "SELECT count(*) FROM auditcore_interaction WHERE prompt_search IS NULL"
    while psql(database, pending) != "0" and time.perf_counter() - started < 600:
        time.sleep(0.2)
    return time.perf_counter() - started, postgres_cpu() - pg_before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--speedup-from",
        type=int,
        default=1,
        help="also run with this many worker processes and print the speed-up of --workers",
    )
    parser.add_argument("--database", default="refusal_audit_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "refusal-audit-bench"
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    log = args.workdir / f"records-{args.records}.jsonl"
    if not log.exists():
        started = time.perf_counter()
        write_jsonl(generate_records(args.records, target_bytes=900, source_prefix="bench"), log)
        print(f"generated {args.records:,} records in {time.perf_counter() - started:.1f}s")
    size = log.stat().st_size
    print(f"input: {log} ({size / 1e6:,.0f} MB, {size / args.records:,.0f} bytes/record)")

    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{args.database}",
        "REDIS_URL": args.redis,
        "SECRET_KEY": "bench-only",
        "DATA_DIR": str(args.workdir / "data"),
    }
    env.pop("DEBUG", None)
    # Start-up as deployed, from bytecode: an environment that forbids writing it
    # (PYTHONDONTWRITEBYTECODE) would otherwise compile every module at every start.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "auditcore", "reviewapp", "manage.py"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    runs = {}
    for workers in sorted({args.speedup_from, args.workers}):
        runs[workers] = run_ingest(args, env, log, workers)
    ingest_seconds, pg_cpu, rss, worker_cpu, summary = runs[args.workers]

    # The bare baseline: the same rows, id and raw JSON, into a table with a primary key.
    tsv = args.workdir / f"records-{args.records}.tsv"
    if not tsv.exists():
        with open(log, encoding="utf-8") as src, open(tsv, "w", encoding="utf-8") as dst:
            for line in src:
                record_id = line[8 : line.index('"', 8)]
                escaped = line.rstrip("\n").replace("\\", "\\\\").replace("\t", "\\t")
                dst.write(f"{record_id}\t{escaped}\n")
    psql(
        args.database,
        "DROP TABLE IF EXISTS bare; CREATE TABLE bare (id text PRIMARY KEY, body text)",
    )
    started = time.perf_counter()
    psql(args.database, f"\\copy bare FROM '{tsv}'")
    copy_seconds = time.perf_counter() - started

    write_seconds = postgres_write_alone(args.database, args.workdir)

    rate = summary["received"] / ingest_seconds
    print(json.dumps(summary))
    if args.speedup_from != args.workers:
        base = runs[args.speedup_from][0]
        print(f"speed-up of {args.workers} worker processes over {args.speedup_from}: "
              f"{base / ingest_seconds:.2f}x ({base:.1f}s -> {ingest_seconds:.1f}s)")  # fmt: skip
    print(f"ingest (command, broker, {args.workers} worker processes): {ingest_seconds:.1f}s, "
          f"{rate:,.0f} records/s   [target >= 25,000]")  # fmt: skip
    print(f"bare psql \\copy of the same rows: {copy_seconds:.1f}s, "
          f"{args.records / copy_seconds:,.0f} rows/s")  # fmt: skip
    print(f"ratio ingest / bare copy: {ingest_seconds / copy_seconds:.2f}x   "
          "[target <= 2.5x at 1M records, <= 3x at 200k]")  # fmt: skip
    print(f"peak worker RSS: {rss:,.0f} MB   [target <= 500 MB]")
    per_record = worker_cpu / args.records * 1e6
    print(f"worker CPU during the ingest: {worker_cpu:.1f}s, {per_record:.0f} us/record "
          "(its start-up before the command not counted, nor PostgreSQL)")  # fmt: skip
    print(f"PostgreSQL CPU during the ingest: {pg_cpu:.1f}s, "
          f"{pg_cpu / args.records * 1e6:.0f} us/record")  # fmt: skip
    # What bounds the figures above on this machine.
    cores = os.cpu_count() or 1
    cpu_floor = (worker_cpu + pg_cpu) / cores
    print(f"shortest ingest these CPU costs allow on {cores} cores: {cpu_floor:.1f}s, "
          f"{cpu_floor / copy_seconds:.2f}x the bare copy")  # fmt: skip
    budget = 2.5 * copy_seconds * cores / args.records * 1e6
    print(f"CPU budget per record for 2.5x: {budget:.0f} us (workers and PostgreSQL together)")
    print(f"PostgreSQL's write alone (binary COPY of the prepared rows, same table and indexes): "
          f"{write_seconds:.1f}s, {write_seconds / copy_seconds:.2f}x the bare copy")  # fmt: skip


if __name__ == "__main__":
    main()
