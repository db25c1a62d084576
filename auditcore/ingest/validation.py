"""Check one raw log record and normalise it into an IngestRecord, or say which field is wrong.

Rules, each tied to a named constant below:

- Required: ``id``, ``timestamp``, ``surface``, ``model``, the prompt (``messages`` ending in a user
  turn, or a plain ``prompt``) and ``response``. ``response`` may be an empty string (a model that
  answered nothing is data) but not missing or null; the prompt must not be blank.
- ``timestamp`` is an ISO-8601 string *with* a timezone (a naive time is ambiguous and would shift
  records across day boundaries) or a number of seconds since the epoch, and lies between
  MIN_YEAR and MAX_YEAR. It is stored as an aware UTC datetime; ``day`` is its UTC date.
- Length caps (characters): ids MAX_ID_CHARS, labels such as surface/model/segment
  MAX_LABEL_CHARS, each text (prompt, response, served response, one earlier turn)
  MAX_TEXT_CHARS, all earlier turns together MAX_HISTORY_CHARS, at most MAX_TURNS messages,
  metadata at most MAX_METADATA_BYTES once serialised. The caps keep one record's row well under
  PostgreSQL's limits and keep a pathological upload from exhausting a worker's memory.
- NUL characters, which PostgreSQL text and jsonb cannot store, are replaced with U+FFFD rather than
  rejected: a NUL in a production response is real data, and replacing it is deterministic, so a
  re-ingest still produces the same row. The count per field is kept in
  ``metadata["_nul_replaced"]`` so nothing changes silently.
- A lone surrogate (U+D800..U+DFFF, e.g. from a ``"\\ud83d"`` escape) is not valid Unicode and
  cannot be encoded as UTF-8, so the record is rejected, naming the field, like invalid UTF-8.
- ``user.weight`` (the impact weight) is a finite number > 0, default 1.0; ``session_importance``
  is finite and >= 0, default 1.0; ``turn`` is an integer >= 1, by default the number of user
  turns up to and including the prompt.
- ``gateway_action`` is one of GATEWAY_ACTIONS (default "none"); "replaced" and "modified" need a
  ``served_response``, and "none" may not come with a served response that differs from the
  model's (that would mislabel what users saw).
- When both ``messages`` and ``prompt`` are given, the prompt must equal the last user turn.
- Fields this schema does not know go to ``metadata`` (explicit metadata keys win).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

MAX_ID_CHARS = 200
MAX_LABEL_CHARS = 100
MAX_TEXT_CHARS = 200_000
MAX_HISTORY_CHARS = 1_000_000
MAX_TURNS = 200
MAX_METADATA_BYTES = 64 * 1024
MAX_TURN_NUMBER = 100_000
MIN_YEAR = 2000
MAX_YEAR = 2100

GATEWAY_ACTIONS = frozenset({"none", "blocked", "replaced", "modified"})
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
DEFAULT_SEGMENT = "unknown"
NUL_METADATA_KEY = "_nul_replaced"

KNOWN_FIELDS = frozenset(
    {
        "id",
        "timestamp",
        "surface",
        "model",
        "messages",
        "prompt",
        "response",
        "served_response",
        "gateway_action",
        "user",
        "session_importance",
        "conversation_id",
        "turn",
        "metadata",
    }
)

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class IngestRecord:
    line: int
    external_id: str
    occurred_at: datetime
    day: date
    surface: str
    model: str
    conversation_id: str | None
    turn: int
    prompt: str
    earlier_turns: list[dict[str, str]]
    response: str
    served_response: str | None
    gateway_action: str
    user_id: str | None
    user_segment: str
    impact_weight: float
    session_importance: float
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    field: str
    reason: str


class _Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class _Cleaner:
    """Replaces NULs and rejects lone surrogates, remembering how many NULs each field had."""

    __slots__ = ("nuls",)

    def __init__(self) -> None:
        self.nuls: dict[str, int] = {}

    def text(self, value: str, field: str) -> str:
        if not value.isascii() and _SURROGATE.search(value):
            raise _Invalid(field, f"{field} contains a lone surrogate, which is not valid Unicode")
        if "\x00" in value:
            self.nuls[field] = self.nuls.get(field, 0) + value.count("\x00")
            value = value.replace("\x00", "\ufffd")
        return value

    def json_value(self, value: Any, field: str) -> Any:
        if isinstance(value, str):
            return self.text(value, field)
        if isinstance(value, dict):
            return {self.text(str(k), field): self.json_value(v, field) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v, field) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(field, f"{field} contains a number that is not finite")
        return value


def _string(value: Any, field: str, cap: int, cleaner: _Cleaner, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise _Invalid(field, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(field, f"{field} must be a string, not {_type_name(value)}")
    if required and not value.strip():
        raise _Invalid(field, f"{field} must not be empty")
    if len(value) > cap:
        raise _Invalid(field, f"{field} is longer than {cap:,} characters ({len(value):,})")
    return cleaner.text(value, field)


def _label(value: Any, field: str, cap: int, cleaner: _Cleaner) -> str:
    """A required short string; the common clean ASCII case without the checks' call overhead."""
    if (
        type(value) is str
        and len(value) <= cap
        and value.isascii()
        and "\x00" not in value
        and value.strip()
    ):
        return value
    return _string(value, field, cap, cleaner, required=True)  # type: ignore[return-value]


