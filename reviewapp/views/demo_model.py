"""/demo-model/v1: the built-in demo model behind an OpenAI-compatible chat-completions API.

Served only when DEMO_MODEL_ENABLED is on (by default with DEBUG); otherwise every URL here is a
404, as if it did not exist. It is called by replay workers, not browsers: no session, no CSRF,
and errors in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from auditcore.replay.demo_model import MODELS, demo_answer

OWNER = "refusal-audit-demo"


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> JsonResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JsonResponse(body, status=status)


def _demo_api(method: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """404 unless the demo model is on; 405 in OpenAI's shape for any other method."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not settings.DEMO_MODEL_ENABLED:
                raise Http404("The demo model is switched off.")
            if request.method != method:
                response = _error(405, f"{request.method} is not allowed here; use {method}.")
                response["Allow"] = method
                return response
            return view(request, *args, **kwargs)

        return csrf_exempt(never_cache(wrapper))

    return decorate


def _messages(value: Any) -> list[dict[str, str]] | str:
    """The conversation as plain {role, content} turns, or what is wrong with it."""
    if not isinstance(value, list) or not value:
        return "messages must be a non-empty array"
    turns = []
    for index, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return f"messages[{index}] must be an object with a role"
        content = message.get("content")
        if isinstance(content, list):  # the content-parts form
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if content is None and message["role"] == "assistant":
            content = ""
        if not isinstance(content, str):
            return f"messages[{index}].content must be a string or an array of text parts"
        turns.append({"role": message["role"], "content": content})
    if not any(turn["role"] == "user" for turn in turns):
        return "messages must contain a user message"
    return turns


def _token_limit(body: dict[str, Any]) -> tuple[int | None, str | None]:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return None, name
        return value, None
    return None, None


@_demo_api("POST")
def chat_completions(request: HttpRequest) -> HttpResponse:
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(400, "model is required.", param="model")
    if model not in MODELS:
        return _error(
            404,
            f"The model {model!r} does not exist; the demo models are {', '.join(MODELS)}.",
            param="model",
            code="model_not_found",
        )
    if body.get("stream"):
        return _error(400, "The demo model does not stream; leave stream off.", param="stream")
    messages = _messages(body.get("messages"))
    if isinstance(messages, str):
        return _error(400, messages, param="messages")
    limit, bad_limit = _token_limit(body)
    if bad_limit:
        return _error(400, f"{bad_limit} must be a whole number of at least 1.", param=bad_limit)

    answer = demo_answer(model, messages)
    # Words stand in for tokens: the demo has no tokenizer, and only the count's order matters.
    words = answer.text.split(" ")
    finish_reason = "stop"
    if limit is not None and len(words) > limit:
        words, finish_reason = words[:limit], "length"
    text = " ".join(words)
    prompt_words = sum(len(m["content"].split()) for m in messages)
    digest = hashlib.sha256(json.dumps([model, messages]).encode()).hexdigest()[:24]
    return JsonResponse(
        {
            "id": f"chatcmpl-demo-{digest}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": len(words),
                "total_tokens": prompt_words + len(words),
            },
        }
    )


@_demo_api("GET")
def model_list(request: HttpRequest) -> HttpResponse:
    data = [{"id": name, "object": "model", "created": 0, "owned_by": OWNER} for name in MODELS]
    return JsonResponse({"object": "list", "data": data})
