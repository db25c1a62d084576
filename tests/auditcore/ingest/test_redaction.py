"""Tests for PII redaction and user-id hashing."""

from datetime import UTC, datetime

import pytest

from auditcore.ingest.redaction import hash_user, redact, redact_record
from auditcore.ingest.validation import validate_record

PII = [
    ("EMAIL", "write to jane.doe+test@example.co.uk today"),
    ("PHONE", "call +1 415 555 2671 now"),
    ("PHONE", "call (415) 555-2671 now"),
    ("PHONE", "call 415.555.2671 now"),
    ("PHONE", "ring 020 7946 0958 now"),
    ("PHONE", "appelez +33 1 23 45 67 89 maintenant"),
    ("CARD", "card 4111 1111 1111 1111 expires"),
    ("CARD", "card 4111-1111-1111-1111 expires"),
    ("CARD", "amex 378282246310005 expires"),
    ("IBAN", "pay DE89 3704 0044 0532 0130 00 please"),
    ("IBAN", "pay GB82WEST12345698765432 please"),
    ("NATIONAL_ID", "ssn 123-45-6789 on file"),
    ("NATIONAL_ID", "NINO AB 12 34 56 C on file"),
    ("NATIONAL_ID", "NINO AB123456C on file"),
    ("IP", "from 192.168.1.20 yesterday"),
    ("IP", "from 2001:db8::8a2e:370:7334 yesterday"),
    ("API_KEY", "key sk-proj-abcdefghijklmnopqrstuvwx12 leaked"),
    ("API_KEY", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked"),
    ("API_KEY", "aws AKIAIOSFODNN7EXAMPLE leaked"),
    ("API_KEY", "slack xoxb-1234567890-abcdefghijklmnop leaked"),
    ("API_KEY", "config api_key=9fA3kQ7zL1mN8pR2sT5v leaked"),
    ("BEARER", "Authorization: Bearer abc123def456ghi789jkl0 sent"),
    (
        "BEARER",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x",
    ),
]

LOOK_ALIKES = [
    "order 1234 5678 9012 3456 shipped",  # 16 digits failing Luhn
    "order 4111111111111112 shipped",
    "ISBN 978-3-16-148410-0 and 0-306-40615-2",
    "released on 2024-11-20 at 12:30:45",
    "on 11/03/2024 and 20.11.2026",
    "version 1.2.3.4 and v2.0.0.1",
    "octets 999.1.1.1 are not an address",
    "pi is 3.14159 and e is 2.71828",
    "1,000,000 tokens in 2024, room 42, zip 94103",
    "ssn-shaped 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000",
    "iban-shaped DE89 3704 0044 0532 0130 01 fails mod-97",
    "std::vector and Foo::bar in C++",
    "mac 00:1A:2B:3C:4D:5E is a device",
    "api_key=YOUR_API_KEY_HERE_PLEASE",
    "Bearer of bad news and bearer bonds",
    "the word internationalization is long",
    "NINO-shaped QQ123456C is reserved for examples",
]


@pytest.mark.parametrize(("kind", "text"), PII)
def test_each_pii_type_is_replaced_with_its_placeholder(kind, text):
    redacted, counts = redact(text)
    assert counts == {kind: 1}
    assert f"[{kind}]" in redacted
    # The words around the match survive.
    assert redacted.split()[0] == text.split()[0]
    assert redacted.split()[-1] == text.split()[-1]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_left_alone(text):
    assert redact(text) == (text, {})


def test_counts_add_up_per_type():
    text = "a@b.io, c@d.org and 4111 1111 1111 1111 or 192.168.0.1 and 10.0.0.1"
    redacted, counts = redact(text)
    assert counts == {"EMAIL": 2, "CARD": 1, "IP": 2}
    assert redacted == "[EMAIL], [EMAIL] and [CARD] or [IP] and [IP]"


def test_an_iban_followed_by_capitalised_words_keeps_the_words():
    assert redact("DE89 3704 0044 0532 0130 00 IS MINE") == ("[IBAN] IS MINE", {"IBAN": 1})


def test_the_label_of_a_generic_key_stays_readable():
    assert (
        redact("export OPENAI_API_KEY=9fA3kQ7zL1mN8pR2sT5v")[0] == "export OPENAI_API_KEY=[API_KEY]"
    )


def test_clean_text_comes_back_unchanged():
    text = "I can't give financial advice, but your bank can help within 60 days. " * 12
    assert redact(text) == (text, {})


def test_redact_record_covers_every_free_text_field_and_counts_in_metadata():
    record = validate_record(
        {
            "id": "r",
            "timestamp": "2026-11-20T12:00:00Z",
            "surface": "s",
            "model": "m",
            "messages": [
                {"role": "user", "content": "I am bob@example.com"},
                {"role": "assistant", "content": "Hi"},
                {"role": "user", "content": "call 415-555-2671"},
            ],
            "response": "Your card 4111 1111 1111 1111 is noted",
            "served_response": "Blocked for 10.0.0.1",
            "gateway_action": "replaced",
            "metadata": {"contact": "alice@example.com"},
        },
        line=1,
    )
    redacted = redact_record(record)
    assert redacted.earlier_turns[0]["content"] == "I am [EMAIL]"
    assert redacted.prompt == "call [PHONE]"
    assert redacted.response == "Your card [CARD] is noted"
    assert redacted.served_response == "Blocked for [IP]"
    assert redacted.metadata["contact"] == "[EMAIL]"
    assert redacted.metadata["pii_redacted"] == {"EMAIL": 2, "PHONE": 1, "CARD": 1, "IP": 1}
    assert redacted.occurred_at == datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_hash_user_is_stable_keyed_and_not_the_raw_id():
    first = hash_user("u_123", b"key-one")
    assert first == hash_user("u_123", b"key-one")
    assert first != hash_user("u_123", b"key-two")
    assert first != hash_user("u_124", b"key-one")
    assert len(first) == 32
    assert "u_123" not in first
