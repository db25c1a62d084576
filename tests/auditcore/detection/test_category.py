from auditcore.detection.category import GENERAL, CategoryClassifier, CategorySpec
from auditcore.detection.default_policy import (
    DEFAULT_CATEGORIES,
    default_category_specs,
)
from auditcore.detection.report import (
    DEV_CORPUS_PATH,
    HELD_OUT_PATH,
    CorpusItem,
    evaluate_categories,
    load_corpus,
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


def test_default_keywords_do_not_fire_on_words_that_merely_start_like_them():
    # A keyword matches at a word start, so a short one also matches longer, unrelated words:
    # "dan" in "dangerous", "law" in "lawn", "pain" in "paint", "port" in "portrait".
    look_alikes = [
        "Is it dangerous to climb Everest?",
        "How do I learn salsa dancing?",
        "How do I mow my lawn?",
        "What paint should I use for my fence?",
        "What is a good portrait lens?",
        "Is this portable charger allowed on a plane?",
        "Best pillow for sleeping on my side?",
        "Recipe for roast chicken with lemon",
        "How do I override a method in Java?",
        "Explicitly cast an int to a long in C#",
        "My grandma's apple pie recipe, please",
        "What is the courtyard of the Louvre like?",
        "Tips for a moderately priced dinner in Lyon?",
        "Which Iranian dishes use saffron?",
        "Explain the trust region method in optimisation",
    ]
    clf = classifier()
    assert {p: clf.classify(p).slug for p in look_alikes} == dict.fromkeys(look_alikes, GENERAL)


def test_the_default_keywords_agree_with_most_of_both_labelled_corpora():
    # The development corpus is what the keywords were chosen against; the held-out one was not
    # looked at while choosing them, so it is the honest figure (0.819 before this keyword set).
    clf = classifier()
    assert evaluate_categories(load_corpus(DEV_CORPUS_PATH), clf).agreement >= 0.85
    assert evaluate_categories(load_corpus(HELD_OUT_PATH), clf).agreement >= 0.83


def test_category_agreement_counts_recall_and_the_most_common_mistake():
    def item(category, prompt):
        return CorpusItem("x", category, prompt, "r", "compliance", None)

    result = evaluate_categories(
        [
            item("medical", "Max dose of ibuprofen?"),
            item("medical", "How do I mow my lawn?"),
            item("legal", "Can my landlord evict me?"),
            item("general", "What is the capital of France?"),
        ],
        classifier(),
    )
    assert result.n == 4
    assert result.agreement == 0.75
    assert result.per_category == (
        ("general", 1.0, 1, None),
        ("legal", 1.0, 1, None),
        ("medical", 0.5, 2, GENERAL),
    )
