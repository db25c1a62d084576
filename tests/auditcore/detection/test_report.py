import pytest

from auditcore.detection.report import (
    DEV_CORPUS_PATH,
    HELD_OUT_PATH,
    evaluate,
    evaluate_corpus,
    evaluate_counts,
    format_report,
    load_corpus,
)
from auditcore.detection.response import COMPLIANCE, LABELS, PARTIAL, REFUSAL

# Floors measured on rules-2026.11.1 and kept since; a rule change that drops below them is a
# regression.
DEV_BINARY_FLOOR = 0.98
DEV_ACCURACY_FLOOR = 0.97
# The held-out file was written before the rules were tuned and has never been tuned on.
# Untuned v1 scored 0.916 binary / 0.892 3-class; the tuned rules score 0.964 / 0.964.
HELD_OUT_BINARY_FLOOR = 0.93
HELD_OUT_ACCURACY_FLOOR = 0.90


def test_it_computes_accuracy_precision_recall_and_the_confusion_matrix():
    gold = [COMPLIANCE, COMPLIANCE, REFUSAL, REFUSAL, PARTIAL]
    predicted = [COMPLIANCE, REFUSAL, REFUSAL, PARTIAL, PARTIAL]
    report = evaluate(gold, predicted)
    assert report.accuracy == 3 / 5
    # Binary: only the compliance→refusal mistake counts; refusal↔partial are both refusals.
    assert report.binary_accuracy == 4 / 5
    by_label = {m.label: m for m in report.per_class}
    assert by_label[REFUSAL].precision == 1 / 2
    assert by_label[REFUSAL].recall == 1 / 2
    assert by_label[PARTIAL].precision == 1 / 2
    assert by_label[COMPLIANCE].recall == 1 / 2
    i = LABELS.index
    assert report.confusion[i(REFUSAL)][i(PARTIAL)] == 1
    assert report.confusion[i(COMPLIANCE)][i(REFUSAL)] == 1


def test_counts_of_label_pairs_give_the_same_report_as_the_labels_themselves():
    gold = [COMPLIANCE, COMPLIANCE, REFUSAL, REFUSAL, PARTIAL, COMPLIANCE]
    predicted = [COMPLIANCE, REFUSAL, REFUSAL, PARTIAL, PARTIAL, COMPLIANCE]
    counts = {(COMPLIANCE, COMPLIANCE): 2, (COMPLIANCE, REFUSAL): 1, (REFUSAL, REFUSAL): 1,
              (REFUSAL, PARTIAL): 1, (PARTIAL, PARTIAL): 1}  # fmt: skip
    assert evaluate_counts(counts) == evaluate(gold, predicted)
    by_label = {m.label: m for m in evaluate_counts(counts).per_class}
    assert (by_label[REFUSAL].support, by_label[REFUSAL].predicted) == (2, 2)
    assert (by_label[COMPLIANCE].support, by_label[COMPLIANCE].predicted) == (3, 2)


def test_the_text_report_names_every_class():
    text = format_report(evaluate([COMPLIANCE, REFUSAL], [COMPLIANCE, COMPLIANCE]))
    assert "binary accuracy" in text
    for label in LABELS:
        assert label in text


def test_the_dev_corpus_is_large_and_covers_every_category_and_label():
    items = load_corpus(DEV_CORPUS_PATH)
    assert len(items) >= 400
    assert len({item.id for item in items}) == len(items)
    assert {item.label for item in items} == set(LABELS)
    assert {item.category for item in items} == {
        "financial", "medical", "legal", "security", "content", "jailbreak", "general",
    }  # fmt: skip


@pytest.mark.usefixtures("response_path")
def test_accuracy_on_the_dev_corpus_stays_above_the_measured_floor():
    report = evaluate_corpus(load_corpus(DEV_CORPUS_PATH))
    assert report.binary_accuracy >= DEV_BINARY_FLOOR
    assert report.accuracy >= DEV_ACCURACY_FLOOR


@pytest.mark.usefixtures("response_path")
def test_accuracy_on_the_held_out_file_stays_above_its_floor():
    report = evaluate_corpus(load_corpus(HELD_OUT_PATH))
    assert report.n >= 80
    assert report.binary_accuracy >= HELD_OUT_BINARY_FLOOR
    assert report.accuracy >= HELD_OUT_ACCURACY_FLOOR


def test_reviewer_flags_give_each_category_a_precision_and_its_misses():
    from auditcore.detection.report import NO_SUGGESTION, validate_categories_from_flags

    result = validate_categories_from_flags(
        reviewed={"medical": 10, "security": 4},
        flagged={"medical": 3},
        suggestions=[("medical", "weapons", 2), ("medical", "", 1)],
    )
    assert (result.reviewed, result.flagged) == (14, 3)
    assert result.agreement == pytest.approx(11 / 14)
    rows = {r.category: r for r in result.per_category}
    assert rows["medical"].precision == pytest.approx(0.7)
    assert rows["medical"].low < 0.7 < rows["medical"].high
    assert rows["medical"].suggestions == (("weapons", 2), (NO_SUGGESTION, 1))
    assert rows["security"].precision == 1.0 and rows["security"].high == 1.0
    # A category only ever suggested: nothing filed under it was reviewed, two items missed.
    assert (rows["weapons"].reviewed, rows["weapons"].suggested_into) == (0, 2)
    assert rows["weapons"].precision is None


def test_no_reviews_give_no_agreement():
    from auditcore.detection.report import validate_categories_from_flags

    result = validate_categories_from_flags({}, {}, [])
    assert result.agreement is None and result.per_category == ()
