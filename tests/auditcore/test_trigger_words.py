"""Golden tests of the weighted log-odds with an informative Dirichlet prior (worked by hand)."""

import math

import pytest

from auditcore.trigger_words import Prompt, kish_scaled, score_terms, terms, trigger_terms, words


def test_words_drop_stop_words_placeholders_digits_and_single_letters():
    text = "How do I KILL the process 42 for [EMAIL]? Ask x about it's pid"
    assert words(text) == ["kill", "process", "ask", "pid"]


def test_terms_are_words_and_adjacent_pairs_once_stop_words_are_out():
    assert terms("kill the stuck process") == {
        "kill",
        "stuck",
        "process",
        "kill stuck",
        "stuck process",
    }


def test_equal_weights_give_the_hand_worked_log_odds():
    # Refused: "kill process", "kill job"; helped: "list process", "list job".
    # Each group: 3 words + 2 phrases per 2 prompts, n = 6; prior α_w = both groups' count,
    # α_0 = 12. kill: y_i = 2, y_j = 0, α = 2:
    #   δ = ln(4 / (6 + 12 - 2 - 2)) - ln(2 / (6 + 12 - 0 - 2)) = ln(4/14) - ln(2/16) = ln(16/7)
    #   σ² = 1/4 + 1/2 = 3/4
    prompts = [
        Prompt("kill process", 1.0, True, 1),
        Prompt("kill job", 1.0, True, 2),
        Prompt("list process", 1.0, False, 3),
        Prompt("list job", 1.0, False, 4),
    ]
    scores = {s.term: s for s in score_terms(prompts)}
    kill = scores["kill"]
    assert kill.delta == pytest.approx(math.log(16 / 7))
    assert kill.z == pytest.approx(math.log(16 / 7) / math.sqrt(0.75))
    assert kill.z == pytest.approx(0.95456, abs=1e-5)
    assert (kill.refused_prompts, kill.helped_prompts) == (2, 0)
    assert scores["process"].delta == pytest.approx(0.0)
    assert scores["list"].delta == pytest.approx(-math.log(16 / 7))
    assert next(iter(score_terms(prompts))).term == "kill"


def test_design_weights_count_on_the_kish_effective_scale():
    # Refused weights 3 and 1: Σd = 4, Σd² = 10, effective size 1.6, scaled weights 1.2 and 0.4.
    # Helped weights 5 and 5: scaled to 1 and 1.
    assert kish_scaled([3.0, 1.0]) == pytest.approx([1.2, 0.4])
    assert kish_scaled([5.0, 5.0]) == pytest.approx([1.0, 1.0])
    prompts = [
        Prompt("kill process", 3.0, True, 1),
        Prompt("kill job", 1.0, True, 2),
        Prompt("list process", 5.0, False, 3),
        Prompt("list job", 5.0, False, 4),
    ]
    # Refused counts: kill 1.6, process 1.2, kill process 1.2, job 0.4, kill job 0.4 (n_i 4.8);
    # helped n_j = 6; α_0 = 10.8. kill: α = 1.6,
    #   δ = ln(3.2 / (4.8 + 10.8 - 3.2)) - ln(1.6 / (6 + 10.8 - 1.6)) = ln(3.2/12.4 · 15.2/1.6)
    #   σ² = 1/3.2 + 1/1.6 = 0.9375
    # process: y_i = 1.2, y_j = 1, α = 2.2: δ = ln(3.4/12.2) - ln(3.2/13.6)
    scores = {s.term: s for s in score_terms(prompts)}
    assert scores["kill"].refused_count == pytest.approx(1.6)
    assert scores["kill"].delta == pytest.approx(math.log(30.4 / 12.4))
    assert scores["kill"].z == pytest.approx(math.log(30.4 / 12.4) / math.sqrt(0.9375))
    assert scores["process"].delta == pytest.approx(math.log(3.4 / 12.2) - math.log(3.2 / 13.6))
    # The heavier refused prompt is the first example.
    assert scores["kill"].examples == (1, 2)


def test_a_term_needs_the_minimum_count_and_a_significant_z_to_be_shown():
    # Every other word (and so every phrase) is in one prompt only.
    def name(i: int) -> str:
        return "w" + chr(97 + i // 26) + chr(97 + i % 26)

    refused = [Prompt(f"kill {name(i)}", 1.0, True, i) for i in range(6)]
    helped = [Prompt(f"list {name(i)}", 1.0, False, 100 + i) for i in range(10, 50)]
    helped += [Prompt("kill", 1.0, False, 200)]
    shown = trigger_terms(refused + helped, min_count=5)
    assert [s.term for s in shown] == ["kill"]
    assert trigger_terms(refused + helped, min_count=7) == []
    # Spread evenly: in half of each group, never shown.
    even = [Prompt(f"python job{i}" if i % 2 else f"job{i}", 1.0, i < 20, i) for i in range(80)]
    assert all(s.term != "python" for s in trigger_terms(even, min_count=1))
