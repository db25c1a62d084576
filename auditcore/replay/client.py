"""OpenAI chat-completions client with retries, and a bounded-concurrency replay of prompts."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from auditcore.lazy import LazyModule

httpx = LazyModule("httpx")  # imported by the first request, not by every worker that loads this

PromptId = int | str

# Server-supplied text (error bodies) is untrusted and may be huge; keep only enough to diagnose.
_DETAIL_CHARS = 200
_USER_AGENT = "refusal-audit-replay/0.1"


def base_url_problem(base_url: str, allowed_hosts: Iterable[str] = ()) -> str | None:
    """Why ``base_url`` may not receive an endpoint's key, or None when it may.

    Only http(s) URLs with a host and without credentials in them; with ``allowed_hosts`` given,
    only those hosts (case-insensitive, exact match).
    """
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
    except ValueError:
        return f"{base_url!r} is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"must be an http(s) URL, got {base_url!r}"
    if not host:
        return f"{base_url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password; give the API key in its own field"
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    if allowed and host.lower() not in allowed:
        return f"host {host} is not in REPLAY_ALLOWED_HOSTS"
    return None


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to call an OpenAI-compatible chat endpoint.

    ``base_url`` is the API root that ``/chat/completions`` is appended to, e.g.
    ``https://api.openai.com/v1``. ``api_key`` is the bearer token itself (kept out of ``repr`` so
    it never lands in a log line or a traceback); whoever builds the config decides where it comes
    from: an endpoint's encrypted key, or the operator's OPENAI_API_KEY for the command-line gate.
    """

    base_url: str
    model: str
    system_prompt: str = ""
    temperature: float = 0.0
    max_tokens: int = 512
    concurrency: int = 8
    timeout_s: float = 30.0
    api_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        problem = base_url_problem(self.base_url)
        if problem:
            raise ValueError(f"base_url {problem}")
        if not self.model:
            raise ValueError("model must not be empty")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    @property
    def completions_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


