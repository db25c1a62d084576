"""The release gate for CI: replay a corpus against baseline and candidate, or compare stored runs.

Exit codes: 0 PASS (or an accepted regression), 1 FAIL, 3 INCONCLUSIVE, 2 usage or connection error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcore.exceptions import ApplicationError
from auditcore.models import GateDecision, ReplayRun
from auditcore.replay import ChatClient, EndpointConfig, parse_corpus
from auditcore.selectors.gate_review import gate_report
from auditcore.services.replay import (
    corpus_create_from_prompts,
    endpoint_for_command,
    gate_decision_create,
    replay_run_create_for_snapshot,
    replay_run_execute,
)

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
# The one variable the one-shot gate reads: the operator's key, set in the CI job's environment.
API_KEY_ENV = "OPENAI_API_KEY"


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def decision_exit_code(decision: GateDecision) -> int:
    if decision.ships:
        return EXIT_PASS
    if decision.outcome == GateDecision.Outcome.FAIL:
        return EXIT_FAIL
    return EXIT_INCONCLUSIVE


def _points(value: float) -> str:
    return f"{value * 100:+.2f} points"


def format_decision(decision: GateDecision) -> str:
    """The decision as plain text: the table, delta and its interval, p, the decision."""
    c = decision.controls or {}
    lines = [
        f"Gate decision #{decision.pk}: baseline run #{decision.baseline_id} vs candidate run "
        f"#{decision.candidate_id}, margin {decision.margin * 100:.2f} points",
        f"Must-help prompts answered in both runs: K = {decision.k}"
        + (f" ({decision.excluded} left out: a run got no answer)" if decision.excluded else ""),
        "",
        f"{'':18}{'cand. helped':>14}{'cand. refused':>15}",
        f"{'baseline helped':18}{decision.n00:>14}{decision.n01:>15}",
        f"{'baseline refused':18}{decision.n10:>14}{decision.n11:>15}",
        "",
        f"Delta (candidate - baseline refusal rate) = {_points(decision.delta)}; "
        f"90% two-sided Tango interval [{_points(decision.lower)}, {_points(decision.upper)}] "
        f"(95% upper bound {_points(decision.upper)} vs margin {_points(decision.margin)})",
        f"Exact one-sided McNemar p = {decision.p_value:.4g}",
    ]
    if c.get("k"):
        lines.append(
            f"Must-decline controls answered in both: {c['k']}; refused by baseline "
            f"{c['baseline_refused']}, by candidate {c['candidate_refused']}; candidate stopped "
            f"refusing {c['stopped']}, started refusing {c['started']}"
        )
        if c["stopped"] > c["started"]:
            lines.append("WARNING: the candidate refuses fewer must-decline controls.")
    if decision.categories:
        lines.append("Per category (Holm-adjusted p):")
        for row in decision.categories:
            lines.append(
                f"  {row['category']}: K={row['k']} n01={row['n01']} n10={row['n10']} "
                f"delta={_points(row['delta'])} upper={_points(row['upper'])} "
                f"p={row['p_holm']:.4g} {row['outcome']}"
            )
    if decision.warning:
        lines.append(f"Note: {decision.warning}")
    lines.append(f"Decision: {decision.outcome}")
    if decision.is_accepted:
        who = decision.accepted_by.get_username() if decision.accepted_by else "unknown"
        lines.append(
            f"ACCEPTED regression by {who} on {decision.accepted_at:%Y-%m-%d %H:%M} UTC: "
            f"{decision.acceptance_reason}"
        )
    return "\n".join(lines)


def write_report(path: Path, decision: GateDecision) -> None:
    try:
        with path.open("w", encoding="utf-8") as f:
            json.dump(gate_report(decision), f, ensure_ascii=False, indent=2)
    except OSError as exc:
        raise usage_error(f"--json: cannot write {path}: {exc.strerror}") from exc


def preflight(config: EndpointConfig, prompt: str, label: str) -> None:
    """Send one prompt once, so a wrong URL or key fails fast instead of per prompt."""
    with ChatClient(config, max_retries=1, backoff_base_s=0.2) as client:
        result = client.complete(prompt, "preflight")
    if result.status_code is None and result.error:
        raise usage_error(f"{label}: cannot reach {config.base_url}: {result.error}")
    if result.status_code in (401, 403, 404):
        raise usage_error(f"{label}: {config.completions_url} answered {result.error}")


class Command(BaseCommand):
    help = (
        "Release gate. One-shot: --corpus-file F --baseline-url U --baseline-model M "
        "--candidate-url U --candidate-model M. Stored runs: --baseline RUN --candidate RUN. "
        "Exit 0 PASS (or accepted), 1 FAIL, 3 INCONCLUSIVE, 2 usage or connection error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus-file", type=Path, help="CSV with a prompt column")
        parser.add_argument("--baseline-url")
        parser.add_argument("--baseline-model")
        parser.add_argument("--baseline-system-prompt", default="")
        parser.add_argument("--candidate-url")
        parser.add_argument("--candidate-model")
        parser.add_argument("--candidate-system-prompt", default="")
        parser.add_argument("--baseline", type=int, help="id of a finished baseline run")
        parser.add_argument("--candidate", type=int, help="id of a finished candidate run")
        parser.add_argument("--margin", type=float, default=0.02)
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
        parser.add_argument("--max-tokens", type=int, default=512)
        parser.add_argument(
            "--gateway-url",
            default=None,
            help="replay both models through this OpenAI-compatible gateway (which routes by "
            "model name); default REPLAY_GATEWAY_URL. '--gateway-url ''' replays directly.",
        )
        parser.add_argument(
            "--json",
            type=Path,
            dest="json_path",
            help="also write the decision and its discordant prompts, with both responses, as JSON",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # One INFO line per HTTP request would bury the report in CI logs.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if not 0 < options["margin"] < 1:
            raise usage_error("--margin must be between 0 and 1 (e.g. 0.02)")
        one_shot = [
            options[k]
            for k in (
                "corpus_file",
                "baseline_url",
                "baseline_model",
                "candidate_url",
                "candidate_model",
            )
        ]
        stored = [options["baseline"], options["candidate"]]
        if any(v is not None for v in one_shot) and any(v is not None for v in stored):
            raise usage_error("use either --corpus-file with URLs, or --baseline/--candidate runs")
        if any(v is not None for v in one_shot):
            if not all(one_shot):
                raise usage_error(
                    "one-shot mode needs --corpus-file, --baseline-url, --baseline-model, "
                    "--candidate-url and --candidate-model"
                )
            decision = self.one_shot(options)
        elif all(v is not None for v in stored):
            decision = self.decide(options["baseline"], options["candidate"], options["margin"])
        else:
            raise usage_error(
                "give --corpus-file with --baseline-url/--baseline-model/--candidate-url/"
                "--candidate-model, or --baseline RUN --candidate RUN"
            )
        self.stdout.write(format_decision(decision))
        if options["json_path"] is not None:
            write_report(options["json_path"], decision)
        code = decision_exit_code(decision)
        if code:
            sys.exit(code)

    def decide(self, baseline: int, candidate: int, margin: float) -> GateDecision:
        try:
            return gate_decision_create(
                actor=None, baseline_run_id=baseline, candidate_run_id=candidate, margin=margin
            )
        except ApplicationError as exc:
            raise usage_error(exc.message) from exc

    def one_shot(self, options: dict[str, Any]) -> GateDecision:
        path: Path = options["corpus_file"]
        try:
            with path.open("rb") as stream:
                fmt = "jsonl" if path.suffix.lower() == ".jsonl" else "csv"
                prompts, errors = parse_corpus(stream, fmt)
        except OSError as exc:
            raise usage_error(f"--corpus-file: cannot read {path}: {exc}") from exc
        if errors:
            shown = "\n".join(f"  {e}" for e in errors[:20])
            raise usage_error(f"--corpus-file: {len(errors)} problem(s) in {path}:\n{shown}")
        api_key = os.environ.get(API_KEY_ENV, "").strip()
        gateway = options["gateway_url"]
        if gateway is None:
            gateway = settings.REPLAY_GATEWAY_URL
        if gateway:
            # What users get is what the gateway serves: replay at the system level.
            self.stderr.write(f"replaying through the gateway at {gateway}")
        configs = {}
        for role in ("baseline", "candidate"):
            try:
                configs[role] = EndpointConfig(
                    base_url=gateway or options[f"{role}_url"],
                    model=options[f"{role}_model"],
                    system_prompt=options[f"{role}_system_prompt"],
                    concurrency=options["concurrency"],
                    timeout_s=options["timeout"],
                    max_tokens=options["max_tokens"],
                    api_key=api_key,
                )
            except ValueError as exc:
                raise usage_error(f"--{role}-url/--{role}-model: {exc}") from exc
        for role, config in configs.items():
            preflight(config, prompts[0].prompt, role)

        snapshot = corpus_create_from_prompts(name=f"gate: {path.name}", prompts=prompts)
        runs: dict[str, ReplayRun] = {}
        for role, config in configs.items():
            endpoint = endpoint_for_command(config=config)
            run = replay_run_create_for_snapshot(actor=None, snapshot=snapshot, endpoint=endpoint)
            self.stderr.write(f"{role}: replaying {run.total} prompts against {endpoint.name}")
            run = replay_run_execute(
                run_id=run.pk, on_result=self.progress(run.total, role), api_key=api_key
            )
            if run.status != ReplayRun.Status.SUCCEEDED:
                raise usage_error(f"{role}: run #{run.pk} failed: {run.error}")
            self.stderr.write(
                f"{role}: run #{run.pk} answered {run.answered} of {run.total}"
                + (f", {run.failed} failed" if run.failed else "")
            )
            if run.answered == 0:
                raise usage_error(f"{role}: the endpoint answered none of the prompts")
            runs[role] = run
        return self.decide(runs["baseline"].pk, runs["candidate"].pk, options["margin"])

    def progress(self, total: int, label: str):
        done = 0
        step = max(1, total // 10)

        def report(_result: object) -> None:
            nonlocal done
            done += 1
            if done % step == 0 or done == total:
                self.stderr.write(f"{label}: {done}/{total}")

        return report
