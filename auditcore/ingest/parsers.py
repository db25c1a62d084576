"""Stream raw records out of JSONL, CSV and OpenAI chat-completion log files, gzipped or not.

Every parser reads line by line from a binary file object, so memory stays flat however large
the file is, and yields ``(line_number, record_dict)`` or ``(line_number, ParseError)``. A bad
line is an error for that line only: the lines around it still parse. Line numbers are 1-based
physical lines of the (decompressed) file, as a text editor shows them; for CSV it is the line a
record starts on.

The dicts have the native shape described in DESIGN.md; ``validation.validate_record`` checks them.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

import orjson

from auditcore.ingest.fields import CSV_COLUMNS, GZIP_MAGIC

Format = Literal["auto", "jsonl", "csv", "openai"]
FORMATS: tuple[str, ...] = ("auto", "jsonl", "csv", "openai")

# A line this long cannot hold a record that passes validation (text fields are capped far below
# it), so it is skipped without ever being held in memory whole.
MAX_LINE_BYTES = 16 * 1024 * 1024
EXCERPT_CHARS = 200
# Auto-detection looks at this much of the (decompressed) start of the file.
SNIFF_BYTES = 64 * 1024
_READ_BUFFER = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"

# Columns of the flat CSV form that map onto native fields; any other column goes to metadata.
_CSV_NAMES = frozenset(column.name for column in CSV_COLUMNS)

# The csv module's limit is process-wide; raise it so a long (but valid) prompt is not an error.
# It still bounds memory if a stray quote would otherwise swallow the rest of the file.
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))


@dataclass(frozen=True, slots=True)
class ParseError:
    reason: str
    excerpt: str


class UnsupportedFormatError(ValueError):
    """The file (or the format asked for) cannot be read at all, as opposed to one bad line."""


ParsedLine = tuple[int, dict[str, Any] | ParseError]


class _PrefixedReader(io.RawIOBase):
    """Replays bytes already read for sniffing, then continues with the underlying stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def _read_at_least(stream: BinaryIO, size: int) -> bytes:
    # A single read() may return less than asked (pipes, gzip members); loop until size or EOF.
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def open_stream(fileobj: BinaryIO) -> tuple[io.BufferedReader, bytes]:
    """Return a buffered, transparently decompressed stream and the first bytes of its content.

    Compression is recognised by the gzip magic bytes, not the file name, so an upload renamed to
    ``.jsonl`` still works. A UTF-8 byte-order mark (Excel's CSV export adds one) is dropped.
    """
    magic = _read_at_least(fileobj, 2)
    stream: BinaryIO = io.BufferedReader(_PrefixedReader(magic, fileobj), _READ_BUFFER)
    if magic == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    head = _read_at_least(stream, SNIFF_BYTES)
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    return io.BufferedReader(_PrefixedReader(head, stream), _READ_BUFFER), head


def detect_format(head: bytes) -> str:
    """Name the format of a file from its first bytes: "jsonl", "openai" or "csv"."""
    text = head.lstrip()
    if not text:
        return "jsonl"
    if text.startswith(b"["):
        raise UnsupportedFormatError(
            "the file is a JSON array; upload JSON Lines (one JSON object per line) instead"
        )
    if not text.startswith(b"{"):
        return "csv"
    first_line = text.split(b"\n", 1)[0]
    try:
        obj = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        # The first record is longer than the sniffed bytes (or broken): fall back to key names.
        return "openai" if b'"request"' in first_line and b'"choices"' in first_line else "jsonl"
    return "openai" if isinstance(obj, dict) and _looks_like_openai(obj) else "jsonl"


def _looks_like_openai(obj: dict[str, Any]) -> bool:
    # In the native format "response" is the text; in OpenAI logs it is the completion object.
    return isinstance(obj.get("request"), dict) and isinstance(obj.get("response"), dict)


def iter_records(fileobj: BinaryIO, fmt: str = "auto") -> Iterator[ParsedLine]:
    """Yield ``(line_number, dict | ParseError)`` for every record in a log file."""
    if fmt not in FORMATS:
        raise UnsupportedFormatError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    stream, head = open_stream(fileobj)
    if fmt == "auto":
        fmt = detect_format(head)
    if fmt == "csv":
        yield from _iter_csv(stream)
    else:
        yield from _iter_json_lines(stream, openai=fmt == "openai")


def _excerpt(line: bytes) -> str:
    # backslashreplace keeps invalid bytes visible in the quarantine row instead of hiding them.
    return line[: EXCERPT_CHARS * 4].decode("utf-8", "backslashreplace")[:EXCERPT_CHARS].rstrip()


