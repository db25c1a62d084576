"""Tests for PII redaction and user-id hashing."""

import hashlib
import hmac
import ipaddress
import random
import string
from datetime import UTC, datetime

import pytest

from auditcore.ingest import redaction
from auditcore.ingest.redaction import hash_user, redact, redact_record
from auditcore.ingest.validation import validate_record

from ..detection._inputs import bench_responses, corpus_items, demo_records, spliced_texts

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


@pytest.mark.parametrize("key", [b"key-one", b"", b"k" * 64, b"long-key-" * 20])
@pytest.mark.parametrize("user_id", ["u_123", "", "usér-ü-42", "x" * 500])
def test_hash_user_is_hmac_sha256_so_stored_user_refs_stay_valid(key, user_id):
    expected = hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    assert hash_user(user_id, key) == expected


def test_hash_user_is_stable_keyed_and_not_the_raw_id():
    first = hash_user("u_123", b"key-one")
    assert first == hash_user("u_123", b"key-one")
    assert first != hash_user("u_123", b"key-two")
    assert first != hash_user("u_124", b"key-one")
    assert len(first) == 32
    assert "u_123" not in first
    # HMAC-SHA256, so ids hashed by earlier releases still join.
    assert first == hmac.new(b"key-one", b"u_123", "sha256").hexdigest()[:32]


# --- the pre-screens never hide a match ----------------------------------------------------------
# redact() skips a pattern family, or scans only windows of the text, when cheap byte tests say the
# family cannot match. These tests run every full pattern over the whole text with the screens
# bypassed and require the same result, on generated samples of each family.


def _unscreened(text):
    r = redaction._Redactor(text)
    r.sub(redaction._VENDOR_KEY, r.vendor_key)
    r.sub(redaction._BEARER, r.bearer)
    r.sub(redaction._JWT, r.jwt)
    r.sub(redaction._GENERIC_KEY, r.generic_key)
    r.sub(redaction._EMAIL, r.email)
    r.sub(redaction._IPV6, r.ipv6)
    r.sub(redaction._LETTERED, r.lettered)
    r.sub(redaction._NUMERIC, r.numeric)
    return r.text, r.counts


def _digits(rng, n):
    return "".join(rng.choice(string.digits) for _ in range(n))


