"""Tests for the synthetic production-traffic generator (pure: no database)."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from auditcore.demo_data import (
    BLOCKED_MESSAGE,
    HARMFUL,
    MODELS,
    PARTIAL,
    REFUSAL,
    SURFACES,
    _generate_with_truth,
    generate_records,
    write_jsonl,
)

REQUIRED = {"id", "timestamp", "surface", "model", "messages", "response"}
START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pairs():
    return list(_generate_with_truth(5000, seed=7))


@pytest.fixture(scope="module")
def big_pairs():
    # Enough records that per-model and per-segment rates on benign traffic are stable.
    return list(_generate_with_truth(40_000, seed=21))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _refusal_rate(pairs, predicate) -> float:
    picked = [t for r, t in pairs if predicate(r, t)]
    return sum(t.label == REFUSAL for t in picked) / len(picked)


def test_it_is_deterministic_for_a_seed():
    assert list(generate_records(300, seed=11)) == list(generate_records(300, seed=11))
    assert list(generate_records(300, seed=11)) != list(generate_records(300, seed=12))


def test_it_streams_instead_of_building_a_list():
    first = list(islice(generate_records(10**9), 3))
    assert [r["id"] for r in first] == ["demo-00000000", "demo-00000001", "demo-00000002"]


def test_ids_are_unique_and_carry_the_source_prefix():
    ids = [r["id"] for r in generate_records(5000, source_prefix="bench")]
    assert len(set(ids)) == 5000
    assert all(i.startswith("bench-") for i in ids)


def test_every_record_passes_the_input_schema(pairs):
    end = START + timedelta(days=14)
    for record, _truth in pairs:
        assert set(record) >= REQUIRED
        assert record["timestamp"].endswith("Z")
        ts = datetime.fromisoformat(record["timestamp"])
        assert ts.tzinfo is not None
        assert START <= ts < end
        assert record["surface"] in SURFACES
        assert record["model"] in MODELS
        messages = record["messages"]
        assert messages
        assert messages[-1]["role"] == "user"
        assert all(m["role"] in ("user", "assistant") and m["content"] for m in messages)
        assert isinstance(record["response"], str)
        assert record["response"]
        assert record["gateway_action"] in ("none", "blocked", "replaced")
        assert (record["served_response"] is None) == (record["gateway_action"] == "none")
        assert set(record["user"]) == {"id", "segment", "weight"}
        assert 1.0 <= record["user"]["weight"] <= 50.0
        assert record["session_importance"] > 0


def test_metadata_does_not_leak_the_generators_truth(pairs):
    keys = {k for r, _ in pairs for k in r["metadata"]}
    assert keys == {"locale", "app_version"}


def test_timestamps_cover_the_whole_period_in_order():
    records = list(generate_records(2000, start=datetime(2026, 12, 1, 9, 30, tzinfo=UTC), days=3))
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in records]
    assert stamps == sorted(stamps)
    assert stamps[0] >= datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert stamps[-1] > datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_it_rejects_a_naive_start():
    with pytest.raises(ValueError, match="timezone-aware"):
        next(generate_records(1, start=datetime(2026, 11, 1)))  # noqa: DTZ001


def test_about_ten_percent_refusals_and_four_percent_partial(pairs):
    labels = Counter(t.label for _, t in pairs)
    assert 0.07 <= labels[REFUSAL] / len(pairs) <= 0.13
    assert 0.02 <= labels[PARTIAL] / len(pairs) <= 0.06


def test_refusals_concentrate_on_harmful_and_trigger_word_prompts(pairs):
    harmful = _refusal_rate(pairs, lambda r, t: t.kind == HARMFUL)
    trigger = _refusal_rate(pairs, lambda r, t: t.kind == "trigger")
    benign = _refusal_rate(pairs, lambda r, t: t.kind == "benign")
    assert harmful > 0.7
    assert trigger > 3 * benign


def test_the_release_candidate_refuses_benign_prompts_more(big_pairs):
    def rate(model: str) -> float:
        return _refusal_rate(big_pairs, lambda r, t: t.should_help and r["model"] == model)

    assert rate("acme-chat-2026-11-rc") > 1.5 * rate("acme-chat-2026-10")


def test_non_native_speakers_are_refused_more_on_benign_prompts(big_pairs):
    def rate(non_native: bool) -> float:
        return _refusal_rate(
            big_pairs,
            lambda r, t: t.should_help and (r["user"]["segment"] == "non_native_en") == non_native,
        )

    assert rate(True) > 1.3 * rate(False)


def test_the_same_question_is_helped_on_one_surface_and_refused_on_another(big_pairs):
    outcomes: dict[str, set[tuple[str, str]]] = {}
    for record, truth in big_pairs:
        if truth.should_help:
            prompt = record["messages"][-1]["content"]
            outcomes.setdefault(prompt, set()).add((record["surface"], truth.label))
    inconsistent = [
        p
        for p, seen in outcomes.items()
        if {s for s, label in seen if label == REFUSAL}
        - {s for s, label in seen if label != REFUSAL}
        and {s for s, label in seen if label != REFUSAL}
    ]
    assert len(inconsistent) >= 20


def test_some_conversations_have_earlier_turns(pairs):
    share = sum(len(r["messages"]) > 1 for r, _ in pairs) / len(pairs)
    assert 0.1 <= share <= 0.2


def test_some_prompts_carry_pii_including_a_luhn_valid_card(pairs):
    prompts = [r["messages"][-1]["content"] for r, _ in pairs]
    with_email = [p for p in prompts if "@" in p]
    cards = [p.split("The card is ")[1][:19] for p in prompts if "The card is " in p]
    assert with_email
    assert cards
    assert all(_luhn_ok(c.replace(" ", "")) for c in cards)
    share = sum(
        "@" in p or "+1 " in p or "The card is" in p or "server is at" in p for p in prompts
    )
    assert 0.03 <= share / len(prompts) <= 0.07


def test_the_gateway_blocks_with_the_canned_message(pairs):
    blocked = [r for r, _ in pairs if r["gateway_action"] == "blocked"]
    assert blocked
    assert all(r["served_response"] == BLOCKED_MESSAGE for r in blocked)
    assert any(r["gateway_action"] == "replaced" for r, _ in pairs)


def test_target_bytes_brings_the_average_json_line_near_the_target():
    for target in (900, 1200):
        lines = [
            json.dumps(r, ensure_ascii=False) for r in generate_records(5000, target_bytes=target)
        ]
        average = sum(len(line.encode()) + 1 for line in lines) / len(lines)
        assert target * 0.95 <= average <= target * 1.05


def test_padding_keeps_refusals_short_and_answers_realistic():
    for record, truth in _generate_with_truth(3000, target_bytes=1200):
        if truth.label == REFUSAL:
            assert len(record["response"]) < 400
        # Padding is more sentences, never runs of filler characters.
        assert "xxxx" not in record["response"]
        assert "    " * 4 not in record["response"]


def test_write_jsonl_writes_one_record_per_line(tmp_path):
    path = tmp_path / "demo.jsonl"
    records = list(generate_records(50))
    assert write_jsonl(records, path) == 50
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
