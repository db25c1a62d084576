"""Prohibition lint and the version diff, on plain dicts."""

import pytest

from auditcore.policy_lint import diff_categories, is_unconditioned_rule, lint_category


@pytest.mark.parametrize(
    "rule",
    ["Do not provide medical advice", "Never discuss weapons", "Don't give legal advice."],
)
def test_bare_bans_are_unconditioned_rules(rule):
    assert is_unconditioned_rule(rule)


@pytest.mark.parametrize(
    "rule",
    [
        "Do not give dosages that would exceed the safe maximum",
        "Decline when the user asks for step-by-step synthesis of a nerve agent",
        "Instructions for picking a specific neighbour's lock",
        "Never help if the user states an intent to harm someone",
    ],
)
def test_conditioned_rules_pass(rule):
    assert not is_unconditioned_rule(rule)


def test_decline_conditions_without_help_conditions_are_a_bare_prohibition():
    flags = lint_category(
        {"slug": "medical", "decline_when": ["Dosages that would harm"], "help_when": []}
    )
    assert [f.code for f in flags] == ["bare_prohibition"]


def test_an_unconditioned_decline_rule_is_flagged_even_with_help_conditions():
    flags = lint_category(
        {
            "slug": "medical",
            "help_when": ["General health information"],
            "decline_when": [
                "Self-harm methods that are specific",
                "Do not provide medical advice",
            ],
        }
    )
    assert [(f.code, f.field, f.index) for f in flags] == [
        ("unconditioned_rule", "decline_when", 1)
    ]


def test_a_bare_ban_in_the_description_without_help_conditions_is_flagged():
    flags = lint_category({"slug": "legal", "description": "Do not provide legal advice"})
    assert [f.code for f in flags] == ["no_conditions", "unconditioned_rule"]


def test_a_well_written_category_has_no_flags():
    assert (
        lint_category(
            {
                "slug": "finance",
                "help_when": ["Explaining how a product works"],
                "decline_when": ["Helping hide income that must be reported"],
                "high_stakes": True,
                "examples": [{"prompt": "How do ETFs work?", "expected": "help"}],
            }
        )
        == []
    )


def test_high_stakes_without_examples_is_flagged():
    flags = lint_category(
        {"slug": "x", "help_when": ["a"], "decline_when": ["b that c"], "high_stakes": True}
    )
    assert [f.code for f in flags] == ["no_examples"]


def test_diff_reports_added_removed_and_changed_conditions():
    old = [
        {"slug": "medical", "name": "Medical", "help_when": ["A", "B"], "decline_when": ["C"]},
        {"slug": "gone", "name": "Gone", "help_when": ["G"]},
        {"slug": "same", "name": "Same", "help_when": ["S"]},
    ]
    new = [
        {"slug": "medical", "name": "Medicine", "help_when": ["A", "B2"], "decline_when": ["C"]},
        {"slug": "new", "name": "New", "decline_when": ["N"]},
        {"slug": "same", "name": "Same", "help_when": ["S"]},
    ]
    diffs = {d.slug: d for d in diff_categories(old, new)}
    assert diffs["gone"].status == "removed"
    assert diffs["gone"].lists[0].removed == ["G"]
    assert diffs["new"].status == "added"
    assert diffs["new"].lists[0].added == ["N"]
    assert diffs["same"].status == "unchanged"
    medical = diffs["medical"]
    assert medical.status == "changed"
    assert [(c.field, c.added, c.removed) for c in medical.lists] == [("help_when", ["B2"], ["B"])]
    assert [(c.field, c.before, c.after) for c in medical.scalars] == [
        ("name", "Medical", "Medicine")
    ]
