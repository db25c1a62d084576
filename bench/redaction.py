"""Compare our PII patterns with maintained offline libraries on accuracy and speed.

Run: .venv/bin/python bench/redaction.py
Libraries are optional: each one that is not installed is reported as skipped.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditcore.ingest.redaction import redact

# (type, text, the sensitive value that must disappear)
LABELLED: list[tuple[str, str, str]] = [
    ("EMAIL", "write to jane.doe+test@example.co.uk today", "jane.doe+test@example.co.uk"),
    ("EMAIL", "cc bob@corp.io please", "bob@corp.io"),
    ("PHONE", "call +1 415 555 2671 now", "415 555 2671"),
    ("PHONE", "call (415) 555-2671 now", "555-2671"),
    ("PHONE", "call 415.555.2671 now", "415.555.2671"),
    ("PHONE", "ring 020 7946 0958 now", "7946 0958"),
    ("PHONE", "appelez +33 1 23 45 67 89", "23 45 67 89"),
    ("CARD", "card 4111 1111 1111 1111 expires", "4111 1111 1111 1111"),
    ("CARD", "card 4111-1111-1111-1111 expires", "4111-1111-1111-1111"),
    ("CARD", "card 5500005555555559 expires", "5500005555555559"),
    ("CARD", "amex 378282246310005 expires", "378282246310005"),
    ("IBAN", "pay DE89 3704 0044 0532 0130 00 please", "3704 0044 0532 0130 00"),
    ("IBAN", "pay GB82WEST12345698765432 please", "GB82WEST12345698765432"),
    ("IBAN", "pay FR1420041010050500013M02606 please", "FR1420041010050500013M02606"),
    ("NATIONAL_ID", "ssn 123-45-6789 on file", "123-45-6789"),
    ("NATIONAL_ID", "ssn 219 09 9999 on file", "219 09 9999"),
    ("NATIONAL_ID", "NINO AB 12 34 56 C on file", "AB 12 34 56 C"),
    ("NATIONAL_ID", "NINO AB123456C on file", "AB123456C"),
    ("IP", "from 192.168.1.20 yesterday", "192.168.1.20"),
    ("IP", "from 8.8.8.8 yesterday", "8.8.8.8"),
    ("IP", "from 2001:db8::8a2e:370:7334 yesterday", "2001:db8::8a2e:370:7334"),
    ("API_KEY", "key sk-proj-abcdefghijklmnopqrstuvwx12 leaked", "abcdefghijklmnopqrstuvwx12"),
    (
        "API_KEY",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked",
        "abcdefghijklmnopqrstuvwxyz0123",
    ),
    ("API_KEY", "aws AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
    ("API_KEY", "slack xoxb-1234567890-abcdefghijklmnop leaked", "abcdefghijklmnop"),
    ("API_KEY", "config api_key=9fA3kQ7zL1mN8pR2sT5v leaked", "9fA3kQ7zL1mN8pR2sT5v"),
    ("BEARER", "Authorization: Bearer abc123def456ghi789jkl0 sent", "abc123def456ghi789jkl0"),
    (
        "BEARER",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
]

# Text that looks like PII but is not, and that reviewers need to read as it was written.
LOOK_ALIKES: list[str] = [
    "order 1234 5678 9012 3456 shipped",
    "order 4111111111111112 shipped",
    "ISBN 978-3-16-148410-0 and 0-306-40615-2",
    "released on 2024-11-20 at 12:30:45",
    "on 11/03/2024 and 20.11.2026",
    "version 1.2.3.4 and v2.0.0.1",
    "octets 999.1.1.1 are not an address",
    "pi is 3.14159 and e is 2.71828",
    "1,000,000 tokens in 2024, room 42, zip 94103",
    "ssn-shaped 000-12-3456 666-12-3456 900-12-3456 123-00-4567",
    "iban-shaped DE89 3704 0044 0532 0130 01 fails mod-97",
    "std::vector and Foo::bar in C++",
    "mac 00:1A:2B:3C:4D:5E is a device",
    "api_key=YOUR_API_KEY_HERE_PLEASE",
    "Bearer of bad news and bearer bonds",
    "Section 230 of the Act, page 1024, 15% off",
]

CLEAN = (
    "I can't give personalised financial advice, but here is how disputes usually work. First, "
    "contact your bank within 60 days of the statement date. Explain the charge, the amount, and "
    "why you believe it is wrong. Most card networks give the merchant 30 days to respond. Keep "
    "copies of receipts, emails and any tracking numbers. If the bank rejects the dispute you can "
    "escalate to the regulator. In 2024 the average resolution took 45 days. Version 3 of the "
    "policy says: refunds are issued to the original payment method. Note: some merchants charge "
    "a fee. Example: a $120 charge on 11/03. "
) * 2
CLEAN = CLEAN[:900]
DIRTY = CLEAN[:700] + " Reach me at jane@example.com or +1 415 555 2671, card 4111 1111 1111 1111."


def ours(text: str) -> str:
    return redact(text)[0]


def load_scrubadub() -> Callable[[str], str] | None:
    try:
        import scrubadub  # type: ignore[import-not-found]
    except ImportError:
        return None
    scrubber = scrubadub.Scrubber()
    return scrubber.clean


def load_datafog() -> Callable[[str], str] | None:
    try:
        import datafog_core  # type: ignore[import-not-found]
    except ImportError:
        return None

    def clean(text: str) -> str:
        findings = datafog_core.scan(text)
        for finding in sorted(findings, key=lambda f: f.codepoint_range.start, reverse=True):
            start, end = finding.codepoint_range.start, finding.codepoint_range.end
            text = text[:start] + f"[{finding.entity_type}]" + text[end:]
        return text

    return clean


def accuracy(clean: Callable[[str], str]) -> tuple[int, int, list[str]]:
    found = sum(value not in clean(text) for _, text, value in LABELLED)
    touched = [text for text in LOOK_ALIKES if clean(text) != text]
    return found, len(touched), touched


def speed(clean: Callable[[str], str], text: str, seconds: float = 1.5) -> float:
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            clean(text)
        count += 100
    return count / elapsed


def main() -> None:
    candidates = {
        "patterns (auditcore)": ours,
        "scrubadub": load_scrubadub(),
        "datafog-core": load_datafog(),
    }
    print(f"labelled PII items: {len(LABELLED)}, look-alikes: {len(LOOK_ALIKES)}")
    print(f"{'candidate':22} {'found':>7} {'false+':>7} {'clean/s':>10} {'with PII/s':>11}")
    for name, clean in candidates.items():
        if clean is None:
            print(f"{name:22} skipped (not installed)")
            continue
        found, false_hits, touched = accuracy(clean)
        print(
            f"{name:22} {found:>3}/{len(LABELLED):<3} {false_hits:>7} "
            f"{speed(clean, CLEAN):>10,.0f} {speed(clean, DIRTY):>11,.0f}"
        )
        missed = [kind for kind, text, value in LABELLED if value in clean(text)]
        if missed:
            print(f"{'':22} missed: {', '.join(missed)}")
        for text in touched:
            print(f"{'':22} changed look-alike: {clean(text)!r}")


if __name__ == "__main__":
    main()
