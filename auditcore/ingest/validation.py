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

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from auditcore.ingest import fields
from auditcore.ingest.fields import (
    DEFAULT_SEGMENT,
    KNOWN_FIELDS,
    MAX_HISTORY_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_METADATA_BYTES,
    MAX_TEXT_CHARS,
    MAX_TURN_NUMBER,
    MAX_TURNS,
)

MIN_YEAR = 2000
MAX_YEAR = 2100
GATEWAY_ACTIONS = frozenset(fields.GATEWAY_ACTIONS)
MESSAGE_ROLES = frozenset(fields.MESSAGE_ROLES)
NUL_METADATA_KEY = "_nul_replaced"
# Field metadata of a record or row field that has no column of its own (writer.COLUMNS).
NOT_STORED = {"column": None}

# Longer than any ISO-8601 date and time: a longer string is rejected without being parsed.
_MAX_TIMESTAMP_CHARS = 64


# Not frozen: a frozen dataclass's __init__ stores each field through object.__setattr__, which
# took about a third of the time of validating a typical record. Nothing changes a record after
# validation; redaction makes a new one.
@dataclass(slots=True)
class IngestRecord:
    """A record that passed validation; its fields are columns of the interaction under the same
    name, unless their metadata says otherwise."""

    line: int = dataclasses.field(metadata=NOT_STORED)
    external_id: str
    occurred_at: datetime
    day: date
    # Stored as the ids of their Surface and ModelVersion rows, which the writer looks up.
    surface: str = dataclasses.field(metadata=NOT_STORED)
    model: str = dataclasses.field(metadata=NOT_STORED)
    conversation_id: str  # "" when the record has none
    turn: int
    prompt: str
    earlier_turns: list[dict[str, str]]
    response: str
    served_response: str | None
    gateway_action: str
    user_id: str | None = dataclasses.field(metadata=NOT_STORED)  # stored only as its keyed hash
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


def _has_lone_surrogate(value: str) -> bool:
    # UTF-8 can encode every code point except U+D800..U+DFFF, so this is exactly the surrogate
    # test, and several times faster than scanning for them with a regex.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _is_clean(value: str) -> bool:
    """Whether the checks keep this text as it is: no NUL to replace, no lone surrogate."""
    return "\x00" not in value and (value.isascii() or not _has_lone_surrogate(value))


class _Cleaner:
    """Replaces NULs and rejects lone surrogates, remembering how many NULs each field had."""

    __slots__ = ("nuls",)

    def __init__(self) -> None:
        self.nuls: dict[str, int] = {}

    def text(self, value: str, field: str) -> str:
        if not value.isascii() and _has_lone_surrogate(value):
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


# Python will not write out an int of more than 4,300 digits (about 14,280 bits); a longer numeric
# id is refused here, a shorter one as text by the length check.
_MAX_ID_BITS = 14_000


