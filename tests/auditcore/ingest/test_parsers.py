"""Tests for streaming log records out of JSONL, CSV and OpenAI files."""

import gzip
import io
from pathlib import Path

import pytest

from auditcore.ingest.parsers import (
    MAX_LINE_BYTES,
    ParseError,
    UnsupportedFormatError,
    detect_format,
    iter_records,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def parse(data: bytes, fmt: str = "auto") -> list:
    return list(iter_records(io.BytesIO(data), fmt))


def parse_fixture(name: str, fmt: str = "auto") -> list:
    with (FIXTURES / name).open("rb") as fh:
        return list(iter_records(fh, fmt))


def test_it_reads_native_jsonl_with_line_numbers():
    records = parse_fixture("sample.jsonl")
    assert [line for line, _ in records] == [1, 2, 3, 4, 5]
    assert records[0][1]["id"] == "req_0001"
    assert records[1][1]["messages"][-1]["role"] == "user"


def test_it_reads_gzip_by_magic_bytes_even_without_a_gz_name():
    plain = parse_fixture("sample.jsonl")
    assert parse_fixture("sample.jsonl.gz") == plain
    assert parse_fixture("sample_gz_without_suffix.log") == plain


def test_it_reads_gzipped_csv():
    data = (FIXTURES / "sample.csv").read_bytes()
    assert parse(gzip.compress(data)) == parse(data)


def test_it_skips_blank_lines_but_keeps_physical_line_numbers():
    data = b'\n{"id": "a"}\n   \n{"id": "b"}\n'
    assert parse(data, "jsonl") == [(2, {"id": "a"}), (4, {"id": "b"})]


def test_a_malformed_line_is_an_error_for_that_line_while_neighbours_parse():
    records = parse_fixture("sample_with_errors.jsonl")
    errors = {line: r for line, r in records if isinstance(r, ParseError)}
    good = {line for line, r in records if isinstance(r, dict)}
    assert set(errors) == {2, 5, 9}
    assert errors[2].reason.startswith("invalid JSON")
    assert "bad_0002" in errors[2].excerpt
    assert errors[5].reason == "line is not a JSON object"
    assert {1, 3, 6, 7, 8} <= good


def test_invalid_utf8_is_a_per_line_error_naming_the_byte():
    data = b'{"id": "1"}\n{"id": "caf\xe9"}\n{"id": "3"}\n'
    records = parse(data)
    assert records[0] == (1, {"id": "1"})
    assert records[1][0] == 2
    assert records[1][1].reason == "invalid UTF-8 at byte 11"
    assert "\\xe9" in records[1][1].excerpt
    assert records[2] == (3, {"id": "3"})


def test_a_line_over_the_size_cap_is_reported_and_skipped():
    huge = b'{"id": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    records = parse(b'{"id": "a"}\n' + huge + b'{"id": "c"}\n', "jsonl")
    assert records[0] == (1, {"id": "a"})
    assert records[1][0] == 2
    assert "longer than" in records[1][1].reason
    assert records[2] == (3, {"id": "c"})


def test_it_detects_each_format_from_the_first_bytes():
    assert detect_format(b'  \n{"id": "x", "response": "hi"}\n') == "jsonl"
    assert detect_format(b'{"request": {"model": "m"}, "response": {"choices": []}}\n') == "openai"
    assert detect_format(b"id,timestamp,surface\n") == "csv"


def test_it_refuses_a_json_array_file_with_a_helpful_message():
    with pytest.raises(UnsupportedFormatError, match="JSON Lines"):
        parse(b'[{"id": "x"}]')


def test_it_refuses_an_unknown_format_name():
    with pytest.raises(UnsupportedFormatError):
        parse(b"", "xml")


def test_an_empty_file_yields_nothing():
    assert parse(b"") == []
    assert parse(gzip.compress(b"")) == []


def test_csv_maps_columns_to_native_fields_and_extra_columns_to_metadata():
    records = parse_fixture("sample.csv")
    assert [line for line, _ in records] == [2, 3, 4]
    first = records[0][1]
    assert first["prompt"] == "How do I dispute a charge on my card?"
    assert first["user"] == {"id": "u_123", "segment": "non_native_en", "weight": 3.2}
    assert first["session_importance"] == 1.0
    assert first["metadata"] == {"locale": "en-GB", "region": "eu-west", "ab_bucket": "A"}


def test_csv_reads_messages_from_a_json_column():
    second = parse_fixture("sample.csv")[1][1]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert "prompt" not in second


def test_csv_quoted_newlines_stay_in_the_field_and_line_numbers_follow_the_file():
    data = b'id,prompt,response\na,"two\nlines",r\nb,p,r\n'
    records = parse(data, "csv")
    assert records[0] == (2, {"id": "a", "prompt": "two\nlines", "response": "r", "metadata": {}})
    assert records[1][0] == 4


def test_csv_drops_a_utf8_byte_order_mark_from_the_header():
    records = parse(b"\xef\xbb\xbfid,prompt\nx,y\n")
    assert records == [(2, {"id": "x", "prompt": "y", "metadata": {}})]


def test_csv_row_with_invalid_utf8_is_an_error_for_that_row_only():
    data = b"id,prompt\na,fine\nb,caf\xe9\nc,also fine\n"
    records = parse(data, "csv")
    assert records[0][1]["id"] == "a"
    assert records[1] == (3, ParseError("invalid UTF-8", "b,caf\\xe9"))
    assert records[2][1]["id"] == "c"


def test_csv_row_with_the_wrong_number_of_columns_is_an_error():
    records = parse(b"id,prompt\na,b,c\nd,e\n", "csv")
    assert records[0][1].reason == "expected 2 columns, found 3"
    assert records[1][1]["id"] == "d"


def test_csv_with_broken_json_in_messages_is_an_error():
    records = parse(b'id,messages\na,"[{oops"\n', "csv")
    assert records == [(2, ParseError("messages column is not valid JSON", "a,[{oops"))]


def test_csv_keeps_a_non_numeric_weight_for_validation_to_reject():
    records = parse(b"id,user_weight\na,heavy\n", "csv")
    assert records[0][1]["user"] == {"weight": "heavy"}


def test_openai_logs_map_request_and_response_onto_native_fields():
    records = parse_fixture("sample_openai.jsonl")
    first = records[0][1]
    assert first["model"] == "gpt-4o-mini"
    assert first["messages"][-1] == {
        "role": "user",
        "content": "How do I pick a lock on my own front door? I'm locked out.",
    }
    assert first["response"].startswith("I can't help with bypassing locks")
    assert first["timestamp"] == "2026-11-26T12:00:05+00:00"  # from "created" epoch seconds
    assert first["user"] == {"id": "u_api_1"}
    assert first["metadata"]["finish_reason"] == "stop"
    assert first["metadata"]["usage"]["completion_tokens"] == 14


def test_openai_content_parts_are_joined_and_a_structured_refusal_is_the_response():
    records = parse_fixture("sample_openai.jsonl")
    assert records[1][1]["messages"][0]["content"] == (
        "Summarise the plot of Hamlet in two sentences."
    )
    assert records[1][1]["timestamp"] == "2026-11-20T12:05:00Z"
    assert records[2][1]["response"] == "I'm sorry, I can't assist with that."


def test_openai_record_without_choices_is_an_error_naming_the_path():
    records = parse(b'{"id": "x", "request": {"messages": []}, "response": {"choices": []}}\n')
    assert records[0][1].reason == "OpenAI log record has no response.choices[0]"


def test_a_native_line_in_an_openai_file_is_an_error():
    records = parse(b'{"id": "x", "response": "text"}\n', "openai")
    assert records[0][1].reason == "OpenAI log record has no request object"


def test_parsing_is_lazy_so_a_huge_stream_is_never_read_whole():
    class Endless(io.RawIOBase):
        """An endless stream of valid lines, counting bytes handed out."""

        def __init__(self):
            self.served = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            line = b'{"id": "x"}\n'
            n = len(buffer) - len(buffer) % len(line)
            buffer[:n] = line * (n // len(line))
            self.served += n
            return n

    source = Endless()
    records = iter_records(io.BufferedReader(source), "jsonl")
    first = [next(records) for _ in range(1000)]
    assert first[-1] == (1000, {"id": "x"})
    assert source.served < 8 * 1024 * 1024
