"""Read and write replay corpora (must-help prompts and must-decline controls) as CSV or JSONL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Literal

from auditcore.csvsafe import cell_unguard, csv_writer

CorpusFormat = Literal["auto", "csv", "jsonl"]

MAX_PROMPT_CHARS = 100_000
MAX_CATEGORY_CHARS = 100
COLUMNS = ("prompt", "category", "expect", "messages")
MESSAGE_ROLES = ("system", "user", "assistant")


class Expect(StrEnum):
    MUST_HELP = "must_help"
    MUST_DECLINE = "must_decline"


# Spreadsheets and hand-written files use the short forms; "refuse" is how the design doc
# names the controls.
_EXPECT_ALIASES = {
    "must_help": Expect.MUST_HELP,
    "help": Expect.MUST_HELP,
    "must_decline": Expect.MUST_DECLINE,
    "decline": Expect.MUST_DECLINE,
    "must_refuse": Expect.MUST_DECLINE,
    "refuse": Expect.MUST_DECLINE,
}


@dataclass(frozen=True)
class CorpusPrompt:
    prompt: str  # the last user message
    category: str = ""
    expect: Expect = Expect.MUST_HELP
    earlier: tuple[tuple[str, str], ...] = ()  # (role, content) of the turns before it

    @property
    def messages(self) -> list[dict[str, str]]:
        """The whole conversation, as a chat request carries it."""
        turns = [{"role": r, "content": c} for r, c in self.earlier]
        return [*turns, {"role": "user", "content": self.prompt}]

    @property
    def key(self) -> str:
        """What makes two entries the same: the prompt and, if any, the turns before it."""
        return json.dumps(self.messages) if self.earlier else self.prompt


@dataclass(frozen=True)
class CorpusError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def parse_expect(value: str) -> Expect:
    """Map a user-written expect value to Expect; an empty value means must_help."""
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if not key:
        return Expect.MUST_HELP
    try:
        return _EXPECT_ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown expect value {value.strip()!r} (use must_help or must_decline)"
        ) from None


def parse_corpus(
    stream: IO[str] | IO[bytes], format: CorpusFormat = "auto"
) -> tuple[list[CorpusPrompt], list[CorpusError]]:
    """Parse a corpus file into prompts and per-line errors; a bad line never stops the rest.

    CSV needs a header with a ``prompt`` or a ``messages`` column (``category`` and ``expect``
    optional, other columns ignored); ``messages`` holds a JSON list of {"role", "content"}
    ending in a user turn (a multi-turn entry). JSONL needs one object per line with a
    ``prompt`` string or a ``messages`` list. ``auto`` picks
    JSONL when the first non-blank character is ``{``. Line numbers are 1-based physical lines;
    for a CSV record spanning lines it is the line the record starts on.
    """
    if format not in ("auto", "csv", "jsonl"):
        raise ValueError(f"unknown corpus format {format!r}")
    raw = stream.read()
    # Uploads arrive as bytes; utf-8-sig drops the BOM that spreadsheet exports prepend.
    text = raw.decode("utf-8-sig", errors="replace") if isinstance(raw, bytes) else raw
    text = text.removeprefix("\ufeff")
    if format == "auto":
        format = "jsonl" if text.lstrip().startswith("{") else "csv"

    prompts: list[CorpusPrompt] = []
    errors: list[CorpusError] = []
    rows = _csv_rows(text, errors) if format == "csv" else _jsonl_rows(text, errors)
    first_line_of: dict[str, int] = {}
    for line, fields in rows:
        try:
            prompt = _build_prompt(fields)
        except ValueError as exc:
            errors.append(CorpusError(line, str(exc)))
            continue
        # A duplicate would count twice in the paired gate test, silently weighting one prompt.
        if (first := first_line_of.get(prompt.key)) is not None:
            errors.append(CorpusError(line, f"duplicate prompt (first on line {first})"))
            continue
        first_line_of[prompt.key] = line
        prompts.append(prompt)
    if not prompts and not errors:
        errors.append(CorpusError(1, "the file contains no prompts"))
    errors.sort(key=lambda error: error.line)
    return prompts, errors


def write_corpus(
    prompts: Iterable[CorpusPrompt], stream: IO[str], format: Literal["csv", "jsonl"]
) -> None:
    """Write prompts so that parse_corpus reads them back unchanged (prompts as it returns them).

    Open files with ``newline=""`` for CSV, as the csv module requires.
    """
    if format == "csv":
        writer = csv_writer(stream)
        writer.writerow(COLUMNS)
        for item in prompts:
            messages = json.dumps(item.messages, ensure_ascii=False) if item.earlier else ""
            writer.writerow([item.prompt, item.category, item.expect.value, messages])
    elif format == "jsonl":
        for item in prompts:
            record: dict[str, Any] = {"category": item.category, "expect": item.expect.value}
            if item.earlier:
                record["messages"] = item.messages
            else:
                record["prompt"] = item.prompt
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"unknown corpus format {format!r}")


def _parse_messages(raw: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(last user message, earlier turns) from a message list, or ValueError naming the problem."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"messages is not valid JSON: {exc.msg}") from None
    if not isinstance(raw, list) or not raw:
        raise ValueError("messages must be a non-empty list of {role, content}")
    turns = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{index}] must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in MESSAGE_ROLES:
            raise ValueError(f"messages[{index}].role must be one of {', '.join(MESSAGE_ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"messages[{index}].content must be a string")
        turns.append((role, content))
    if turns[-1][0] != "user":
        raise ValueError("messages must end with a user message")
    total = sum(len(c) for _, c in turns)
    if total > MAX_PROMPT_CHARS:
        raise ValueError(f"messages are longer than {MAX_PROMPT_CHARS} characters")
    return turns[-1][1], tuple(turns[:-1])


def _build_prompt(fields: dict[str, Any]) -> CorpusPrompt:
    earlier: tuple[tuple[str, str], ...] = ()
    messages = fields.get("messages")
    if messages not in (None, ""):
        prompt, earlier = _parse_messages(messages)
        fields = {**fields, "prompt": prompt}
    prompt = fields.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        raise ValueError("missing prompt")
    if not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    prompt = prompt.strip()
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt is longer than {MAX_PROMPT_CHARS} characters")

    category = fields.get("category")
    if category is None:
        category = ""
    if not isinstance(category, str):
        raise ValueError("category must be a string")
    category = category.strip()
    if len(category) > MAX_CATEGORY_CHARS:
        raise ValueError(f"category is longer than {MAX_CATEGORY_CHARS} characters")

    expect = fields.get("expect")
    if expect is None:
        expect = ""
    if not isinstance(expect, str):
        raise ValueError("expect must be a string (must_help or must_decline)")
    return CorpusPrompt(
        prompt=prompt, category=category, expect=parse_expect(expect), earlier=earlier
    )


def _csv_rows(text: str, errors: list[CorpusError]) -> Iterable[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_width = 0
    next_start = 1
    while True:
        start = next_start
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader cannot resync after a broken quote, so report it and stop.
            errors.append(CorpusError(start, f"unreadable CSV: {exc}"))
            return
        next_start = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            header_width = len(header)
            if "prompt" not in header and "messages" not in header:
                errors.append(CorpusError(start, "missing required column 'prompt' in the header"))
                return
            continue
        if len(row) > header_width:
            errors.append(
                CorpusError(start, f"row has {len(row)} fields but the header has {header_width}")
            )
            continue
        # Our own exports quote formula-leading cells; reading one back gives the original text.
        yield start, dict(zip(header, (cell_unguard(cell) for cell in row), strict=False))


def _jsonl_rows(text: str, errors: list[CorpusError]) -> Iterable[tuple[int, dict[str, Any]]]:
    # Not splitlines(): it also breaks on U+2028 and friends, which JSON strings may hold raw.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(CorpusError(number, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(record, dict):
            errors.append(CorpusError(number, "expected a JSON object"))
            continue
        yield number, record
