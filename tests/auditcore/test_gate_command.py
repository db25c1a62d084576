"""The `gate` and `replay` commands: the CI contract, exit codes and printed decisions."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditcore.models import Corpus, GateDecision, ReplayRun
from auditcore.services import replay as svc
from tests.support.fake_chat_server import FakeChatServer, running_fake_chat_server
from tests.support.gate_command import gate_args, run_command, write_csv

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_a_real_regression_fails_with_exit_1(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 200)
    with running_fake_chat_server() as url:
        code, out, _ = run_command("gate", *gate_args(corpus, url, "helpful", "refuses:0.2"))
    assert code == 1
    assert "Decision: FAIL" in out
    assert "baseline helped" in out
    assert "McNemar p" in out
    assert "Tango interval" in out
    decision = GateDecision.objects.get()
    assert decision.k == 200
    assert decision.n01 > 20
    assert out.count("billing") == 1


def test_an_identical_candidate_passes_with_exit_0(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 200)
    with running_fake_chat_server() as url:
        code, out, _ = run_command("gate", *gate_args(corpus, url, "helpful", "helpful"))
    assert code == 0, out
    assert "Decision: PASS" in out
    assert ReplayRun.objects.filter(status="succeeded").count() == 2
    assert Corpus.objects.get().name == "gate: prompts.csv"


def test_too_few_prompts_is_inconclusive_with_exit_3(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 40)
    with running_fake_chat_server() as url:
        code, out, _ = run_command("gate", *gate_args(corpus, url, "helpful", "helpful"))
    assert code == 3
    assert "Decision: INCONCLUSIVE" in out


def test_the_margin_and_concurrency_are_used(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 40)
    with FakeChatServer("helpful") as server:
        args = gate_args(corpus, server.base_url, "helpful", "helpful")
        code, _out, _ = run_command("gate", *args, "--margin", "0.1", "--concurrency", "2")
        assert server.max_in_flight <= 2
    assert code == 0
    assert GateDecision.objects.get().margin == 0.1


def test_the_openai_api_key_is_sent_as_bearer_token(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ci-key")
    corpus = write_csv(tmp_path / "prompts.csv", 40)
    with FakeChatServer("helpful", api_key="sk-ci-key") as server:
        code, _, _ = run_command("gate", *gate_args(corpus, server.base_url, "helpful", "helpful"))
        assert {r.authorization for r in server.completion_requests} == {"Bearer sk-ci-key"}
    assert code == 3


def test_an_unreachable_url_exits_2(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 5)
    with running_fake_chat_server() as url:
        pass  # the port is closed again
    code, _, err = run_command("gate", *gate_args(corpus, url, "helpful", "helpful"))
    assert code == 2
    assert "cannot reach" in err
    assert not GateDecision.objects.exists()


def test_an_endpoint_that_answers_garbage_exits_2(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 5)
    with running_fake_chat_server() as url:
        code, _, err = run_command("gate", *gate_args(corpus, url, "helpful", "malformed"))
    assert code == 2
    assert "answered none" in err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--baseline", "1"],
        ["--corpus-file", "x.csv", "--baseline-url", "http://x"],
        ["--baseline", "1", "--candidate", "2", "--corpus-file", "x.csv"],
        ["--baseline", "1", "--candidate", "2", "--margin", "1.5"],
    ],
)
def test_usage_errors_exit_2(args):
    code, _, err = run_command("gate", *args)
    assert code == 2
    assert err


def test_a_corpus_file_with_bad_lines_exits_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,category\nhello,a\n")
    code, _, err = run_command(
        "gate", *gate_args(path, "http://127.0.0.1:9/v1", "helpful", "helpful")
    )
    assert code == 2
    assert "prompt" in err
    code, _, err = run_command(
        "gate", *gate_args(tmp_path / "missing.csv", "http://127.0.0.1:9/v1", "a", "b")
    )
    assert code == 2


def test_the_real_command_line_exits_2_on_usage_errors():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    for args in (["--baseline", "1"], ["--margin", "abc"]):
        proc = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", "gate", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr


def stored_runs(lead, baseline_model, candidate_model, n=200):
    corpus = svc.corpus_create(actor=lead, name="must-help")
    for i in range(n):
        svc.corpus_prompt_add(actor=lead, corpus_id=corpus.pk, prompt=f"Explain thing {i}")
    runs = []
    with running_fake_chat_server() as url:
        for name, model in (("baseline", baseline_model), ("candidate", candidate_model)):
            svc.endpoint_create(actor=lead, name=name, base_url=url, model=model)
            code, out, _ = run_command("replay", "--corpus", "must-help", "--endpoint", name)
            assert code == 0, out
            assert f"{n}/{n}" in out
            runs.append(ReplayRun.objects.latest("id"))
    assert runs[0].snapshot_id == runs[1].snapshot_id
    return runs


def test_stored_runs_gate_and_an_accepted_fail_exits_0_saying_who_and_why(safety_lead):
    baseline, candidate = stored_runs(safety_lead, "helpful", "refuses:0.2")
    args = ["--baseline", str(baseline.pk), "--candidate", str(candidate.pk)]
    code, out, _ = run_command("gate", *args)
    assert code == 1
    assert "Decision: FAIL" in out

    decision = GateDecision.objects.get()
    svc.gate_decision_accept(
        actor=safety_lead, decision_id=decision.pk, reason="Launch needs the stricter filter"
    )
    code, out, _ = run_command("gate", *args)
    assert code == 0
    assert "ACCEPTED regression by bob" in out
    assert "Launch needs the stricter filter" in out
    # Another margin is another decision, not covered by the acceptance.
    code, _, _ = run_command("gate", *args, "--margin", "0.03")
    assert code == 1


def test_stored_runs_that_are_identical_pass(safety_lead):
    baseline, candidate = stored_runs(safety_lead, "helpful", "helpful")
    code, out, _ = run_command(
        "gate", "--baseline", str(baseline.pk), "--candidate", str(candidate.pk)
    )
    assert code == 0
    assert "Decision: PASS" in out


def test_gate_on_unknown_runs_exits_2():
    code, _, err = run_command("gate", "--baseline", "998", "--candidate", "999")
    assert code == 2
    assert "no replay run" in err


def test_replay_with_unknown_names_exits_2(safety_lead):
    code, _, err = run_command("replay", "--corpus", "nope", "--endpoint", "nope")
    assert code == 2
    assert "no corpus" in err


def test_replay_reports_failed_prompts_and_still_finishes(safety_lead):
    corpus = svc.corpus_create(actor=safety_lead, name="c")
    for text in ("fine prompt", "a FAIL-ME prompt", "another fine prompt"):
        svc.corpus_prompt_add(actor=safety_lead, corpus_id=corpus.pk, prompt=text)
    with running_fake_chat_server("fails-set") as url:
        svc.endpoint_create(actor=safety_lead, name="e", base_url=url, model="m", timeout_s=5)
        code, out, _ = run_command("replay", "--corpus", "c", "--endpoint", "e")
    assert code == 0
    assert "2 answered, 1 failed of 3" in out


def test_the_ci_command_line_exits_with_the_decision(tmp_path):
    """Exactly as a pipeline calls it: a fresh process, its own database, the real exit code."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ci.sqlite3'}",
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "ci-test",
    }
    env.pop("OPENAI_API_KEY", None)

    def manage(*args):
        return subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert manage("migrate", "-v0").returncode == 0
    corpus = write_csv(tmp_path / "prompts.csv", 200)
    with running_fake_chat_server() as url:
        passing = manage("gate", *gate_args(corpus, url, "helpful", "helpful"))
        failing = manage("gate", *gate_args(corpus, url, "helpful", "refuses:0.2"))
    assert passing.returncode == 0, passing.stderr
    assert "Decision: PASS" in passing.stdout
    assert failing.returncode == 1, failing.stderr
    assert "Decision: FAIL" in failing.stdout
    assert "HTTP Request" not in failing.stderr


