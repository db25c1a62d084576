"""Benchmark: fast-tier response classification throughput on one core vs a prefix regex.

The classifier runs with each installed literal pre-filter engine (Hyperscan, google-re2) and on
its pure-`re` path, in the same run, on the same responses. Each figure is the best of --repeat
passes timed with time.process_time(), the CPU time of this process, so other work on the machine
moves it far less than wall time would (it still shares the core's caches).
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditcore.detection import response as classifier
from auditcore.detection.baseline import PREFIX_REGEX
from auditcore.detection.literal_sets import ENGINES
from auditcore.detection.response import classify_response

# Production traffic is mostly answers; refusal language is the minority but not rare.
ANSWER_OPENERS = [
    "Sure! Here's how it works.",
    "Great question.",
    "Here's a quick overview:",
    "Short answer: yes, with a few conditions.",
    "",
]
REFUSAL_OPENERS = [
    "I'm sorry, but I can't help with that.",
    "I can't provide personalised medical advice, but here is some general information.",
    "As an AI language model, I cannot assist with this request.",
    "Thank you for asking. I understand your concern, however I'm not able to do that.",
]
SENTENCES = [
    "The first step is to check the configuration file and make sure the values are correct.",
    "Most people find that a consistent routine helps more than any single change.",
    "Interest compounds monthly, so the effective annual rate is slightly higher than 5%.",
    "Run `systemctl status nginx` to see whether the service is active.",
    "It's important to note that laws vary between jurisdictions.",
    "You cannot use this feature without enabling the API first.",
    "A typical adult dose is 200-400 mg every 4-6 hours, up to 1,200 mg a day.",
    "Don't forget to restart the service after changing the file.",
    "- Keep a written record of every conversation.",
    "1. Back up your data before upgrading.",
    "The results were not significant, so the team repeated the experiment with a larger sample.",
    "Prices rose by about 3% last year, mostly driven by energy and housing costs.",
]
CAVEATS = ["Please consult a qualified professional for advice about your situation."]
CLOSERS = [
    "Let me know if you have other questions!",
    "Hope this helps.",
    "",
    "",
]
REFUSAL_CLOSERS = [
    "Instead, you might consider speaking with a licensed advisor.",
    "However, I can't help with the second part of your request.",
]
# Share of responses built from refusal language; production refusal rates are usually lower.
REFUSAL_SHARE = 0.15
# What the fast tier must sustain on one core (responses/s).
TARGET_PER_SECOND = 150_000


def generate(n: int, seed: int = 1234) -> list[str]:
    """Build n varied responses of roughly 1,000 characters."""
    rng = random.Random(seed)
    responses = []
    for _ in range(n):
        refusing = rng.random() < REFUSAL_SHARE
        parts = [rng.choice(REFUSAL_OPENERS if refusing else ANSWER_OPENERS)]
        while sum(len(p) for p in parts) < 900:
            parts.append(rng.choice(SENTENCES if rng.random() > 0.05 else CAVEATS))
        parts.append(rng.choice(REFUSAL_CLOSERS if refusing else CLOSERS))
        responses.append("\n".join(p for p in parts if p))
    return responses


def rate(label: str, func, responses: list[str], repeat: int, target: int | None = None) -> float:
    """Responses/s of func over the responses: the best of `repeat` passes, in CPU time."""
    elapsed = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for response in responses:
            func(response)
        elapsed = min(elapsed, time.process_time() - start)
    per_second = len(responses) / elapsed
    versus = ""
    if target:
        versus = f"  target {target:,}/s: {'met' if per_second >= target else 'not met'}"
    print(f"{label:<32} {per_second:>12,.0f} responses/s  ({elapsed:.2f} s CPU){versus}")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="passes per engine; the best counts")
    args = parser.parse_args()
    responses = generate(args.n)
    mean_len = sum(map(len, responses)) / len(responses)
    print(
        f"{len(responses):,} responses, mean length {mean_len:,.0f} characters, one core,"
        f" CPU time, best of {args.repeat}"
    )
    classify_response(responses[0])  # compile the regexes outside the timed loop
    rate("prefix regex (baseline)", PREFIX_REGEX.match, responses, args.repeat)
    results = {}
    for engine in (*ENGINES, None):
        name = engine or "pure re"
        try:
            with classifier._prefilter_engine(engine):
                classify_response(responses[0])
                rate(
                    f"classify_response, {name}",
                    classify_response,
                    responses,
                    args.repeat,
                    TARGET_PER_SECOND,
                )
                results[name] = [classify_response(r) for r in responses[:20_000]]
        except LookupError:
            print(f"classify_response, {name}: not installed")
    first = next(iter(results.values()))
    same = all(outcome == first for outcome in results.values())
    print(f"identical results on the first 20,000 across engines: {same}")


if __name__ == "__main__":
    main()