def _id_text(value: Any, field: str) -> Any:
    """A numeric id as text; anything else unchanged, for the string checks to judge."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    if value.bit_length() > _MAX_ID_BITS:
        raise _Invalid(field, f"{field} is longer than {MAX_ID_CHARS:,} characters")
    return str(value)


def _label(value: Any, field: str, cap: int, cleaner: _Cleaner) -> str:
    """A required short string such as an id or a model name."""
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
    try:
        number = float(value)
    except OverflowError:  # an int past the largest double
        number = math.inf
    if not math.isfinite(number):
        raise _Invalid(field, f"{field} must be a finite number")
    if number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise _Invalid(field, f"{field} must be {bound}, got {value}")
    return number


def _timestamp(value: Any) -> datetime:
    # Strings first: the common case, and a str is never a bool or a number.
    if isinstance(value, str):
        if len(value) > _MAX_TIMESTAMP_CHARS:
            raise _Invalid("timestamp", "timestamp is not an ISO-8601 date and time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(
                "timestamp", f"timestamp {value!r} is not an ISO-8601 date and time"
            ) from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise _Invalid("timestamp", "timestamp must include a timezone")
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 shifted past the calendar's edge
            raise _Invalid("timestamp", f"timestamp {value!r} is out of range") from None
    elif value is None:
        raise _Invalid("timestamp", "timestamp is required")
    elif isinstance(value, bool):
        raise _Invalid("timestamp", "timestamp must be an ISO-8601 string, not a boolean")
    elif isinstance(value, int | float):
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int past the largest double
            finite = False
        if not finite:
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
        content = _content(message, index)
        size = len(content)
        if size > MAX_TEXT_CHARS:
            raise _Invalid(
                "messages",
                f"messages[{index}].content is longer than {MAX_TEXT_CHARS:,} characters",
            )
        history_chars += size
        turns.append({"role": role, "content": cleaner.text(content, "messages")})
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
    user_id = _id_text(user_id, "user.id")
    if user_id is not None:
        if not isinstance(user_id, str):
            raise _Invalid("user.id", f"user.id must be a string, not {_type_name(user_id)}")
        if len(user_id) > MAX_ID_CHARS:
            raise _Invalid("user.id", f"user.id is longer than {MAX_ID_CHARS} characters")
        user_id = cleaner.text(user_id, "user.id") or None
    segment = user.get("segment")
    if segment is None or segment == "":
        segment = DEFAULT_SEGMENT
    elif not isinstance(segment, str):
        raise _Invalid("user.segment", f"user.segment must be a string, not {_type_name(segment)}")
    elif len(segment) > MAX_LABEL_CHARS:
        raise _Invalid("user.segment", f"user.segment is longer than {MAX_LABEL_CHARS} characters")
    segment = cleaner.text(segment, "user.segment")
    weight = _number(user.get("weight"), "user.weight", default=1.0, allow_zero=False)
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


def _with_unknown_fields(raw: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """A copy of the metadata plus the fields the schema does not know; explicit keys win."""
    merged = dict(metadata)
    if not KNOWN_FIELDS.issuperset(raw):
        for key, value in raw.items():
            if key not in KNOWN_FIELDS:
                merged.setdefault(key, value)
    return merged


def _metadata(raw: dict[str, Any], cleaner: _Cleaner) -> dict[str, Any]:
    metadata = raw.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise _Invalid("metadata", f"metadata must be an object, not {_type_name(metadata)}")
    merged = _with_unknown_fields(raw, metadata)
    if not merged:
        return merged
    try:
        encoded = orjson.dumps(merged)
    except orjson.JSONEncodeError:
        encoded = b""  # a lone surrogate or a non-JSON value: the slow path below names it
    except TypeError:
        raise _Invalid("metadata", "metadata must contain only JSON values") from None
    # Walking the structure in Python is slow, so only do it when the serialised form shows a NUL
    # (orjson writes it as \u0000) or could not be produced at all. bytes.find, not ``in``: on
    # bytes, ``in`` first tries the needle as an integer, which costs several times more.
    if not encoded or encoded.find(b"\\u0000") != -1:
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
    if type(raw) is dict:
        record = _usual_record(raw, line)
        if record is not None:
            return record
    try:
        return _validate(raw, line)
    except _Invalid as invalid:
        return Rejection(line=line, field=invalid.field, reason=invalid.reason)


_FLOAT_INT_LIMIT = 2**1024  # the first int that float() refuses


def _usual_record(raw: dict[str, Any], line: int) -> IngestRecord | None:
    """What ``_validate`` returns for a record of the usual shape, at a fraction of the cost.

    Most records are plain: every field has its usual JSON type, every text is clean (no NUL, no
    lone surrogate) and within its cap, the timestamp is an ISO string with a timezone. Each test
    below is a condition under which ``_validate`` keeps the field exactly as it is, and they run
    in ``_validate``'s field order, so whatever can raise here raises there too. Anything else
    returns None and the full checks run from the start: every rejection, replacement and default
    still comes from them alone.
    """
    get = raw.get
    external_id = get("id")
    if type(external_id) is int:
        if external_id.bit_length() > _MAX_ID_BITS:
            return None
        external_id = str(external_id)
    surface = get("surface")
    model = get("model")
    timestamp = get("timestamp")
    if not (
        type(external_id) is str
        and type(surface) is str
        and type(model) is str
        and len(external_id) <= MAX_ID_CHARS
        and len(surface) <= MAX_LABEL_CHARS
        and len(model) <= MAX_LABEL_CHARS
        and external_id.strip()
        and surface.strip()
        and model.strip()
        and _is_clean(external_id + surface + model)
    ):
        return None
    if type(timestamp) is str and len(timestamp) <= _MAX_TIMESTAMP_CHARS:
        try:
            occurred_at = datetime.fromisoformat(timestamp)
        except ValueError:
            return None
        if occurred_at.tzinfo is not UTC:
            if occurred_at.utcoffset() is None:
                return None
            try:
                occurred_at = occurred_at.astimezone(UTC)
            except OverflowError:
                return None
    elif type(timestamp) is int or type(timestamp) is float:
        try:
            occurred_at = datetime.fromtimestamp(timestamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    if not MIN_YEAR <= occurred_at.year <= MAX_YEAR:
        return None

    messages = get("messages")
    plain = get("prompt")
    if type(messages) is list:
        if not messages or len(messages) > MAX_TURNS:
            return None
        earlier_turns = []
        history_chars = 0
        user_turns = 0
        for message in messages:
            if type(message) is not dict:
                return None
            role = message.get("role")
            content = message.get("content")
            if content is None and role == "assistant":
                content = ""  # a turn that only called tools
            if not (
                type(role) is str
                and role in MESSAGE_ROLES
                and type(content) is str
                and len(content) <= MAX_TEXT_CHARS
                and _is_clean(content)
            ):
                return None
            history_chars += len(content)
            earlier_turns.append({"role": role, "content": content})
            if role == "user":
                user_turns += 1
        last = earlier_turns.pop()
        prompt = last["content"]
        if (
            history_chars > MAX_HISTORY_CHARS
            or last["role"] != "user"
            or not prompt.strip()
            or (plain is not None and plain != prompt)
        ):
            return None
    elif (
        messages is None
        and type(plain) is str
        and len(plain) <= MAX_TEXT_CHARS
        and plain.strip()
        and _is_clean(plain)
    ):
        prompt, earlier_turns, user_turns = plain, [], 1
    else:
        return None

    response = get("response")
    if type(response) is not str or len(response) > MAX_TEXT_CHARS or not _is_clean(response):
        return None
    gateway_action = get("gateway_action")
    if gateway_action is None:
        gateway_action = "none"
    elif type(gateway_action) is not str or gateway_action not in GATEWAY_ACTIONS:
        return None
    served_response = get("served_response")
    if served_response is None:
        if gateway_action in ("replaced", "modified"):
            return None
    elif (
        type(served_response) is not str
        or len(served_response) > MAX_TEXT_CHARS
        or not _is_clean(served_response)
        or (gateway_action == "none" and served_response != response)
    ):
        return None
    conversation_id = get("conversation_id")
    if conversation_id is not None and not (
        type(conversation_id) is str
        and len(conversation_id) <= MAX_ID_CHARS
        and _is_clean(conversation_id)
    ):
        return None
    turn = get("turn")
    if turn is None:
        turn = user_turns
    elif type(turn) is not int or not 1 <= turn <= MAX_TURN_NUMBER:
        return None

    user = get("user")
    if type(user) is str:
        user = {"id": user}
    if user is None:
        user_id, user_segment, impact_weight = None, DEFAULT_SEGMENT, 1.0
    elif type(user) is dict:
        user_id = user.get("id")
        if type(user_id) is int:
            if user_id.bit_length() > _MAX_ID_BITS:
                return None
            user_id = str(user_id)
        if user_id is not None:
            if type(user_id) is not str or len(user_id) > MAX_ID_CHARS or not _is_clean(user_id):
                return None
            user_id = user_id or None
        user_segment = user.get("segment")
        if user_segment is None or user_segment == "":
            user_segment = DEFAULT_SEGMENT
        elif (
            type(user_segment) is not str
            or len(user_segment) > MAX_LABEL_CHARS
            or not _is_clean(user_segment)
        ):
            return None
        impact_weight = user.get("weight")
        if impact_weight is None:
            impact_weight = 1.0
        elif type(impact_weight) is int and 0 < impact_weight < _FLOAT_INT_LIMIT:
            impact_weight = float(impact_weight)
        elif not (type(impact_weight) is float and 0.0 < impact_weight < math.inf):
            return None
    else:
        return None
    session_importance = get("session_importance")
    if session_importance is None:
        session_importance = 1.0
    elif type(session_importance) is int and 0 <= session_importance < _FLOAT_INT_LIMIT:
        session_importance = float(session_importance)
    elif not (type(session_importance) is float and 0.0 <= session_importance < math.inf):
        return None

    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        return None
    metadata = _with_unknown_fields(raw, metadata)
    if metadata:
        try:
            encoded = orjson.dumps(metadata)
        except TypeError:  # orjson.JSONEncodeError is one
            return None
        if len(encoded) > MAX_METADATA_BYTES or encoded.find(b"\\u0000") != -1:
            return None

    # Positional, in field order: matching eighteen keywords costs measurably per record.
    return IngestRecord(
        line,
        external_id,
        occurred_at,
        occurred_at.date(),
        surface,
        model,
        conversation_id or "",
        turn,
        prompt,
        earlier_turns,
        response,
        served_response,
        gateway_action,
        user_id,
        user_segment,
        impact_weight,
        session_importance,
        metadata,
    )


def _validate(raw: dict[str, Any], line: int) -> IngestRecord:
    # Fields are checked in a fixed order, so a record with several problems is always rejected
    # for the same one.
    if not isinstance(raw, dict):
        raise _Invalid("record", "record must be a JSON object")
    cleaner = _Cleaner()
    external_id = raw.get("id")
    external_id = _id_text(external_id, "id")  # numeric ids are common in exports
    external_id = _label(external_id, "id", MAX_ID_CHARS, cleaner)
    occurred_at = _timestamp(raw.get("timestamp"))
    surface = _label(raw.get("surface"), "surface", MAX_LABEL_CHARS, cleaner)
    model = _label(raw.get("model"), "model", MAX_LABEL_CHARS, cleaner)
    prompt, earlier_turns, user_turns = _conversation(raw, cleaner)
    response = raw.get("response")
    if response is None:
        raise _Invalid("response", "response is required")
    if not isinstance(response, str):
        raise _Invalid("response", f"response must be a string, not {_type_name(response)}")
    if len(response) > MAX_TEXT_CHARS:
        raise _Invalid("response", f"response is longer than {MAX_TEXT_CHARS:,} characters")
    response = cleaner.text(response, "response")
    gateway_action, served_response = _gateway(raw, response, cleaner)
    conversation_id = _string(
        raw.get("conversation_id"), "conversation_id", MAX_ID_CHARS, cleaner, required=False
    )
    turn = _turn(raw.get("turn"), user_turns)
    user_id, user_segment, impact_weight = _user(raw, cleaner)
    session_importance = _number(
        raw.get("session_importance"), "session_importance", default=1.0, allow_zero=True
    )
    metadata = _metadata(raw, cleaner)
    if cleaner.nuls:
        metadata = {**metadata, NUL_METADATA_KEY: dict(cleaner.nuls)}
    return IngestRecord(
        line=line,
        external_id=external_id,
        occurred_at=occurred_at,
        day=occurred_at.date(),
        surface=surface,
        model=model,
        conversation_id=conversation_id or "",
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
