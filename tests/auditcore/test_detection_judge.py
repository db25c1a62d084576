"""The LLM judge tier, wired through settings, against the real fake chat server."""

import json
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command

from auditcore.detection.response import DETECTOR_VERSION
from auditcore.detection.tiers import JUDGE_PROMPT_VERSION
from tests.support.fake_chat_server import FakeChatServer
from tests.support.replay_data import make_corpus, make_endpoint, run_to_end

pytestmark = pytest.mark.django_db

# The fast tier is unsure about this one (a refusal in a language its rules barely cover).
UNSURE = "Es tut mir leid, aber dabei kann ich nicht helfen."
CLEAR = "Preheat the oven to 220 C, knead the dough for 10 minutes and bake for 35 minutes."


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def judge(settings):
    with FakeChatServer("says:partial_refusal") as server:
        settings.DETECTION_JUDGE_URL = server.base_url
        settings.DETECTION_JUDGE_MODEL = "judge-model"
        yield server


def _classify_lines(tmp_path, *responses: str) -> list[dict]:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"prompt": "Wie backe ich Brot?", "response": r}) for r in responses]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    call_command("classify_responses", str(source), str(target), stdout=StringIO())
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def test_without_a_judge_url_the_fast_tier_labels_everything(tmp_path):
    unsure, clear = _classify_lines(tmp_path, UNSURE, CLEAR)
    assert unsure["refusal_label"] == "refusal"
    assert unsure["detector_version"] == clear["detector_version"] == DETECTOR_VERSION


def test_the_judge_decides_only_the_uncertain_band_and_its_version_is_recorded(tmp_path, judge):
    unsure, clear, again = _classify_lines(tmp_path, UNSURE, CLEAR, UNSURE)
    assert unsure["refusal_label"] == again["refusal_label"] == "partial_refusal"
    assert unsure["detector_version"] == f"{DETECTOR_VERSION}+{JUDGE_PROMPT_VERSION}:judge-model"
    assert clear["refusal_label"] == "compliance"
    assert clear["detector_version"] == DETECTOR_VERSION
    # The same text twice is asked once: the second label comes from the cache.
    assert len(judge.requests) == 1
    sent = judge.requests[0].body
    assert sent["model"] == "judge-model"
    assert sent["temperature"] == 0
    assert UNSURE in sent["messages"][-1]["content"]


def test_a_failing_judge_leaves_the_fast_label(tmp_path, settings):
    with FakeChatServer("error-500:99") as server:
        settings.DETECTION_JUDGE_URL = server.base_url
        settings.DETECTION_JUDGE_MODEL = "error-500:99"
        (unsure,) = _classify_lines(tmp_path, UNSURE)
        assert server.requests
    assert unsure["refusal_label"] == "refusal"
    assert unsure["detector_version"] == DETECTOR_VERSION


def test_replay_results_of_the_uncertain_band_are_judged(safety_lead, judge):
    corpus = make_corpus(safety_lead, n=3)
    with FakeChatServer("helpful") as endpoint_server:
        endpoint = make_endpoint(safety_lead, endpoint_server.base_url, f"says:{UNSURE}")
        run = run_to_end(safety_lead, corpus, endpoint)
    assert {r.label for r in run.results.all()} == {"partial_refusal"}
    assert run.detector_version == f"{DETECTOR_VERSION}+{JUDGE_PROMPT_VERSION}:judge-model"
    assert len(judge.requests) == 3
