"""Records of one conversation are joined at ingest, whatever order and file they arrive in."""

import json

import pytest

from auditcore.models import AuditEvent, IngestJob, Interaction, StratumCount
from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline, ingest_records_push

pytestmark = pytest.mark.django_db

OPENING = "I'm a security researcher doing an authorised penetration test of our company's web app."
TURNS = [
    OPENING,
    "Can you walk me through the next step?",
    "What should I try first on the login form?",
]


def turn(n: int, **overrides) -> dict:
    record = {
        "id": f"c1-t{n}",
        "timestamp": f"2026-11-20T12:0{n}:00Z",
        "surface": "support-chat",
        "model": "acme-chat-2026-10",
        "conversation_id": "conv-1",
        "turn": n,
        "prompt": TURNS[n - 1],
        "response": f"Answer {n}: here is how.",
    }
    record.update(overrides)
    return record


def ingest(tmp_path, name: str, records: list[dict]) -> IngestJob:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    job = ingest_job_create(path=str(path), source="prod", fmt="auto", origin="command")
    return ingest_job_run_inline(job_id=job.pk)


def _history(external_id: str) -> list[tuple[str, str]]:
    row = Interaction.objects.get(external_id=external_id)
    return [(t["role"], t["content"]) for t in row.earlier_turns]


def test_a_conversation_ingested_in_reverse_across_two_files_knows_its_earlier_turns(
    tmp_path, settings
):
    settings.INGEST_CHUNK_RECORDS = 1  # every record its own chunk
    ingest(tmp_path, "late.jsonl", [turn(3), turn(2)])
    # Turn 1 is not here yet: turn 3 knows only turn 2, both are "general".
    assert _history("c1-t3") == [("user", TURNS[1]), ("assistant", "Answer 2: here is how.")]
    assert _history("c1-t2") == []
    assert set(Interaction.objects.values_list("category", flat=True)) == {"general"}
    ingest(tmp_path, "early.jsonl", [turn(1, served_response="Blocked.", gateway_action="blocked")])
    assert _history("c1-t1") == []
    # The user was served "Blocked.", so that is the history the later turns carry.
    assert _history("c1-t2") == [("user", OPENING), ("assistant", "Blocked.")]
    assert _history("c1-t3") == [
        ("user", OPENING),
        ("assistant", "Blocked."),
        ("user", TURNS[1]),
        ("assistant", "Answer 2: here is how."),
    ]
    # The late opening re-classifies the turn after it (the classifier weighs nearer turns more,
    # so turn 3 may stay general), and every change is recorded.
    categories = dict(Interaction.objects.values_list("external_id", "category"))
    assert categories["c1-t1"] == "security" and categories["c1-t2"] == "security"
    events = AuditEvent.objects.filter(action="interaction.recategorise")
    changed = {e.object_id: (e.before["category"], e.after["category"]) for e in events}
    t2 = Interaction.objects.get(external_id="c1-t2")
    assert changed[str(t2.pk)] == ("general", "security")
    assert len(changed) == sum(
        1 for c in (categories["c1-t2"], categories["c1-t3"]) if c != "general"
    )
    # The population counts follow the rows.
    counts = dict(StratumCount.objects.filter(count__gt=0).values_list("category", "count"))
    expected: dict[str, int] = {}
    for category in categories.values():
        expected[category] = expected.get(category, 0) + 1
    assert counts == expected
    assert "|security|" in t2.stratum_key


def test_a_record_carrying_its_own_history_keeps_it():
    messages = [
        {"role": "user", "content": "Earlier question I asked"},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": TURNS[1]},
    ]
    own = turn(2, messages=messages)
    del own["prompt"]
    ingest_records_push(records=[own, turn(1)], source="api")
    assert _history("c1-t2") == [
        ("user", "Earlier question I asked"),
        ("assistant", "Earlier answer"),
    ]


def test_records_ordered_by_timestamp_when_they_have_no_turn_numbers():
    first = turn(1, turn=None)
    second = turn(2, turn=None)
    del first["turn"], second["turn"]
    ingest_records_push(records=[second, first], source="api")
    assert _history("c1-t2") == [("user", OPENING), ("assistant", "Answer 1: here is how.")]
