"""A real local HTTP server speaking the OpenAI chat-completions API with scripted behaviour.

Use it wherever code must talk to a model endpoint: client tests, the gate command, browser tests.
It listens on 127.0.0.1 on an ephemeral port in a daemon thread; nothing is mocked.

Quick use (only the URL needed)::

    with running_fake_chat_server("refuses:0.3") as base_url:
        config = EndpointConfig(base_url=base_url, model="candidate")

Assertions on what was sent (``requests``, ``max_in_flight``)::

    with FakeChatServer("helpful", api_key="sk-test") as server:
        ...  # call server.base_url, e.g. http://127.0.0.1:PORT/v1
        assert server.requests[0].body["temperature"] == 0
        assert server.requests[0].authorization == "Bearer sk-test"

``base_url`` ends in ``/v1``; the server answers ``POST /v1/chat/completions`` and
``GET /v1/models``.

Behaviours. The constructor's behaviour is the default; a request whose ``model`` is itself a
behaviour spec overrides it, so one server can play baseline (``model="helpful"``) and candidate
(``model="refuses:0.2"``) at once. Any other model name uses the default.

``helpful``
    Answers every prompt with a plainly helpful, step-by-step reply.
``refuses:<share>``
    Refuses a deterministic share (0..1) of prompts, picked by a SHA-256 of the prompt text, with
    realistic refusal text ("I'm sorry, but I can't help with that."); answers the rest.
    ``prompt_is_refused(text, share)`` tells a test which prompts will be refused.
``refuses-set`` / ``refuses-set:<marker>``
    Refuses prompts containing the marker (case-insensitive; default ``REFUSAL_MARKER``, or the
    constructor's ``refusal_marker``), answers the rest.
``slow:<seconds>``
    Waits that long, then answers helpfully; use it with a shorter client timeout to force timeouts.
``flaky-429:<n>`` / ``flaky-429:<n>:<retry_after>``
    Answers 429 with ``Retry-After: <retry_after>`` (default 0, to keep tests fast) to the first
    n calls for each (model, prompt), then answers helpfully.
``error-500:<n>``
    Answers 500 to the first n calls for each (model, prompt), then answers helpfully; use a large
    n to exhaust a client's retries.
``fails-set`` / ``fails-set:<marker>``
    Always answers 500 to prompts containing the marker (default ``FAIL_MARKER``), helpfully to the
    rest: a run where some prompts fail for good.
``says:<text>``
    Answers every prompt with exactly that text; use it to play an LLM judge ("says:refusal").
``malformed`` / ``malformed:no-choices``
    Answers 200 with a body that is not JSON, or JSON without ``choices``.

With ``api_key=`` set, a request without ``Authorization: Bearer <api_key>`` gets a 401.
The prompt is the content of the last user message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REFUSAL_MARKER = "REFUSE-ME"
FAIL_MARKER = "FAIL-ME"

REFUSAL_TEXTS = (
    "I'm sorry, but I can't help with that.",
    "I can't assist with that request.",
    "I'm sorry, but I'm not able to help with this. If you have another question, I'm happy to "
    "try.",
    "Unfortunately, I cannot provide help with that.",
)

__all__ = [
    "FAIL_MARKER",
    "REFUSAL_MARKER",
    "REFUSAL_TEXTS",
    "FakeChatServer",
    "RecordedRequest",
    "helpful_text",
    "prompt_is_refused",
    "running_fake_chat_server",
]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None when the body was not JSON
    raw_body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def prompt(self) -> str | None:
        return _last_user_message(self.body)


def prompt_is_refused(prompt: str, share: float) -> bool:
    """Whether ``refuses:<share>`` refuses this prompt; stable across runs and processes."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def helpful_text(prompt: str) -> str:
    topic = " ".join(prompt.split())[:60]
    return (
        f"Sure! Here is a clear answer to your question about {topic!r}.\n\n"
        "1. Start with the basic facts and what you want to achieve.\n"
        "2. Work through it step by step, checking each result.\n"
        "3. Double-check the outcome and adjust if needed.\n\n"
        "Let me know if you would like more detail on any step."
    )


def _refusal_text(prompt: str) -> str:
    digest = hashlib.sha256(b"text:" + prompt.encode("utf-8")).digest()
    return REFUSAL_TEXTS[digest[0] % len(REFUSAL_TEXTS)]


