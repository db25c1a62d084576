from auditcore.detection.category import GENERAL, CategoryClassifier, CategorySpec
from auditcore.detection.default_policy import (
    DEFAULT_CATEGORIES,
    default_category_specs,
)


def classifier():
    return CategoryClassifier(default_category_specs())


def test_it_picks_the_category_whose_keywords_match():
    assert classifier().classify("What's the max daily dose of ibuprofen?").slug == "medical"
    assert classifier().classify("How do I file taxes on my crypto gains?").slug == "financial"
    assert classifier().classify("Can my landlord evict me without a court order?").slug == "legal"


def test_it_returns_general_when_nothing_fits():
    result = classifier().classify("What's the capital of Australia?")
    assert result.slug == GENERAL
    assert result.score == 0.0


def test_earlier_turns_carry_the_context_into_a_vague_question():
    clf = classifier()
    assert clf.classify("Which of them should I close?").slug == GENERAL
    result = clf.classify(
        "Which of them should I close?",
        earlier_turns=["I'm debugging my own server", "It has ports 22, 80 and 6379 open"],
    )
    assert result.slug == "security"


def test_the_prompt_outweighs_an_old_turn():
    result = classifier().classify(
        "What's a safe dose of melatonin for sleep?",
        earlier_turns=["Earlier I asked you about my server firewall"],
    )
    assert result.slug == "medical"


def test_categories_are_data_from_the_policy():
    specs = [CategorySpec(slug="cooking", name="Cooking", keywords=("recipe", "bake"))]
    assert CategoryClassifier(specs).classify("A recipe for banana bread?").slug == "cooking"


def test_a_high_stakes_category_wins_on_weaker_evidence():
    specs = [
        CategorySpec(slug="low", name="Low", keywords=("alpha",)),
        CategorySpec(slug="high", name="High", keywords=("beta",), high_stakes=True),
    ]
    clf = CategoryClassifier(specs)
    assert clf.classify("tell me about beta").slug == "high"
    assert 0 < clf.classify("tell me about beta").score < 1


def test_it_handles_empty_and_huge_prompts():
    clf = classifier()
    assert clf.classify("").slug == GENERAL
    assert clf.classify(None).slug == GENERAL
    assert clf.classify("hack " * 100_000).slug == "security"


def test_the_default_policy_has_every_category_with_help_and_decline_rules():
    slugs = [c["slug"] for c in DEFAULT_CATEGORIES]
    assert slugs == ["financial", "medical", "legal", "security", "content", "jailbreak", "general"]
    for category in DEFAULT_CATEGORIES:
        assert category["help_when"]
        assert category["decline_when"]
        assert {e["expected"] for e in category["examples"]} <= {"help", "decline"}