def _type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        bool: "a boolean",
        str: "a string",
        type(None): "null",
    }.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _number(value: Any, field: str, *, default: float, allow_zero: bool) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(field, f"{field} must be a number, not {_type_name(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise _Invalid(field, f"{field} must be a finite number")
    if number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise _Invalid(field, f"{field} must be {bound}, got {value}")
    return number


def _timestamp(value: Any) -> datetime:
    # Strings first: the common case, and a str is never a bool or a number.
    if isinstance(value, str):
        if len(value) > 64:
            raise _Invalid("timestamp", "timestamp is not an ISO-8601 date and time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(
                "timestamp", f"timestamp {value!r} is not an ISO-8601 date and time"
            ) from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise _Invalid("timestamp", "timestamp must include a timezone")
        moment = moment.astimezone(UTC)
    elif value is None:
        raise _Invalid("timestamp", "timestamp is required")
    elif isinstance(value, bool):
        raise _Invalid("timestamp", "timestamp must be an ISO-8601 string, not a boolean")
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise _Invalid("timestamp", "timestamp must be a finite number of epoch seconds")
        try:
            moment = datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise _Invalid("timestamp", f"timestamp {value} is out of range") from None
    else:
        raise _Invalid("timestamp", f"timestamp must be a string, not {_type_name(value)}")
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise _Invalid("timestamp", f"timestamp must lie between {MIN_YEAR} and {MAX_YEAR}")
    return moment


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None and message.get("role") == "assistant":
        return ""  # an assistant turn that only called tools
    if isinstance(content, list):
        # The multi-part content form; only text parts can be reviewed.
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if parts and all(isinstance(p, str) for p in parts):
            return "\n".join(parts)  # type: ignore[arg-type]
    if not isinstance(content, str):
        raise _Invalid("messages", f"messages[{index}].content must be a string")
    return content


def _conversation(raw: dict[str, Any], cleaner: _Cleaner) -> tuple[str, list[dict[str, str]], int]:
    messages = raw.get("messages")
    plain = raw.get("prompt")
    if messages is None:
        prompt = _string(plain, "prompt", MAX_TEXT_CHARS, cleaner, required=False)
        if prompt is None:
            raise _Invalid("prompt", "prompt is required (give messages or a plain prompt)")
        if not prompt.strip():
            raise _Invalid("prompt", "prompt must not be empty")
        return prompt, [], 1
    if not isinstance(messages, list):
        raise _Invalid("messages", f"messages must be a list, not {_type_name(messages)}")
    if not messages:
        raise _Invalid("messages", "messages must not be empty")
    if len(messages) > MAX_TURNS:
        raise _Invalid("messages", f"messages has more than {MAX_TURNS} turns ({len(messages)})")
    turns: list[dict[str, str]] = []
    history_chars = 0
    user_turns = 0
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _Invalid("messages", f"messages[{index}] must be an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in MESSAGE_ROLES:
            if role is None:
                raise _Invalid("messages", f"messages[{index}].role is required")
            if not isinstance(role, str):  # a list or object here is unhashable: check first
                raise _Invalid(
                    "messages",
                    f"messages[{index}].role must be a string, not {_type_name(role)}",
                )
            raise _Invalid(
                "messages", f"messages[{index}].role must be one of {sorted(MESSAGE_ROLES)}"
            )
        content = message.get("content")
        if type(content) is not str:
            content = _content(message, index)
        size = len(content)
        if size > MAX_TEXT_CHARS:
            raise _Invalid(
                "messages",
                f"messages[{index}].content is longer than {MAX_TEXT_CHARS:,} characters",
            )
        history_chars += size
        if not content.isascii() or "\x00" in content:
            content = cleaner.text(content, "messages")
        turns.append({"role": role, "content": content})
        if role == "user":
            user_turns += 1
    if history_chars > MAX_HISTORY_CHARS:
        raise _Invalid("messages", f"messages are longer than {MAX_HISTORY_CHARS:,} characters")
    last = turns.pop()
    if last["role"] != "user":
        raise _Invalid("messages", "messages must end with a user turn (the prompt)")
    if not last["content"].strip():
        raise _Invalid("prompt", "prompt must not be empty")
    if plain is not None and plain != last["content"]:
        raise _Invalid("prompt", "prompt differs from the last user turn in messages")
    # The last turn is a user turn, so this counts it and every earlier one.
    return last["content"], turns, user_turns


def _user(raw: dict[str, Any], cleaner: _Cleaner) -> tuple[str | None, str, float]:
    user = raw.get("user")
    if user is None:
        return None, DEFAULT_SEGMENT, 1.0
    if isinstance(user, str):  # OpenAI's "user" field is just the id
        user = {"id": user}
    if not isinstance(user, dict):
        raise _Invalid("user", f"user must be an object, not {_type_name(user)}")
    user_id = user.get("id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if user_id is not None:
        if not isinstance(user_id, str):
            raise _Invalid("user.id", f"user.id must be a string, not {_type_name(user_id)}")
        if len(user_id) > MAX_ID_CHARS:
            raise _Invalid("user.id", f"user.id is longer than {MAX_ID_CHARS} characters")
        if not user_id.isascii() or "\x00" in user_id:
            user_id = cleaner.text(user_id, "user.id")
        user_id = user_id or None
    segment = user.get("segment")
    if segment is None or segment == "":
        segment = DEFAULT_SEGMENT
    elif not isinstance(segment, str):
        raise _Invalid("user.segment", f"user.segment must be a string, not {_type_name(segment)}")
    elif len(segment) > MAX_LABEL_CHARS:
        raise _Invalid("user.segment", f"user.segment is longer than {MAX_LABEL_CHARS} characters")
    if not segment.isascii() or "\x00" in segment:
        segment = cleaner.text(segment, "user.segment")
    weight = user.get("weight")
    if not (type(weight) is float and 0.0 < weight < math.inf):  # else check it in full
        weight = _number(weight, "user.weight", default=1.0, allow_zero=False)
    return user_id, segment, weight


def _turn(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _Invalid("turn", "turn must be a whole number")
    if not 1 <= value <= MAX_TURN_NUMBER:
        raise _Invalid("turn", f"turn must be between 1 and {MAX_TURN_NUMBER}")
    return value


def _gateway(raw: dict[str, Any], response: str, cleaner: _Cleaner) -> tuple[str, str | None]:
    action = raw.get("gateway_action")
    if action is None:
        action = "none"
    elif not isinstance(action, str):  # a list or object is unhashable: check before the set
        raise _Invalid(
            "gateway_action", f"gateway_action must be a string, not {_type_name(action)}"
        )
    if action not in GATEWAY_ACTIONS:
        raise _Invalid("gateway_action", f"gateway_action must be one of {sorted(GATEWAY_ACTIONS)}")
    served = raw.get("served_response")
    if served is not None:
        if not isinstance(served, str):
            raise _Invalid("served_response", "served_response must be a string or null")
        if len(served) > MAX_TEXT_CHARS:
            raise _Invalid(
                "served_response", f"served_response is longer than {MAX_TEXT_CHARS:,} characters"
            )
        if not served.isascii() or "\x00" in served:
            served = cleaner.text(served, "served_response")
    if action in ("replaced", "modified") and served is None:
        raise _Invalid(
            "served_response", f"served_response is required when gateway_action is {action!r}"
        )
    if action == "none" and served is not None and served != response:
        raise _Invalid(
            "gateway_action",
            "gateway_action is 'none' but served_response differs from response",
        )
    return action, served


def _metadata(raw: dict[str, Any], cleaner: _Cleaner) -> dict[str, Any]:
    metadata = raw.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise _Invalid("metadata", f"metadata must be an object, not {_type_name(metadata)}")
    unknown = [] if KNOWN_FIELDS.issuperset(raw) else [k for k in raw if k not in KNOWN_FIELDS]
    if not metadata and not unknown:
        return {}
    merged = dict(metadata)
    for key in unknown:
        merged.setdefault(key, raw[key])
    try:
        encoded = orjson.dumps(merged)
    except orjson.JSONEncodeError:
        encoded = b""  # a lone surrogate or a non-JSON value: the slow path below names it
    except TypeError:
        raise _Invalid("metadata", "metadata must contain only JSON values") from None
    # Walking the structure in Python is slow, so only do it when the serialised form shows a NUL
    # (orjson writes it as \u0000) or could not be produced at all.
    if not encoded or b"\\u0000" in encoded:
        merged = cleaner.json_value(merged, "metadata")
        try:
            encoded = orjson.dumps(merged)
        except (TypeError, orjson.JSONEncodeError):
            raise _Invalid("metadata", "metadata must contain only JSON values") from None
    size = len(encoded)
    if size > MAX_METADATA_BYTES:
        raise _Invalid("metadata", f"metadata is larger than {MAX_METADATA_BYTES:,} bytes")
    return merged


def validate_record(raw: dict[str, Any], *, line: int) -> IngestRecord | Rejection:
    """Return the normalised record, or a Rejection naming the first field that is wrong."""
    try:
        return _validate(raw, line)
    except _Invalid as invalid:
        return Rejection(line=line, field=invalid.field, reason=invalid.reason)


def _validate(raw: dict[str, Any], line: int) -> IngestRecord:
    # Fields are checked in a fixed order, so a record with several problems is always rejected
    # for the same one. Each field takes
    # a short path when it is the usual clean ASCII value of the usual type, the full checks
    # otherwise; the short paths accept nothing the full checks would change or reject.
    if not isinstance(raw, dict):
        raise _Invalid("record", "record must be a JSON object")
    cleaner = _Cleaner()
    get = raw.get
    external_id = get("id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)  # numeric ids are common in exports
    external_id = _label(external_id, "id", MAX_ID_CHARS, cleaner)
    occurred_at = _timestamp(get("timestamp"))
    surface = _label(get("surface"), "surface", MAX_LABEL_CHARS, cleaner)
    model = _label(get("model"), "model", MAX_LABEL_CHARS, cleaner)
    prompt, earlier_turns, user_turns = _conversation(raw, cleaner)
    response = get("response")
    if (
        type(response) is not str
        or len(response) > MAX_TEXT_CHARS
        or not response.isascii()
        or "\x00" in response
    ):
        if response is None:
            raise _Invalid("response", "response is required")
        if not isinstance(response, str):
            raise _Invalid("response", f"response must be a string, not {_type_name(response)}")
        if len(response) > MAX_TEXT_CHARS:
            raise _Invalid("response", f"response is longer than {MAX_TEXT_CHARS:,} characters")
        response = cleaner.text(response, "response")
    gateway_action, served_response = _gateway(raw, response, cleaner)
    conversation_id = get("conversation_id")
    if conversation_id is not None and not (
        type(conversation_id) is str
        and len(conversation_id) <= MAX_ID_CHARS
        and conversation_id.isascii()
        and "\x00" not in conversation_id
    ):
        conversation_id = _string(
            conversation_id, "conversation_id", MAX_ID_CHARS, cleaner, required=False
        )
    turn = get("turn")
    turn = user_turns if turn is None else _turn(turn, user_turns)
    user_id, user_segment, impact_weight = _user(raw, cleaner)
    session_importance = get("session_importance")
    if not (type(session_importance) is float and 0.0 <= session_importance < math.inf):
        session_importance = _number(
            session_importance, "session_importance", default=1.0, allow_zero=True
        )
    metadata = _metadata(raw, cleaner)
    if cleaner.nuls:
        metadata = {**metadata, NUL_METADATA_KEY: dict(cleaner.nuls)}
    record = IngestRecord(
        line=line,
        external_id=external_id,
        occurred_at=occurred_at,
        day=occurred_at.date(),
        surface=surface,
        model=model,
        conversation_id=conversation_id or None,
        turn=turn,
        prompt=prompt,
        earlier_turns=earlier_turns,
        response=response,
        served_response=served_response,
        gateway_action=gateway_action,
        user_id=user_id,
        user_segment=user_segment,
        impact_weight=impact_weight,
        session_importance=session_importance,
        metadata=metadata,
    )
    return record
