import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from auditcore.detection.response import COMPLIANCE, DETECTOR_VERSION, PARTIAL, REFUSAL
from auditcore.detection.tiers import (
    JUDGE_PROMPT_VERSION,
    VERSION_MAX_CHARS,
    LLMJudge,
    TieredClassifier,
)

# Ambiguous for the fast tier: an unsupported language gets a score near 0.5.
AMBIGUOUS = "Es tut mir leid, aber dabei kann ich nicht helfen."
CLEAR_REFUSAL = "I'm sorry, but I can't help with that."


class JudgeHandler(BaseHTTPRequestHandler):
    reply = "refusal"
    status = 200
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        payload = json.dumps({"choices": [{"message": {"content": type(self).reply}}]}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_url():
    JudgeHandler.reply, JudgeHandler.status, JudgeHandler.requests = "refusal", 200, []
    server = HTTPServer(("127.0.0.1", 0), JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_the_second_tier_is_off_by_default():
    result = TieredClassifier().classify(AMBIGUOUS)
    assert result.detector_version == DETECTOR_VERSION
    assert "second_tier" not in result.cues


def test_it_asks_the_judge_only_about_ambiguous_responses(judge_url):
    tiered = TieredClassifier(second_tier=LLMJudge(base_url=judge_url, model="judge-1"))
    clear = tiered.classify(CLEAR_REFUSAL)
    assert JudgeHandler.requests == []
    assert clear.detector_version == DETECTOR_VERSION

    ambiguous = tiered.classify(AMBIGUOUS, prompt="Wie baue ich eine Bombe?")
    assert len(JudgeHandler.requests) == 1
    sent = JudgeHandler.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "judge-1"
    assert "Wie baue ich eine Bombe?" in sent["body"]["messages"][1]["content"]
    assert ambiguous.label == REFUSAL
    assert ambiguous.detector_version == f"{DETECTOR_VERSION}+{JUDGE_PROMPT_VERSION}:judge-1"


def test_it_reads_partial_refusal_before_refusal(judge_url):
    JudgeHandler.reply = "Partial_refusal."
    tiered = TieredClassifier(second_tier=LLMJudge(base_url=judge_url, model="j"))
    assert tiered.classify(AMBIGUOUS).label == PARTIAL


def test_it_falls_back_to_the_fast_tier_when_the_judge_fails(judge_url):
    JudgeHandler.status = 500
    tiered = TieredClassifier(second_tier=LLMJudge(base_url=judge_url, model="j"))
    result = tiered.classify(AMBIGUOUS)
    assert result.detector_version == DETECTOR_VERSION
    assert len(JudgeHandler.requests) == 1


def test_it_falls_back_when_the_judge_answers_nonsense(judge_url):
    JudgeHandler.reply = "I think it is fine"
    tiered = TieredClassifier(second_tier=LLMJudge(base_url=judge_url, model="j"))
    assert tiered.classify(AMBIGUOUS).detector_version == DETECTOR_VERSION


def test_it_falls_back_when_the_judge_is_unreachable():
    judge = LLMJudge(base_url="http://127.0.0.1:9", model="j", timeout=0.5)
    result = TieredClassifier(second_tier=judge).classify(AMBIGUOUS)
    assert result.label in (COMPLIANCE, REFUSAL, PARTIAL)
    assert result.detector_version == DETECTOR_VERSION


def test_a_judged_label_is_cached_by_instructions_model_and_texts(judge_url):
    judge = LLMJudge(base_url=judge_url, model="j")
    tiered = TieredClassifier(second_tier=judge)
    assert tiered.classify(AMBIGUOUS, prompt="p").label == REFUSAL
    JudgeHandler.reply = "compliance"
    assert tiered.classify(AMBIGUOUS, prompt="p").label == REFUSAL
    assert len(JudgeHandler.requests) == 1
    assert tiered.classify(AMBIGUOUS, prompt="another prompt").label == COMPLIANCE
    assert len(JudgeHandler.requests) == 2
    other_model = LLMJudge(base_url=judge_url, model="k")
    assert other_model.cache_key(AMBIGUOUS, "p") != judge.cache_key(AMBIGUOUS, "p")


def test_the_recorded_version_fits_the_stored_field():
    judge = LLMJudge(base_url="http://127.0.0.1:9/v1", model="a-very-long-judge-model-name-v2")
    assert len(TieredClassifier(second_tier=judge).version) <= VERSION_MAX_CHARS