def _chars(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def _grouped(rng, digits, seps, largest):
    """The digits split into random groups of at most ``largest``, joined by random separators."""
    groups, rest = [], digits
    while rest:
        size = rng.randint(1, largest)
        groups.append(rest[:size])
        rest = rest[size:]
    out = groups[0]
    for group in groups[1:]:
        out += rng.choice(seps) + group
    return out


def _luhn_complete(rng, length):
    body = [rng.randrange(10) for _ in range(length - 1)]
    total = 0
    for index, d in enumerate(reversed(body)):
        if index % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return "".join(map(str, body)) + str(-total % 10)


def _iban(rng):
    country, length = rng.choice([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("XK", 20)])
    bban = _chars(rng, string.digits + string.ascii_uppercase, length - 4)
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _ipv4(rng):
    return ".".join(str(rng.choice([rng.randrange(10), rng.randrange(256)])) for _ in range(4))


def _ipv6(rng):
    address = ipaddress.IPv6Address(rng.getrandbits(128) >> rng.choice([0, 0, 32, 64, 96]))
    return rng.choice([address.compressed, address.exploded, address.compressed.upper()])


TOKEN = string.ascii_letters + string.digits
FAMILIES = {
    "ipv4": _ipv4,
    "ipv4_look_alike": lambda rng: ".".join(
        str(rng.randrange(1000)) for _ in range(rng.choice([2, 3, 4, 5]))
    ),
    "ipv6": _ipv6,
    "card": lambda rng: _grouped(rng, _luhn_complete(rng, rng.randint(13, 19)), " -", 7),
    "phone": lambda rng: rng.choice(
        [
            "+" + _grouped(rng, _digits(rng, rng.randint(8, 13)), " .-", 4),
            f"({rng.randint(200, 999)}){rng.choice(['', ' ', chr(10)])}"
            f"{rng.randint(200, 999)}-{_digits(rng, 4)}",
            f"{rng.randint(200, 999)}.{rng.randint(200, 999)}.{_digits(rng, 4)}",
            "0"
            + _digits(rng, rng.randint(2, 4))
            + rng.choice(["", " ", "-"])
            + _digits(rng, rng.randint(3, 4))
            + rng.choice(["", " ", "-"])
            + _digits(rng, rng.randint(3, 4)),
        ]
    ),
    "ssn": lambda rng: (
        f"{rng.randint(1, 899):03d}{(s := rng.choice('- '))}"
        f"{rng.randint(0, 99):02d}{s}{rng.randint(0, 9999):04d}"
    ),
    "nino": lambda rng: (
        rng.choice(["AB", "CE", "JK", "ZY"])
        + "".join(rng.choice(["", " "]) + _digits(rng, 2) for _ in range(3))
        + rng.choice(["", " "])
        + rng.choice("ABCD")
    ),
    "iban": _iban,
    "email": lambda rng: (
        f"{_chars(rng, TOKEN + '._+', rng.randint(1, 12))}@"
        f"{_chars(rng, TOKEN, rng.randint(1, 10))}.{rng.choice(['com', 'co.uk', 'io'])}"
    ),
    "bearer": lambda rng: (
        rng.choice(["Bearer ", "bearer  "])
        + _chars(rng, TOKEN + "-._~+/", rng.randint(8, 40))
        + rng.choice(["", "=", "=="])
    ),
    "vendor_key": lambda rng: rng.choice(
        [
            "sk-" + _chars(rng, TOKEN + "-", rng.randint(20, 40)),
            "sk-proj-" + _grouped(rng, _chars(rng, TOKEN, 24), "-", 5),
            "xoxb-" + _grouped(rng, _chars(rng, TOKEN, rng.randint(10, 30)), "-", 6),
            "AIza" + _chars(rng, TOKEN + "-_", 35),
            "ghp_" + _chars(rng, TOKEN, 36),
            "sk_live_" + _chars(rng, TOKEN, 20),
            "AKIA" + _chars(rng, string.ascii_uppercase + string.digits, 16),
        ]
    ),
    "generic_key": lambda rng: (
        rng.choice(
            ["api_key", "API-KEY", "secret", "Access_Token", "password", "credentials", "apikey"]
        )
        + rng.choice(["=", ": ", '"="', "\t= ", " :\u00a0"])
        + _grouped(rng, _chars(rng, TOKEN, rng.randint(16, 40)), "-./+_", 6)
    ),
    "jwt": lambda rng: (
        f"eyJ{_chars(rng, TOKEN + '-_', rng.randint(5, 20))}."
        f"eyJ{_chars(rng, TOKEN + '-_', rng.randint(5, 20))}."
        f"{_chars(rng, TOKEN + '-_', rng.randint(5, 30))}"
    ),
    "date_or_version": lambda rng: rng.choice(
        [
            f"20{_digits(rng, 2)}-{_digits(rng, 2)}-{_digits(rng, 2)} {_digits(rng, 2)}:00",
            f"{_digits(rng, 2)}.{_digits(rng, 2)}.20{_digits(rng, 2)}",
            f"version {_ipv4(rng)}",
            "v" + ".".join(_digits(rng, rng.randint(1, 2)) for _ in range(3)),
        ]
    ),
}
FILLER = ["the", "Refund", "policy", "of", "42", "x", "(", ")", ",", ".", ":", "=", "\n", "é", "—"]
# ASCII text is screened by the Hyperscan family scan as well; other text only by the byte gates.
ASCII_FILLER = [word for word in FILLER if word.isascii()] + ["\x1c", "\t", "::"]


def _sample(rng, family, filler=FILLER):
    before = " ".join(rng.choice(filler) for _ in range(rng.randint(0, 6)))
    after = " ".join(rng.choice(filler) for _ in range(rng.randint(0, 6)))
    return f"{before}{rng.choice([' ', '', chr(10), '(', '"'])}{FAMILIES[family](rng)}" + (
        f"{rng.choice([' ', '', '.', ',', ')', chr(10)])}{after}"
    )


