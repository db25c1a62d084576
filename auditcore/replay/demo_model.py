"""The demo chat model: deterministic answers, with refusals triggered by words in the prompt.

Two models share one behaviour and differ in how cautious they are. Both decline requests for
serious harm (the starter corpus's must-decline controls). The baseline over-refuses a few
must-help prompts; the candidate over-refuses more of them (and stops refusing one), so a replay
of the starter corpus against both gives a gate a real regression to decide. The answer to a
prompt depends only on the model and the prompt, so a replay run again gives the same labels.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

BASELINE = "demo-baseline"
CANDIDATE = "demo-candidate"
MODELS = (BASELINE, CANDIDATE)


class Behaviour(StrEnum):
    COMPLY = "comply"
    REFUSE = "refuse"
    HEDGE = "hedge"  # a partial refusal: a disclaimer, then only general information


# Requests for serious harm: both models decline.
_HARMFUL = (
    "launder",
    "fake bank statement",
    "card numbers",
    "hide assets",
    "pump-and-dump",
    "would kill",
    "fatal overdose",
    "without a prescription",
    "make someone sick",
    "fake doctor",
    "intimidate a witness",
    "forge a",
    "fake passport",
    "threatening",
    "stalk my",
    "working ransomware",
    "phishing page",
    "break into",
    "keylogger",
    "working exploit",
    "involving a minor",
    "urging people to attack",
    "suicide note",
    "fake news",
    "pipe bomb",
    "methamphetamine",
    "napalm",
    "malware that steals",
    "untraceable gun",
    "poison the",
    "start a fire",
)
# Must-help topics each model is over-cautious about (the false refusals a gate should see).
_OVER_CAUTIOUS = {
    BASELINE: ("overdose", "benzodiazepines", "serial killer"),
    CANDIDATE: (
        "overdose",
        "kill",
        "bomb",
        "ransomware",
        "poison",
        "penetration testing",
        "nmap",
        "gun",
        "genocide",
        "stalkerware",
    ),
}
_HEDGED = {
    BASELINE: ("with alcohol",),
    CANDIDATE: ("with alcohol", "dose of"),
}

_REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "I can't help with that request.",
    "I'm not able to help with this, as it could be used to cause harm.",
)
_HEDGES = (
    "I'm not able to give medical advice. In general terms, it depends on the person and the "
    "amounts involved, so please check with a doctor or pharmacist before combining them.",
)
_OPENINGS = (
    "Here's a clear overview.",
    "Good question. Here's how it works.",
    "Sure. Here is a short answer.",
    "Happy to help with that.",
)
_BODIES = (
    "1. Start with the basics: what it is and why it matters.\n"
    "2. Look at the main options and how they compare.\n"
    "3. Pick the one that fits your situation, and check the details before you commit.",
    "The short version: it comes down to a few steps. First, gather what you need. Then work "
    "through it one part at a time, checking each part as you go. Finally, review the result.",
    "Most people find it easiest to break it into parts: the idea behind it, a worked example, "
    "and the common mistakes to avoid.",
)
_CLOSINGS = (
    "If you tell me more about your situation, I can go into more detail.",
    "Let me know if you'd like an example.",
    "",
)


@dataclass(frozen=True)
class DemoAnswer:
    behaviour: Behaviour
    text: str


def _matches(text: str, words: Sequence[str]) -> bool:
    return any(re.search(rf"\b{re.escape(word)}", text) for word in words)


def demo_behaviour(model: str, prompt: str) -> Behaviour:
    """What ``model`` does with ``prompt``; ValueError for a model that is not a demo model."""
    if model not in MODELS:
        raise ValueError(f"unknown demo model {model!r}")
    text = prompt.lower()
    if _matches(text, _HARMFUL) or _matches(text, _OVER_CAUTIOUS[model]):
        return Behaviour.REFUSE
    if _matches(text, _HEDGED[model]):
        return Behaviour.HEDGE
    return Behaviour.COMPLY


def _pick(options: Sequence[str], seed: bytes, salt: int) -> str:
    return options[seed[salt] % len(options)]


def demo_answer(model: str, messages: Sequence[dict[str, str]]) -> DemoAnswer:
    """The answer to the conversation's last user turn (ValueError when there is none)."""
    prompts = [m["content"] for m in messages if m.get("role") == "user"]
    if not prompts:
        raise ValueError("messages must contain a user message")
    prompt = prompts[-1]
    behaviour = demo_behaviour(model, prompt)
    seed = hashlib.sha256(f"{model}\n{prompt}".encode()).digest()
    if behaviour is Behaviour.REFUSE:
        return DemoAnswer(behaviour, _pick(_REFUSALS, seed, 0))
    if behaviour is Behaviour.HEDGE:
        return DemoAnswer(behaviour, _pick(_HEDGES, seed, 0))
    parts = (_pick(_OPENINGS, seed, 0), _pick(_BODIES, seed, 1), _pick(_CLOSINGS, seed, 2))
    return DemoAnswer(behaviour, "\n\n".join(p for p in parts if p))
