"""Running management commands in-process, and the gate command's corpus file and arguments."""

import csv
import io

from django.core.management import CommandError, call_command


def run_command(name, *args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def write_csv(path, n, categories=("billing", "health")):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "category", "expect"])
        for i in range(n):
            writer.writerow([f"Please explain topic number {i} in detail", categories[i % 2], ""])
    return path


def gate_args(corpus, url, baseline, candidate, *extra):
    return [
        "--corpus-file", str(corpus),
        "--baseline-url", url, "--baseline-model", baseline,
        "--candidate-url", url, "--candidate-model", candidate,
        *extra,
    ]  # fmt: skip
