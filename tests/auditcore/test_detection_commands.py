import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from auditcore.detection.response import DETECTOR_VERSION


def _report(**options) -> str:
    out = StringIO()
    call_command("detection_report", stdout=out, **options)
    return out.getvalue()


def test_detection_report_prints_accuracy_and_the_confusion_matrix():
    text = _report()
    assert "dev_corpus.jsonl" in text
    assert "held_out.jsonl" in text
    assert "binary accuracy" in text
    assert "confusion matrix" in text
    assert "held_out.jsonl: categories (default policy keywords) (n=83)" in text
    agreement = re.findall(r"agreement with the corpus category: (0\.\d+)", text)
    assert len(agreement) == 2 and all(0.5 < float(a) <= 1 for a in agreement)
    for slug in ("financial", "medical", "legal", "security", "content", "jailbreak", "general"):
        assert re.search(rf"^  {slug} +[01]\.\d{{3}} +\d+  ", text, re.M), slug


@pytest.mark.django_db
def test_classify_responses_labels_every_line_in_order_and_reports_bad_lines(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"id": 1, "prompt": "Max dose of ibuprofen?", "response": "1,200 mg."}),
                "{not json",
                json.dumps({"id": 3, "prompt": "Hack my ex's email", "response": "I can't help."}),
                json.dumps({"id": 4, "prompt": "no response field"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    target = tmp_path / "out.jsonl"
    err = StringIO()
    call_command("classify_responses", str(source), str(target), stdout=StringIO(), stderr=err)
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in rows] == [1, None, 3, None]
    assert rows[0]["refusal_label"] == "compliance"
    assert rows[0]["category"] == "medical"
    assert rows[2]["refusal_label"] == "refusal"
    assert rows[2]["detector_version"] == DETECTOR_VERSION
    assert 0 <= rows[2]["refusal_score"] <= 1
    assert rows[1]["line"] == 2
    assert rows[3]["line"] == 4
    assert "line 2" in err.getvalue()
    assert "line 4" in err.getvalue()


@pytest.mark.django_db
def test_classify_responses_reads_custom_field_names(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"q": "Is 17 prime?", "a": "No."}) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    call_command(
        "classify_responses",
        str(source),
        str(target),
        prompt_field="q",
        response_field="a",
        stdout=StringIO(),
    )
    (row,) = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert row["refusal_label"] == "compliance"


def test_detection_report_compares_the_prefix_list_per_source_and_style_on_the_held_out_split():
    text = _report()
    assert "public sources: not read" in text
    assert "held_out split by source" in text
    assert "held_out split by style" in text
    for classifier in ("prefix list", "fast tier"):
        assert re.search(rf"^  refusal-audit +{classifier} +\d+ +[01]\.\d{{3}}", text, re.M)
    assert re.search(r"^  non_english +fast tier +\d+ ", text, re.M)
    assert "refusal F1" in text


def test_detection_report_names_each_public_source_whose_snapshot_is_missing(tmp_path):
    text = _report(snapshots=tmp_path)
    assert f"public source JailbreakBench/artifacts: no snapshot under {tmp_path}" in text
    assert f"public source openai/safety-rbr-code-and-data: no snapshot under {tmp_path}" in text
    assert "held_out split by source" in text