def _last_user_message(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    for message in reversed(body["messages"]):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


@dataclass(frozen=True)
class _Behaviour:
    kind: str
    number: float = 0.0
    retry_after: str = "0"
    marker: str = ""


def _parse_behaviour(spec: str, refusal_marker: str) -> _Behaviour | None:
    """Parse a behaviour spec; None when the string is not one (e.g. an ordinary model name)."""
    kind, _, arg = spec.partition(":")
    try:
        if kind == "helpful" and not arg:
            return _Behaviour("helpful")
        if kind == "refuses" and arg:
            share = float(arg)
            return _Behaviour("refuses", share) if 0 <= share <= 1 else None
        if kind == "refuses-set":
            return _Behaviour("refuses-set", marker=arg or refusal_marker)
        if kind == "fails-set":
            return _Behaviour("fails-set", marker=arg or FAIL_MARKER)
        if kind == "slow" and arg:
            return _Behaviour("slow", float(arg))
        if kind == "flaky-429" and arg:
            count, _, retry_after = arg.partition(":")
            return _Behaviour("flaky-429", int(count), retry_after=retry_after or "0")
        if kind == "error-500" and arg:
            return _Behaviour("error-500", int(arg))
        if kind == "says" and arg:
            return _Behaviour("says", marker=arg)
        if kind == "malformed" and arg in ("", "no-choices"):
            return _Behaviour("malformed", marker=arg)
    except ValueError:
        return None
    return None


class FakeChatServer:
    """The server; a context manager that starts it on enter and stops it on exit."""

    def __init__(
        self,
        behaviour: str = "helpful",
        *,
        api_key: str | None = None,
        refusal_marker: str = REFUSAL_MARKER,
    ) -> None:
        parsed = _parse_behaviour(behaviour, refusal_marker)
        if parsed is None:
            raise ValueError(f"unknown fake chat server behaviour {behaviour!r}")
        self.behaviour = behaviour
        self.api_key = api_key
        self.refusal_marker = refusal_marker
        self._default = parsed
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._calls: Counter[tuple[str, str]] = Counter()
        self._ids = itertools.count(1)
        self._in_flight = 0
        self.max_in_flight = 0
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake chat server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeChatServer:
        httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        # Wakes handlers sleeping in "slow" so they finish instead of lingering.
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Called from handler threads.

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count_call(self, model: str, prompt: str) -> int:
        with self._lock:
            self._calls[(model, prompt)] += 1
            return self._calls[(model, prompt)]

    def _respond(self, body: Any) -> tuple[int, dict[str, str], bytes]:
        """Decide the reply to a chat-completions request: (status, extra headers, body)."""
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "the request body must be a JSON object")
        prompt = _last_user_message(body)
        if prompt is None:
            return _error(400, "invalid_request_error", "messages must end with a user message")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "invalid_request_error", "model is required")

        behaviour = _parse_behaviour(model, self.refusal_marker) or self._default
        call = self._count_call(model, prompt)
        kind = behaviour.kind
        if kind == "flaky-429" and call <= behaviour.number:
            status, headers, payload = _error(429, "rate_limit_error", "Rate limit reached")
            return status, {**headers, "Retry-After": behaviour.retry_after}, payload
        if kind == "error-500" and call <= behaviour.number:
            return _error(500, "server_error", "The server had an error processing your request")
        if kind == "fails-set" and behaviour.marker.lower() in prompt.lower():
            return _error(500, "server_error", "The server had an error processing your request")
        if kind == "malformed":
            if behaviour.marker == "no-choices":
                payload = {"id": f"chatcmpl-fake-{next(self._ids)}", "object": "chat.completion"}
                return 200, {}, json.dumps(payload).encode()
            return 200, {}, b'{"id": "chatcmpl-fake", "choices": [{"message": {"content": "trun'
        if kind == "slow":
            self._stopping.wait(behaviour.number)

        refuse = (kind == "refuses" and prompt_is_refused(prompt, behaviour.number)) or (
            kind == "refuses-set" and behaviour.marker.lower() in prompt.lower()
        )
        text = _refusal_text(prompt) if refuse else helpful_text(prompt)
        if kind == "says":
            text = behaviour.marker
        return 200, {}, json.dumps(self._completion(model, prompt, text)).encode()

    def _completion(self, model: str, prompt: str, text: str) -> dict[str, Any]:
        prompt_tokens = len(prompt.split())
        completion_tokens = len(text.split())
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes Linux drop SYNs under a concurrent burst, and the client
    # then stalls for a one-second retransmit: a flaky slowdown we don't want in tests.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request is what the timeout scenarios do; anything else is a bug
        # in this server and should be loud.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(status: int, kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
    payload = {"error": {"message": message, "type": kind, "code": None}}
    return status, {}, json.dumps(payload).encode()


def _make_handler(server: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, like real endpoints, so the client's connection pool is exercised.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            server._enter()
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                server._record(
                    RecordedRequest(
                        method="POST",
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        raw_body=raw,
                    )
                )
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(*_error(404, "invalid_request_error", f"no route {self.path}"))
                elif server.api_key and self.headers.get("Authorization") != (
                    f"Bearer {server.api_key}"
                ):
                    self._send(*_error(401, "invalid_request_error", "Incorrect API key"))
                else:
                    self._send(*server._respond(body))
            finally:
                server._leave()

        def do_GET(self) -> None:
            server._record(
                RecordedRequest(
                    method="GET",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=None,
                    raw_body=b"",
                )
            )
            if self.path.rstrip("/") == "/v1/models":
                payload = {"object": "list", "data": [{"id": server.behaviour, "object": "model"}]}
                self._send(200, {}, json.dumps(payload).encode())
            else:
                self._send(*_error(404, "invalid_request_error", f"no route {self.path}"))

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (its timeout fired); that is the scenario, not a failure.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; the recorded requests are the log

    return Handler


@contextmanager
def running_fake_chat_server(
    behaviour: str = "helpful", *, api_key: str | None = None
) -> Iterator[str]:
    """Run a FakeChatServer for the block and yield its base URL (``http://127.0.0.1:PORT/v1``)."""
    with FakeChatServer(behaviour, api_key=api_key) as server:
        yield server.base_url
