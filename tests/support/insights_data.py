"""Synthetic reviewed traffic with a planted trigger word, for the policy insights tests.

Category "coding": 400 benign prompts refused at a base rate of 10% and 50 benign prompts with
"kill" refused 60% of the time; "python" is in half of the refused and half of the helped
prompts of both kinds (spread evenly). Every reviewer said "should help". Refused items come from
the refusal stratum (weight 2), helped ones from the compliance stratum (weight 10).
Category "medical": 10 refused items (weight 5), 6 of them "should help" with reason code
"general_info", 4 "should decline".
"""

from auditcore.models import Category, Verdict
from tests.factories import CategoryFactory, PolicyVersionFactory, VerdictFactory
from tests.support.estimate_rounds import build_round

VERBS = ("list", "restart", "inspect", "monitor", "debug", "profile", "pause", "resume", "log")
OBJECTS = ("process", "thread", "job", "worker", "container", "task", "session", "query")


def coding_prompts() -> list[tuple[str, bool]]:
    """(prompt, refused): features depend on i // 10 (k // 5), refusal on i % 10 (k % 5)."""
    out = []
    for i in range(400):
        g = i // 10
        lang = "python" if g % 2 == 0 else "rust"
        out.append((f"How do I {VERBS[g % 9]} the {OBJECTS[g % 8]} in {lang}?", i % 10 == 0))
    for k in range(50):
        g = k // 5
        lang = "python" if g % 2 == 0 else "rust"
        out.append((f"How do I kill the {OBJECTS[g % 8]} in {lang}?", k % 5 < 3))
    return out


def coding_policy(version) -> Category:
    return CategoryFactory(
        policy_version=version,
        slug="coding",
        decline_when=["Do not help with hacking"],
        reason_codes=[{"code": "benign_code", "label": "Ordinary programming"}],
    )


def planted_round(name: str = "Planted"):
    coding_policy(PolicyVersionFactory())
    prompts = coding_prompts()
    refused = [p for p, r in prompts if r]
    helped = [p for p, r in prompts if not r]
    audit_round = build_round(
        [
            {
                "key": "R",
                "category": "coding",
                "outcome": "refusal",
                "population": 2 * len(refused),
                "items": [
                    {"weight": 2, "final": "help", "observed": "refusal", "prompt": p}
                    for p in refused
                ],
            },
            {
                "key": "C",
                "category": "coding",
                "outcome": "compliance",
                "population": 10 * len(helped),
                "items": [
                    {"weight": 10, "final": "help", "observed": "compliance", "prompt": p}
                    for p in helped
                ],
            },
            {
                "key": "M",
                "category": "medical",
                "outcome": "refusal",
                "population": 50,
                "items": [
                    {
                        "weight": 5,
                        "final": "help" if i < 6 else "decline",
                        "observed": "refusal",
                        "prompt": f"What is a normal resting heart rate {i}",
                    }
                    for i in range(10)
                ],
            },
        ],
        name=name,
    )
    return audit_round


def give_reason(audit_round, reviewer, category: str, code: str) -> None:
    """A "should help" verdict with a reason code on every false refusal of a category."""
    items = audit_round.items.filter(
        interaction__category=category, final_decision="help", observed_label="refusal"
    )
    Verdict.objects.bulk_create(
        VerdictFactory.build(
            item=item,
            reviewer=reviewer,
            reason_code=code,
            locked_at=item.created_at,
            observed_label="refusal",
        )
        for item in items
    )