@dataclass(frozen=True)
class ChatResult:
    """The outcome of one prompt: the response text, or the error that ended the attempts.

    ``latency_ms`` is the duration of the last attempt (the one that produced this result), so
    retry waits do not inflate the model's measured latency. ``status_code`` is None when no HTTP
    response arrived (timeout, connection error).
    """

    prompt_id: PromptId
    text: str | None
    status_code: int | None
    latency_ms: int
    attempts: int
    error: str | None
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass(frozen=True)
class ReplaySummary:
    total: int
    answered: int
    failed: int


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; carries what to report if retries run out."""

    def __init__(self, error: str, status_code: int | None, retry_after_s: float | None) -> None:
        super().__init__(error)
        self.error = error
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class ChatClient:
    """Sends one prompt at a time to an endpoint; thread-safe, so workers can share one instance.

    Retries 429, 5xx, timeouts and connection failures with exponential backoff and jitter,
    honouring Retry-After (capped). Other 4xx and malformed bodies are not retried: repeating them
    would give the same answer.
    """

    def __init__(
        self,
        config: EndpointConfig,
        *,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        max_backoff_s: float = 30.0,
        retry_after_cap_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.config = config
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.retry_after_cap_s = retry_after_cap_s
        self._sleep = sleep
        self._owns_http = http_client is None
        # One pooled client shared by all workers; the pool is as wide as the concurrency so a
        # worker never waits for a connection (which would surface as a spurious PoolTimeout).
        self._http = http_client or httpx.Client(
            timeout=httpx.Timeout(config.timeout_s),
            limits=httpx.Limits(
                max_connections=config.concurrency,
                max_keepalive_connections=config.concurrency,
            ),
            headers={"User-Agent": _USER_AGENT},
            # The key goes to the configured host only: a redirect is reported, never followed.
            follow_redirects=False,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_body(self, prompt: str | Sequence[dict[str, str]]) -> dict[str, Any]:
        """A prompt (a string) or a whole conversation (messages ending in a user turn)."""
        messages = []
        if self.config.system_prompt:
            messages.append({"role": "system", "content": self.config.system_prompt})
        if isinstance(prompt, str):
            messages.append({"role": "user", "content": prompt})
        else:
            messages += [{"role": m["role"], "content": m["content"]} for m in prompt]
        return {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }

    def complete(self, prompt: str | Sequence[dict[str, str]], prompt_id: PromptId) -> ChatResult:
        """Send one prompt; never raises for endpoint misbehaviour."""
        headers = {}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        body = self.request_body(prompt)

        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                return self._attempt(body, headers, prompt_id, attempt, started)
            except _Retryable as failure:
                latency_ms = _elapsed_ms(started)
                if attempt > self.max_retries:
                    return ChatResult(
                        prompt_id=prompt_id,
                        text=None,
                        status_code=failure.status_code,
                        latency_ms=latency_ms,
                        attempts=attempt,
                        error=f"{failure.error} (gave up after {attempt} attempts)",
                    )
                self._sleep(self._delay_before_retry(attempt, failure.retry_after_s))

    def _attempt(
        self,
        body: dict[str, Any],
        headers: dict[str, str],
        prompt_id: PromptId,
        attempt: int,
        started: float,
    ) -> ChatResult:
        try:
            response = self._http.post(self.config.completions_url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retryable(
                f"timeout after {self.config.timeout_s:g}s ({type(exc).__name__})", None, None
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(f"connection error: {_short(str(exc))}", None, None) from exc
        except httpx.RequestError as exc:
            # Anything else (undecodable body, bad redirect) is a per-prompt failure, not a crash.
            return ChatResult(
                prompt_id=prompt_id,
                text=None,
                status_code=None,
                latency_ms=_elapsed_ms(started),
                attempts=attempt,
                error=f"request failed: {type(exc).__name__}: {_short(str(exc))}",
            )
        latency_ms = _elapsed_ms(started)

        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(
                f"HTTP {status}: {_error_detail(response)}", status, _retry_after_s(response)
            )

        def failed(error: str) -> ChatResult:
            return ChatResult(
                prompt_id=prompt_id,
                text=None,
                status_code=status,
                latency_ms=latency_ms,
                attempts=attempt,
                error=error,
            )

        if status >= 400:
            return failed(f"HTTP {status}: {_error_detail(response)}")
        if response.is_redirect:
            location = _short(response.headers.get("location", ""))
            return failed(f"HTTP {status}: redirect to {location!r} not followed")
        try:
            text, finish_reason = _parse_completion(response.content)
        except ValueError as exc:
            return failed(f"malformed response: {exc}")
        return ChatResult(
            prompt_id=prompt_id,
            text=text,
            status_code=status,
            latency_ms=latency_ms,
            attempts=attempt,
            error=None,
            finish_reason=finish_reason,
        )

    def _delay_before_retry(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.retry_after_cap_s)
        ceiling = min(self.max_backoff_s, self.backoff_base_s * 2 ** (attempt - 1))
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero,
        # spread over the other half so parallel workers don't retry in lockstep.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


def replay_prompts(
    config: EndpointConfig,
    prompts: Iterable[tuple[PromptId, str | Sequence[dict[str, str]]]],
    *,
    on_result: Callable[[ChatResult], None],
    client: ChatClient | None = None,
) -> ReplaySummary:
    """Send every prompt to the endpoint with at most ``config.concurrency`` requests in flight.

    ``on_result`` is called on the calling thread, once per prompt, in completion order, so it can
    safely write to the database (connections are per thread) and report progress. Failed prompts
    are counted, not raised; the run always completes unless ``on_result`` raises.
    """
    if client is not None and client.config != config:
        raise ValueError("client was built for a different endpoint config")

    own_client = client is None
    chat = client or ChatClient(config)
    total = answered = 0
    # Submitting lazily keeps memory flat for large corpora and lets a generator feed the run.
    max_pending = config.concurrency * 2
    executor = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="replay")
    pending: set[Future[ChatResult]] = set()

    def drain_one_or_more() -> None:
        nonlocal total, answered, pending
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            result = future.result()
            total += 1
            answered += result.ok
            on_result(result)

    try:
        for prompt_id, text in prompts:
            pending.add(executor.submit(chat.complete, text, prompt_id))
            if len(pending) >= max_pending:
                drain_one_or_more()
        while pending:
            drain_one_or_more()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        if own_client:
            chat.close()
    return ReplaySummary(total=total, answered=answered, failed=total - answered)


def _parse_completion(content: bytes) -> tuple[str, str | None]:
    """Return (text, finish_reason) from a chat-completion body; ValueError names what is wrong."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError("no choices")
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        raise ValueError("choices[0] has no message")
    message = choice["message"]
    finish_reason = choice.get("finish_reason")
    finish_reason = finish_reason if isinstance(finish_reason, str) else None

    content_value = message.get("content")
    if isinstance(content_value, str):
        return content_value, finish_reason
    if isinstance(content_value, list):
        # Some compatible servers return content parts instead of a string.
        parts = [p.get("text", "") for p in content_value if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str)), finish_reason
    # OpenAI reports a model's own refusal in `message.refusal` with null content, and a
    # provider-side block as finish_reason "content_filter": both are refusals to classify.
    if isinstance(message.get("refusal"), str):
        return message["refusal"], finish_reason
    if content_value is None and finish_reason == "content_filter":
        return "", finish_reason
    raise ValueError("choices[0].message.content is missing")


def _retry_after_s(response: httpx.Response) -> float | None:
    # OpenAI sends the more precise retry-after-ms next to the standard header.
    millis = response.headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
        message = data["error"]["message"]
        if isinstance(message, str):
            return _short(message)
    except (ValueError, KeyError, TypeError):
        pass
    return _short(response.text) or response.reason_phrase


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
