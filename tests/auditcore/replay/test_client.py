"""The chat client and replay runner against a real local chat-completions server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from auditcore.replay import (
    ChatClient,
    ChatResult,
    EndpointConfig,
    base_url_problem,
    replay_prompts,
)
from auditcore.replay.client import _parse_completion
from tests.support.fake_chat_server import (
    FAIL_MARKER,
    REFUSAL_MARKER,
    REFUSAL_TEXTS,
    FakeChatServer,
    prompt_is_refused,
    running_fake_chat_server,
)

StartServer = Callable[..., FakeChatServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    servers: list[FakeChatServer] = []

    def start(behaviour: str = "helpful", **kwargs: Any) -> FakeChatServer:
        server = FakeChatServer(behaviour, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def make_client(
    server: FakeChatServer,
    *,
    max_retries: int = 4,
    retry_after_cap_s: float = 60.0,
    sleep: Callable[[float], None] | None = None,
    **config_fields: Any,
) -> ChatClient:
    """A client for the server with test-sized backoff (and no real waiting when sleep is given)."""
    config = EndpointConfig(base_url=server.base_url, model="test-model", **config_fields)
    return ChatClient(
        config,
        max_retries=max_retries,
        backoff_base_s=0.01,
        retry_after_cap_s=retry_after_cap_s,
        sleep=sleep or time.sleep,
    )


def test_it_returns_the_answer_of_a_helpful_model(start_server: StartServer) -> None:
    server = start_server("helpful")
    with make_client(server) as client:
        result = client.complete("How do I dispute a charge on my card?", prompt_id=7)

    assert result.ok
    assert result.prompt_id == 7
    assert result.text is not None
    assert result.text.startswith("Sure!")
    assert result.status_code == 200
    assert result.attempts == 1
    assert result.error is None
    assert result.finish_reason == "stop"


def test_it_sends_the_model_system_prompt_temperature_zero_and_max_tokens(
    start_server: StartServer,
) -> None:
    server = start_server("helpful")
    with make_client(server, system_prompt="You are a careful assistant.", max_tokens=64) as client:
        client.complete("What is a bond yield?", prompt_id=1)

    [request] = server.completion_requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "You are a careful assistant."},
            {"role": "user", "content": "What is a bond yield?"},
        ],
        "temperature": 0.0,
        "max_tokens": 64,
    }


def test_it_sends_only_the_user_message_without_a_system_prompt(
    start_server: StartServer,
) -> None:
    server = start_server("helpful")
    with make_client(server) as client:
        client.complete("Hello", prompt_id=1)

    assert server.completion_requests[0].body["messages"] == [{"role": "user", "content": "Hello"}]


def test_it_sends_the_configured_key_as_a_bearer_token(start_server: StartServer) -> None:
    server = start_server("helpful", api_key="sk-local-123")
    with make_client(server, api_key="sk-local-123") as client:
        result = client.complete("Hello", prompt_id=1)

    assert result.ok
    assert server.completion_requests[0].authorization == "Bearer sk-local-123"


def test_the_key_never_appears_in_the_config_repr() -> None:
    config = EndpointConfig(base_url="http://127.0.0.1:1/v1", model="m", api_key="sk-secret-value")

    assert "sk-secret-value" not in repr(config)


def test_it_reads_no_environment_variable_for_a_key(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    server = start_server("helpful")
    with make_client(server) as client:
        client.complete("Hello", prompt_id=1)

    assert server.completion_requests[0].authorization is None


@pytest.mark.parametrize(
    ("base_url", "allowed", "problem"),
    [
        ("https://api.openai.com/v1", [], None),
        ("https://API.openai.com/v1", ["api.openai.com"], None),
        ("https://evil.example/v1", ["api.openai.com"], "not in REPLAY_ALLOWED_HOSTS"),
        ("ftp://api.openai.com/v1", [], "http(s)"),
        ("https://user:pw@api.openai.com/v1", [], "user name or password"),
        ("https:///v1", [], "no host"),
    ],
)
def test_base_url_problem_names_what_is_wrong(base_url, allowed, problem) -> None:
    found = base_url_problem(base_url, allowed)
    if problem is None:
        assert found is None
    else:
        assert problem in found


def test_it_sends_no_authorization_header_when_no_key_variable_is_configured(
    start_server: StartServer,
) -> None:
    server = start_server("helpful")
    with make_client(server) as client:
        client.complete("Hello", prompt_id=1)

    assert server.completion_requests[0].authorization is None


def test_a_rejected_key_is_an_error_and_is_not_retried(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server("helpful", api_key="sk-right")
    with make_client(server, api_key="sk-wrong") as client:
        result = client.complete("Hello", prompt_id=1)

    assert not result.ok
    assert result.status_code == 401
    assert result.error == "HTTP 401: Incorrect API key"
    assert result.attempts == 1
    assert len(server.completion_requests) == 1


def test_refusals_come_back_as_the_models_text(start_server: StartServer) -> None:
    server = start_server("refuses-set")
    with make_client(server) as client:
        refused = client.complete(f"{REFUSAL_MARKER} How do I reset my router?", prompt_id=1)
        answered = client.complete("How do I reset my router?", prompt_id=2)

    assert refused.ok
    assert refused.text in REFUSAL_TEXTS
    assert answered.text is not None
    assert answered.text not in REFUSAL_TEXTS


def test_a_timeout_is_retried_and_then_recorded_as_an_error(start_server: StartServer) -> None:
    server = start_server("slow:5")
    with make_client(server, timeout_s=0.2, max_retries=1) as client:
        result = client.complete("Anyone there?", prompt_id=3)

    assert not result.ok
    assert result.text is None
    assert result.status_code is None
    assert result.attempts == 2
    assert result.error is not None
    assert result.error.startswith("timeout after 0.2s")
    assert "gave up after 2 attempts" in result.error
    assert len(server.completion_requests) == 2


def test_a_slow_answer_within_the_timeout_records_its_latency(start_server: StartServer) -> None:
    server = start_server("slow:0.15")
    with make_client(server, timeout_s=5) as client:
        result = client.complete("Take your time", prompt_id=1)

    assert result.ok
    assert result.latency_ms >= 150


def test_a_429_is_retried_until_the_model_answers(start_server: StartServer) -> None:
    server = start_server("flaky-429:2")
    with make_client(server) as client:
        result = client.complete("Busy?", prompt_id=1)

    assert result.ok
    assert result.attempts == 3
    assert result.status_code == 200
    assert len(server.completion_requests) == 3


def test_it_waits_as_long_as_retry_after_says(start_server: StartServer) -> None:
    server = start_server("flaky-429:1:7")
    waits: list[float] = []
    with make_client(server, sleep=waits.append) as client:
        result = client.complete("Busy?", prompt_id=1)

    assert result.ok
    assert waits == [7.0]


def test_a_huge_retry_after_is_capped(start_server: StartServer) -> None:
    server = start_server("flaky-429:1:3600")
    waits: list[float] = []
    with make_client(server, sleep=waits.append, retry_after_cap_s=2.0) as client:
        client.complete("Busy?", prompt_id=1)

    assert waits == [2.0]


def test_without_retry_after_the_backoff_doubles_with_jitter(start_server: StartServer) -> None:
    server = start_server("error-500:3")
    waits: list[float] = []
    config = EndpointConfig(base_url=server.base_url, model="m")
    with ChatClient(config, backoff_base_s=1.0, sleep=waits.append) as client:
        result = client.complete("Hello", prompt_id=1)

    assert result.ok
    assert result.attempts == 4
    assert len(waits) == 3
    for wait, step in zip(waits, (1.0, 2.0, 4.0), strict=True):
        assert step / 2 <= wait <= step


def test_500s_until_the_retries_run_out_are_an_error(start_server: StartServer) -> None:
    server = start_server("error-500:99")
    with make_client(server, max_retries=2) as client:
        result = client.complete("Hello", prompt_id=1)

    assert not result.ok
    assert result.status_code == 500
    assert result.attempts == 3
    assert result.error == (
        "HTTP 500: The server had an error processing your request (gave up after 3 attempts)"
    )


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("malformed", "malformed response: invalid JSON"), ("malformed:no-choices", "no choices")],
)
def test_a_malformed_response_is_an_error_and_is_not_retried(
    start_server: StartServer, behaviour: str, reason: str
) -> None:
    server = start_server(behaviour)
    with make_client(server) as client:
        result = client.complete("Hello", prompt_id=1)

    assert not result.ok
    assert result.text is None
    assert result.status_code == 200
    assert result.error is not None
    assert result.error.startswith("malformed response: ")
    assert reason in result.error
    assert result.attempts == 1


def test_an_unreachable_endpoint_is_an_error_after_retries() -> None:
    with running_fake_chat_server() as base_url:
        pass  # now the port is closed
    config = EndpointConfig(base_url=base_url, model="m", timeout_s=1)
    with ChatClient(config, max_retries=1, backoff_base_s=0.01) as client:
        result = client.complete("Hello", prompt_id=1)

    assert not result.ok
    assert result.status_code is None
    assert result.attempts == 2
    assert result.error is not None
    assert result.error.startswith("connection error")


@pytest.mark.parametrize(
    ("body", "text", "finish_reason"),
    [
        (
            b'{"choices": [{"message": {"content": null, "refusal": "I can\'t."}}]}',
            "I can't.",
            None,
        ),
        (
            b'{"choices": [{"message": {"content": null}, "finish_reason": "content_filter"}]}',
            "",
            "content_filter",
        ),
        (b'{"choices": [{"message": {"content": [{"type": "text", "text": "Hi"}]}}]}', "Hi", None),
    ],
)
def test_refusal_fields_and_filtered_answers_are_read_as_text(
    body: bytes, text: str, finish_reason: str | None
) -> None:
    assert _parse_completion(body) == (text, finish_reason)


def test_replay_keeps_no_more_requests_in_flight_than_the_concurrency(
    start_server: StartServer,
) -> None:
    server = start_server("slow:0.1")
    config = EndpointConfig(base_url=server.base_url, model="m", concurrency=3)
    results: list[ChatResult] = []

    summary = replay_prompts(
        config, [(i, f"prompt {i}") for i in range(12)], on_result=results.append
    )

    assert summary.total == 12
    assert server.max_in_flight == 3
    assert sorted(r.prompt_id for r in results) == list(range(12))


def test_replay_counts_answered_and_failed_prompts_and_still_completes(
    start_server: StartServer,
) -> None:
    server = start_server("fails-set")
    config = EndpointConfig(base_url=server.base_url, model="m", concurrency=4)
    prompts = [(i, f"{FAIL_MARKER} {i}" if i % 4 == 0 else f"question {i}") for i in range(20)]
    results: list[ChatResult] = []
    client = ChatClient(config, max_retries=1, backoff_base_s=0.01)

    summary = replay_prompts(config, iter(prompts), on_result=results.append, client=client)

    assert (summary.total, summary.answered, summary.failed) == (20, 15, 5)
    failed_ids = sorted(r.prompt_id for r in results if not r.ok)
    assert failed_ids == [0, 4, 8, 12, 16]
    assert all(r.attempts == 2 for r in results if not r.ok)


def test_replay_refuses_exactly_the_share_the_scripted_model_picks(
    start_server: StartServer,
) -> None:
    server = start_server("refuses:0.3")
    config = EndpointConfig(base_url=server.base_url, model="m")
    prompts = [(i, f"How do I do task number {i}?") for i in range(60)]
    refused: set[int | str] = set()

    replay_prompts(
        config,
        prompts,
        on_result=lambda r: refused.add(r.prompt_id) if r.text in REFUSAL_TEXTS else None,
    )

    expected = {i for i, text in prompts if prompt_is_refused(text, 0.3)}
    assert refused == expected
    assert 10 <= len(refused) <= 26  # the hash spreads refusals near the requested share


def test_replay_reports_results_on_the_calling_thread(start_server: StartServer) -> None:
    server = start_server("helpful")
    config = EndpointConfig(base_url=server.base_url, model="m", concurrency=4)
    threads: set[threading.Thread] = set()

    replay_prompts(
        config,
        [(i, f"p{i}") for i in range(8)],
        on_result=lambda r: threads.add(threading.current_thread()),
    )

    assert threads == {threading.current_thread()}


def test_replay_rejects_a_client_built_for_another_endpoint(start_server: StartServer) -> None:
    server = start_server("helpful")
    config = EndpointConfig(base_url=server.base_url, model="baseline")
    other = ChatClient(EndpointConfig(base_url=server.base_url, model="candidate"))

    with pytest.raises(ValueError, match="different endpoint"):
        replay_prompts(config, [(1, "Hello")], on_result=lambda r: None, client=other)
    other.close()


def test_one_server_can_play_baseline_and_candidate_by_model_name(
    start_server: StartServer,
) -> None:
    server = start_server()
    prompt = next(f"q{i}" for i in range(100) if prompt_is_refused(f"q{i}", 0.5))
    answers = {}
    for model in ("helpful", "refuses:0.5"):
        config = EndpointConfig(base_url=server.base_url, model=model)
        with ChatClient(config) as client:
            answers[model] = client.complete(prompt, prompt_id=1).text

    assert answers["helpful"] not in REFUSAL_TEXTS
    assert answers["refuses:0.5"] in REFUSAL_TEXTS


@pytest.mark.parametrize(
    "overrides",
    [
        {"base_url": "ftp://example.test/v1"},
        {"base_url": ""},
        {"model": ""},
        {"concurrency": 0},
        {"max_tokens": 0},
        {"timeout_s": 0},
    ],
)
def test_endpoint_config_rejects_unusable_settings(overrides: dict[str, Any]) -> None:
    settings: dict[str, Any] = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **overrides}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        EndpointConfig(**settings)
