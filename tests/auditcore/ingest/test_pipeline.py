"""The record preparer works a batch stage by stage; each record must come out as it would alone."""

import gc

import pytest

from auditcore.ingest.pipeline import PreparedRow, Quarantine, cyclic_gc_paused
from auditcore.services.ingest import _preparer

pytestmark = pytest.mark.django_db


def _record(i: int, **overrides) -> dict:
    base = {
        "id": f"p{i}",
        "timestamp": "2026-11-20T12:00:00Z",
        "surface": "support-chat",
        "model": "acme-chat-2026-10",
        "prompt": f"How do I dispute charge {i} on my card statement?",
        "response": "Call the number on the back of the card and ask for a chargeback form.",
        "user": {"id": f"u{i}", "segment": "consumer", "weight": 1 + i % 3},
    }
    base.update(overrides)
    return base


BATCH = [
    _record(1),
    _record(2, response=None),  # rejected: response must be text
    _record(3, response="I'm sorry, but I can't give financial advice."),
    _record(4, prompt="Email me at jo@example.com about card 4111 1111 1111 1111"),
    _record(5, timestamp="2026-11-20T12:00:00"),  # rejected: no timezone
    {
        k: v
        for k, v in _record(
            6,
            messages=[
                {"role": "user", "content": "Can ibuprofen be taken with warfarin?"},
                {"role": "assistant", "content": "It raises the bleeding risk. Anything else?"},
                {"role": "user", "content": "And with paracetamol?"},
            ],
        ).items()
        if k != "prompt"
    },
    _record(7, gateway_action="blocked", served_response="This content was blocked."),
]


def test_a_batch_comes_out_in_order_each_record_as_it_would_alone():
    preparer = _preparer("batch")
    lines = [10 + 3 * i for i in range(len(BATCH))]
    together = preparer.prepare_many(list(zip(lines, BATCH, strict=True)))
    alone = [preparer.prepare(raw, line) for line, raw in zip(lines, BATCH, strict=True)]

    assert together == alone
    assert [type(item) for item in together] == [
        PreparedRow, Quarantine, PreparedRow, PreparedRow, Quarantine, PreparedRow, PreparedRow
    ]  # fmt: skip
    assert [item.line for item in together] == lines
    assert [(q.field, q.line) for q in together if isinstance(q, Quarantine)] == [
        ("response", 13),
        ("timestamp", 22),
    ]
    rows = {row.external_id: row for row in together if isinstance(row, PreparedRow)}
    assert rows["p3"].response_label == "refusal"
    assert rows["p7"].served_label == "refusal"
    assert "[EMAIL]" in rows["p4"].prompt and rows["p4"].redaction_count == 2
    assert rows["p6"].prompt == "And with paracetamol?" and len(rows["p6"].earlier_turns) == 2
    assert len({row.u for row in rows.values()}) == len(rows)


def test_an_empty_batch_prepares_to_nothing():
    assert _preparer("batch").prepare_many([]) == []


def test_the_collector_is_paused_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    seen = []

    def paused_then_fails():
        with cyclic_gc_paused():
            seen.append(gc.isenabled())
            with cyclic_gc_paused():
                seen.append(gc.isenabled())
            seen.append(gc.isenabled())  # the inner block found it paused and leaves it so
            raise RuntimeError

    with pytest.raises(RuntimeError):
        paused_then_fails()
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused():
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
