"""PostgreSQL's COPY path and the Python path write the same export, hostile text included."""

import csv
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from django.db import connection

from auditcore.csvsafe import cell_unguard
from auditcore.models import Interaction, ModelVersion, Policy, RoundItem, RoundStratum, Surface
from auditcore.services import exports as exports_service
from auditcore.services import review as svc
from auditcore.services.exports import export_labels_to_path
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db

# Formula leads, quotes, numbers that must stay numbers, CSV and JSON specials, COPY's own
# end-of-data marker, control characters and non-ASCII text.
HOSTILE = [
    "=1+1",
    "+SUM(A1)",
    "-cmd|' /C calc'!A0",
    "@x",
    "\tTab",
    "\rCR",
    "'=already quoted",
    "''two quotes",
    "-0.25",
    "+3e-5",
    "-٣",
    'plain, with "quotes"\r\nand lines',
    "\\.",
    "'",
    "é\u2028\x01\\ backslash",
    " =space first",
]


@pytest.fixture
def hostile(reviewer, second_reviewer, safety_lead):
    """Four labelled items whose every text field is hostile, one still waiting, and one
    labelled item of another round."""
    audit_round = make_round(items=5, required_reviews=2)
    items = items_of(audit_round)
    for user, decisions in (
        (reviewer, ("help", "help", "decline", "help")),
        (second_reviewer, ("help", "decline", "decline", "unsure")),
    ):
        for item, decision in zip(items[:4], decisions, strict=True):
            offered_verdict(
                reviewer=user, item_id=item.pk, decision=decision, reason_code="general_info"
            )
            svc.verdict_observe(reviewer=user, item_id=item.pk, observed_label="refusal")
    for item in (items[1], items[3]):
        svc.adjudication_record(adjudicator=safety_lead, item_id=item.pk, decision="decline")
    safety_lead.__class__.objects.filter(pk=safety_lead.pk).update(username="=HYPERLINK(1)")
    audit_round.__class__.objects.filter(pk=audit_round.pk).update(name="+round")
    Policy.objects.update(name="-policy")
    RoundStratum.objects.filter(round=audit_round).update(stratum_key="@stratum")
    surface = Surface.objects.create(name="=surface")
    model = ModelVersion.objects.create(name="\tmodel")
    whole_second = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)
    for n, item in enumerate(items[:4]):
        text = HOSTILE[n * 4 : n * 4 + 4]
        Interaction.objects.filter(pk=item.interaction_id).update(
            external_id=text[0],
            source=text[1],
            prompt=text[2],
            response=text[3],
            served_response=(None, "", text[0], "=served")[n],
            occurred_at=whole_second + dt.timedelta(microseconds=(0, 120, 999999, 5)[n]),
            surface=surface if n % 2 else item.interaction.surface,
            model_version=model if n % 2 else item.interaction.model_version,
            response_score=(1e-05, 1.0, 0.1 + 0.2, 0.0)[n],
            category_score=(33.333333333333336, 100.0, 1.5e-07, 123456.789)[n],
            earlier_turns=[
                {"role": "user", "content": text[0]},
                {"role": "assistant", "content": HOSTILE[-3]},
                {"content": "a turn without a role", "extra": "left out"},
                "not a turn",
            ],
        )
    RoundItem.objects.filter(pk=items[2].pk).update(inclusion_probability=1e-05, weight=100000.0)
    other = items_of(make_round(items=1))[0]
    offered_verdict(
        reviewer=reviewer, item_id=other.pk, decision="help", reason_code="general_info"
    )
    return audit_round, items


def _export(tmp_path, fmt, *, include_text, round_name, name):
    path = tmp_path / f"{name}.{fmt}"
    job = export_labels_to_path(
        actor=None,
        fmt=fmt,
        output=str(path),
        include_text=include_text,
        round_name=round_name,
        batch_size=3,
    )
    return job.rows_written, path


def _whole(text):
    """JSON's integers tagged, so a float written as "1" never equals one written as "1.0"."""
    return ("int", int(text))