def _iter_lines(stream: io.BufferedReader) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, line)``; ``None`` stands for a line over MAX_LINE_BYTES, skipped."""
    line_number = 0
    readline = stream.readline
    while True:
        line = readline(MAX_LINE_BYTES)
        if not line:
            return
        line_number += 1
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Drain the rest of the line piecewise so it is never held in memory whole.
            while (rest := readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield line_number, None
            continue
        yield line_number, line


def _decode_error_reason(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        return f"invalid UTF-8 at byte {decode_error.start}"
    return f"invalid JSON: {exc}"


def _iter_json_lines(stream: io.BufferedReader, *, openai: bool) -> Iterator[ParsedLine]:
    loads = orjson.loads
    for line_number, line in _iter_lines(stream):
        if line is None:
            yield line_number, ParseError(f"line is longer than {MAX_LINE_BYTES} bytes", "")
            continue
        if line.isspace():
            continue
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            yield line_number, ParseError(_decode_error_reason(line, exc), _excerpt(line))
            continue
        if not isinstance(obj, dict):
            yield line_number, ParseError("line is not a JSON object", _excerpt(line))
            continue
        if openai:
            converted = openai_to_native(obj)
            if isinstance(converted, str):
                yield line_number, ParseError(converted, _excerpt(line))
                continue
            obj = converted
        yield line_number, obj


def _epoch_to_iso(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return value  # left for validation to reject with a clear message
    return value


def _content_text(content: Any) -> Any:
    # Newer OpenAI logs carry content as a list of parts; only the text parts matter here.
    if isinstance(content, list):
        texts = [
            part.get("text")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        if len(texts) == len(content):
            return "\n".join(texts)
    return content


def openai_to_native(obj: dict[str, Any]) -> dict[str, Any] | str:
    """Map an OpenAI chat-completion log record onto the native shape, or return why it cannot."""
    request = obj.get("request")
    response = obj.get("response")
    if not isinstance(request, dict):
        return "OpenAI log record has no request object"
    if not isinstance(response, dict):
        return "OpenAI log record has no response object"
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "OpenAI log record has no response.choices[0]"
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return "OpenAI log record has no response.choices[0].message"
    content = _content_text(message.get("content"))
    # A refusal produced by the API's structured-refusal field has null content.
    if content is None and isinstance(message.get("refusal"), str):
        content = message["refusal"]

    record = {k: v for k, v in obj.items() if k not in ("request", "response", "created")}
    record.setdefault("id", response.get("id"))
    if "timestamp" not in record:
        record["timestamp"] = _epoch_to_iso(obj.get("created", response.get("created")))
    record["model"] = obj.get("model") or request.get("model") or response.get("model")
    record["messages"] = [
        {**m, "content": _content_text(m.get("content"))} if isinstance(m, dict) else m
        for m in request.get("messages") or []
    ]
    record["response"] = content
    if "user" not in record and isinstance(request.get("user"), str):
        record["user"] = {"id": request["user"]}
    extra = {"finish_reason": choices[0].get("finish_reason"), "usage": response.get("usage")}
    extra = {k: v for k, v in extra.items() if v is not None}
    metadata = record.get("metadata")
    if metadata is None:
        record["metadata"] = extra
    elif isinstance(metadata, dict):
        record["metadata"] = {**extra, **metadata}
    # Any other metadata value is left for validation to reject with the field named.
    return record


def _decoded_lines(stream: io.BufferedReader, counter: list[int]) -> Iterator[str]:
    # surrogateescape keeps invalid bytes as U+DC80..U+DCFF so one bad row is reported instead of
    # the decoder aborting the whole file; _row_has_invalid_utf8 spots them afterwards.
    for line_number, line in _iter_lines(stream):
        counter[0] = line_number
        if line is None:
            continue
        yield line.decode("utf-8", "surrogateescape")


def _has_escaped_byte(value: str) -> bool:
    return not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value)


def _to_number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value  # validation names the field and says it must be a number


def _iter_csv(stream: io.BufferedReader) -> Iterator[ParsedLine]:
    counter = [0]
    reader = csv.reader(_decoded_lines(stream, counter), strict=True)
    header: list[str] | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if counter[0] == last_line:
                return  # the reader made no progress; stop rather than loop
            last_line = counter[0]
            yield start, ParseError(f"invalid CSV: {exc}", "")
            continue
        last_line = counter[0]
        if not row or all(not cell.strip() for cell in row):
            continue
        raw = ",".join(row)
        if _has_escaped_byte(raw):
            excerpt = raw.encode("utf-8", "surrogateescape")
            yield start, ParseError("invalid UTF-8", _excerpt(excerpt))
            continue
        if header is None:
            header = [name.strip() for name in row]
            continue
        if len(row) != len(header):
            reason = f"expected {len(header)} columns, found {len(row)}"
            yield start, ParseError(reason, raw[:EXCERPT_CHARS])
            continue
        record = csv_row_to_native(dict(zip(header, row, strict=True)))
        if isinstance(record, str):
            yield start, ParseError(record, raw[:EXCERPT_CHARS])
        else:
            yield start, record


def csv_row_to_native(row: dict[str, str]) -> dict[str, Any] | str:
    """Map one flat CSV row onto the native shape, or return why it cannot."""
    # An empty cell means "not given", so optional fields fall back to their defaults.
    cells = {k: v for k, v in row.items() if v != ""}
    record: dict[str, Any] = {}
    for column in CSV_COLUMNS:
        cell = cells.get(column.name)
        if cell is None:
            continue
        value: Any = cell
        if column.kind == "json":
            try:
                value = orjson.loads(cell)
            except orjson.JSONDecodeError:
                return f"{column.name} column is not valid JSON"
        elif column.kind == "number":
            value = _to_number(cell)
        *parents, key = column.path
        target = record
        for parent in parents:
            target = target.setdefault(parent, {})
        target[key] = value
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        return "metadata column must hold a JSON object"
    for name, value in cells.items():
        if name not in _CSV_NAMES and name:
            metadata.setdefault(name, value)
    record["metadata"] = metadata
    return record