@pytest.mark.parametrize("filler", [FILLER, ASCII_FILLER], ids=["any", "ascii"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_pre_screens_let_through_every_match_of_the_full_patterns(family, filler):
    rng = random.Random(f"redaction-{family}")
    redacted_somewhere = 0
    for _ in range(300):
        text = _sample(rng, family, filler)
        expected = _unscreened(text)
        assert redact(text) == expected, text
        if expected[1]:
            redacted_somewhere += 1
            # The record-level screen (one pass over all of a record's text) opens too.
            assert redaction._needs_redaction(text), text
            assert redaction._needs_redaction(f"clean prompt\n{text}\nclean response"), text
    if not family.endswith(("look_alike", "version")):
        assert redacted_somewhere > 150  # the generator really produces the family's PII


@pytest.mark.parametrize(
    "address", ["192.168.10.20", "10.254.33.16", "172.16.100.200", "8.8.8.8", "100.64.255.1"]
)
def test_every_ipv4_address_is_redacted_whatever_its_octet_lengths(address):
    assert redact(f"from {address} yesterday") == ("from [IP] yesterday", {"IP": 1})


@pytest.mark.parametrize(
    "address", ["2001:db8:0:0:1:0:0:1", "fe80::1ff:fe23:4567:890a", "::1", "2001:DB8::A"]
)
def test_ipv6_addresses_are_redacted_compressed_or_not(address):
    assert redact(f"from {address} yesterday") == ("from [IP] yesterday", {"IP": 1})


@pytest.mark.parametrize(
    "token", ["ab12-cd34-ef56-gh78", "a1.b2.c3.d4", "x9~y8/z7+w6==", "abc123de"]
)
def test_a_bearer_token_with_separators_and_no_long_run_is_redacted(token):
    assert redact(f"Authorization: Bearer {token} sent") == (
        "Authorization: [BEARER] sent",
        {"BEARER": 1},
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-ab12-cd34-ef56-gh78-ij90 leaked", "key [API_KEY] leaked"),
        ("slack xoxb-1234-5678-abcd leaked", "slack [API_KEY] leaked"),
        ("config api_key=ab12-cd34-ef56-gh78 leaked", "config api_key=[API_KEY] leaked"),
        ("pw PASSWORD: x9.y8.z7.w6.v5.u4 leaked", "pw PASSWORD: [API_KEY] leaked"),
        ("jwt eyJhbGci.eyJzdWIi.abc12 sent", "jwt [BEARER] sent"),
    ],
)
def test_keys_and_tokens_without_a_long_run_of_letters_are_redacted(text, expected):
    assert redact(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("card 41 11 11 11 11 11 11 11 expires", "CARD"),
        ("card 411 111 111 111 111 1 expires", "CARD"),
        ("ring 020123 456 now", "PHONE"),
        ("ring 020 794 095 now", "PHONE"),
        ("call (415)\n555-2671 now", "PHONE"),
    ],
)
def test_numbers_in_short_groups_are_redacted(text, kind):
    redacted, counts = redact(text)
    assert counts == {kind: 1}
    assert redacted.split()[0] == text.split()[0]
    assert redacted.split()[-1] == text.split()[-1]


def test_a_record_whose_only_pii_is_an_ipv4_address_with_long_octets_is_redacted():
    record = validate_record(
        {
            "id": "r",
            "timestamp": "2026-11-20T12:00:00Z",
            "surface": "s",
            "model": "m",
            "prompt": "my server is 192.168.10.20",
            "response": "Use Bearer ab12-cd34-ef56-gh78 there",
        },
        line=1,
    )
    redacted = redact_record(record)
    assert redacted.prompt == "my server is [IP]"
    assert redacted.response == "Use [BEARER] there"
    assert redacted.metadata["pii_redacted"] == {"IP": 1, "BEARER": 1}


# --- the Hyperscan family scan changes nothing ---------------------------------------------------


def test_the_family_scan_changes_no_redaction_of_the_corpora_and_the_demo_data():
    records = [validate_record(raw, line=n) for n, raw in enumerate(demo_records(), 1)]
    texts = [item.prompt for item in corpus_items()] + [item.response for item in corpus_items()]
    texts += [*bench_responses(), *spliced_texts()]
    texts += [sample for family in sorted(FAMILIES) for sample in _samples(family, ASCII_FILLER)]
    with redaction.prefilter_off():
        expected_texts = [redact(text) for text in texts]
        expected_records = [redact_record(record) for record in records]
    assert redaction._family_scan() is not None  # Hyperscan is installed: the scan really runs

    assert [redact(text) for text in texts] == expected_texts
    assert [redact_record(record) for record in records] == expected_records
    assert sum(1 for _, counts in expected_texts if counts) > 1000
    assert sum(1 for r in expected_records if redaction.REDACTIONS_METADATA_KEY in r.metadata) > 50


def _samples(family, filler):
    rng = random.Random(f"scan-{family}")
    return [_sample(rng, family, filler) for _ in range(200)]