def test_a_one_shot_gate_run_twice_on_the_same_file_leaves_one_corpus(tmp_path):
    corpus = write_csv(tmp_path / "prompts.csv", 40)
    with running_fake_chat_server() as url:
        for _ in range(2):
            code, out, _ = run_command("gate", *gate_args(corpus, url, "helpful", "helpful"))
            assert code in (0, 3), out
        assert Corpus.objects.count() == 1
        assert Corpus.objects.get().name == "gate: prompts.csv"
        assert GateDecision.objects.count() == 2
        # Both decisions replayed the one snapshot of the one corpus.
        assert ReplayRun.objects.values("snapshot_id").distinct().count() == 1
        # A changed file is another corpus.
        write_csv(corpus, 41)
        run_command("gate", *gate_args(corpus, url, "helpful", "helpful"))
    assert Corpus.objects.count() == 2


def test_a_configured_gateway_carries_both_replays(tmp_path, settings):
    corpus = write_csv(tmp_path / "prompts.csv", 40)
    unreachable = "http://127.0.0.1:9/v1"  # the models themselves are never called directly
    with FakeChatServer("helpful") as gateway:
        gateway_url = settings.REPLAY_GATEWAY_URL = gateway.base_url
        code, out, err = run_command(
            "gate", *gate_args(corpus, unreachable, "helpful", "refuses:0.2")
        )
        models = {r.body["model"] for r in gateway.completion_requests}
    assert code in (1, 3), out + err
    assert f"replaying through the gateway at {gateway_url}" in err
    assert models == {"helpful", "refuses:0.2"}
    assert ReplayRun.objects.filter(status="succeeded").count() == 2
