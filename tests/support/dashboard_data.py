"""Builders for the dashboard's legibility tests: flagged estimates, inconsistent surfaces."""

from tests.support.estimate_rounds import build_round


def one_item_strata(
    n: int, refused: int, category: str = "medical", model: str = "m1"
) -> list[dict]:
    """n should-help items, each alone in its stratum, the first `refused` of them refused."""
    return [
        {
            "key": f"S{i}",
            "category": category,
            "outcome": "refusal" if i < refused else "compliance",
            "model": model,
            "population": 4,
            "items": [{"weight": 4, "final": "help"}],
        }
        for i in range(n)
    ]


def inconsistent_round(groups: int, **round_options):
    """`groups` questions, each refused on the app and helped on the web (build_round's options)."""

    def prompt(i: int) -> str:
        return " ".join(f"q{i}w{k}" for k in range(6))

    def stratum(key: str, outcome: str, surface: str, text) -> dict:
        items = [{"weight": 1, "final": "help", "surface": surface, "prompt": text(i)}
                 for i in range(groups)]  # fmt: skip
        return {"key": key, "category": "medical", "outcome": outcome, "population": groups,
                "items": items}  # fmt: skip

    return build_round(
        [
            stratum("A", "refusal", "app", lambda i: prompt(i).upper()),
            stratum("B", "compliance", "web", prompt),
        ],
        **round_options,
    )