def _read(fmt, path, parse_int=int):
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.reader(f))
    if fmt == "jsonl":
        return [json.loads(line, parse_int=parse_int) for line in path.read_bytes().splitlines()]
    table = pq.read_table(path)
    return table.schema, table.to_pylist()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("include_text", [False, True])
def test_copy_and_python_paths_write_the_same_export(
    tmp_path, hostile, monkeypatch, fmt, include_text
):
    for round_name, expected in ((None, 5), ("+round", 4)):
        rows, copied = _export(
            tmp_path, fmt, include_text=include_text, round_name=round_name, name="copy"
        )
        with monkeypatch.context() as m:
            m.setattr(exports_service, "_copies", lambda: False)
            python_rows, written = _export(
                tmp_path, fmt, include_text=include_text, round_name=round_name, name="python"
            )
        assert rows == python_rows == expected
        assert _read(fmt, copied, _whole) == _read(fmt, written, _whole)


def test_hostile_text_is_neutralised_in_csv_and_reads_back_exactly(tmp_path, hostile):
    _, items = hostile
    _, path = _export(tmp_path, "csv", include_text=True, round_name=None, name="labels")
    header, *rows = _read("csv", path)
    by_item = {int(row[0]): dict(zip(header, row, strict=True)) for row in rows}
    cells = [cell for row in by_item.values() for cell in row.values()]
    # No cell a spreadsheet would run: formula leads are quoted, numbers and JSON left alone.
    for cell in cells:
        assert not cell or cell[0] not in "=+@\t\r" or cell == "+3e-5", cell
        assert not cell.startswith("-") or cell == "-0.25", cell
    for n, item in enumerate(items[:4]):
        row = by_item[item.pk]
        interaction = Interaction.objects.get(pk=item.interaction_id)
        assert cell_unguard(row["external_id"]) == interaction.external_id
        assert cell_unguard(row["source"]) == interaction.source
        assert cell_unguard(row["prompt"]) == interaction.prompt
        assert cell_unguard(row["response"]) == interaction.response
        assert cell_unguard(row["served_response"]) == (interaction.served_response or "")
        assert json.loads(row["earlier_turns"])[0]["content"] == HOSTILE[n * 4]
    assert by_item[items[1].pk]["adjudicated_by"] == "'=HYPERLINK(1)"
    assert by_item[items[0].pk]["policy_version"] == "'-policy v1"
    assert by_item[items[2].pk]["inclusion_probability"] == "1e-05"
    assert by_item[items[2].pk]["weight"] == "100000.0"
    assert by_item[items[0].pk]["occurred_at"] == "2026-11-01T12:00:00+00:00"
    assert by_item[items[1].pk]["occurred_at"] == "2026-11-01T12:00:00.000120+00:00"


def test_hostile_text_round_trips_through_jsonl_and_parquet(tmp_path, hostile):
    _, items = hostile
    _, jsonl = _export(tmp_path, "jsonl", include_text=True, round_name=None, name="labels")
    _, parquet = _export(tmp_path, "parquet", include_text=True, round_name=None, name="labels")
    _, table = _read("parquet", parquet)
    for rows in (_read("jsonl", jsonl), table):
        by_item = {row["item_id"]: row for row in rows}
        for n, item in enumerate(items[:4]):
            interaction = Interaction.objects.get(pk=item.interaction_id)
            row = by_item[item.pk]
            assert (row["external_id"], row["prompt"], row["response"]) == (
                interaction.external_id,
                interaction.prompt,
                interaction.response,
            )
            assert row["served_response"] == interaction.served_response
            assert row["earlier_turns"] == [
                {"role": "user", "content": HOSTILE[n * 4]},
                {"role": "assistant", "content": HOSTILE[-3]},
                {"role": "", "content": "a turn without a role"},
            ]
        assert by_item[items[1].pk]["adjudicated_by"] == "=HYPERLINK(1)"
