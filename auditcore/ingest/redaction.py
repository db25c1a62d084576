"""Replace personal data and secrets in log text with typed placeholders, and hash user ids.

Placeholders: [EMAIL], [PHONE], [CARD], [IBAN], [NATIONAL_ID], [IP], [API_KEY], [BEARER]. Each match
is checked, not just pattern-matched: cards pass Luhn (13-19 digits; 13-digit 978/979 numbers are
ISBNs), IBANs pass mod-97, SSNs follow the area/group/serial rules, NINOs the allowed prefixes,
IPv4 octets are <= 255 (and "version 1.2.3.4" is left alone), IPv6 is parsed by ``ipaddress``,
a generic "api_key=..." value must look random (letters and digits, Shannon entropy >= 3 bits per
character) and a bearer token must contain a digit. Order numbers that fail Luhn, dates, times,
ISBNs and version strings stay as they are.

Why careful patterns and not a library: ``bench/redaction.py`` measures these patterns against
scrubadub and datafog-core on a labelled set of PII items and look-alikes (figures in
bench/README.md): the patterns find more of our placeholder set, change no look-alike, and cost
far less per text.

Redaction runs on every record of every upload, and reviewers must still read dates and numbers,
so accuracy on our placeholder set and the per-record cost decide it: the patterns win on both.

Speed comes from cheap pre-screens (a bytes.translate "shape" and substring checks, all in C) that
skip pattern families a text cannot contain and, when one can, limit the regex to short windows
around the candidates; clean text costs two translates and a few substring searches.
``redact_record`` screens all of a record's free text at once with the same gates (one encode, two
translates) and returns the record untouched when no pattern family can fire, which is the case for
most records; short metadata strings (app versions, locales), which repeat across records, are
memoised. For ASCII text one compiled Hyperscan scan of every pattern family (in prefilter mode)
comes first: a text it clears is returned at once, and only the families it reports are gated and
run as above.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from auditcore.detection.literal_sets import SearchSet, pattern_prefilter

if TYPE_CHECKING:
    from auditcore.ingest.validation import IngestRecord

USER_HASH_CHARS = 32
MIN_SECRET_ENTROPY = 3.0
REDACTIONS_METADATA_KEY = "pii_redacted"

# --- secrets -----------------------------------------------------------------------------------
# Vendor key formats are specific enough to redact on sight.
_VENDOR_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,}"
    r"|[spr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abprse]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r")(?![A-Za-z0-9_-])"
)
_GENERIC_KEY = re.compile(
    # No leading word boundary, so "openai_api_key=" is caught through its "api_key=" tail.
    r"(?i)(?P<label>(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?key"
    r"|access[_-]?token|auth[_-]?token|token|password|passwd|client[_-]?secret|credentials?)"
    r"[\"']?\s*[:=]\s*[\"']?)(?P<value>[A-Za-z0-9_\-./+=]{16,})"
)
_BEARER = re.compile(r"\b[Bb]earer\s+(?P<token>[A-Za-z0-9\-._~+/]{8,}=*)")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")

# --- e-mail ------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
    r"\.[A-Za-z]{2,24}\b"
)

# --- numbers: cards, national ids, phones, IPv4 ---------------------------------------------------
# One alternation; each branch starts with a digit, "+" or "(" so the regex engine can skip
# through text quickly, and the lookbehind comes after the first character for the same reason.
_NUMERIC = re.compile(
    r"(?P<ssn>[0-9](?<![\w-][0-9])[0-9][0-9](?P<sep>[- ])[0-9][0-9](?P=sep)[0-9]{4}(?![\w-]))"
    r"|(?P<card>[0-9](?<![\w.-][0-9])(?:[ -]?[0-9]){12,18}(?![\w-]|\.[0-9]))"
    r"|(?P<ipv4>[0-9](?<![\w.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![\w]|\.[0-9]))"
    r"|(?P<phone>"
    r"\+(?<![\w+]\+)[0-9]{1,3}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,5}"
    r"|\((?<![\w(]\()[2-9][0-9][0-9]\)[ \t\n\r\f\v]?[2-9][0-9][0-9][-. ][0-9]{4}"
    r"|[2-9](?<![\w.+-][2-9])[0-9][0-9][-. ][2-9][0-9][0-9][-. ][0-9]{4}"
    r"|0(?<![\w.+-]0)[0-9]{2,4}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}"
    r")(?![\w-]|\.[0-9])"
)
# UK NINO (two letters from the allowed sets, six digits, A-D) and IBANs start with capitals.
_LETTERED = re.compile(
    r"\b(?P<nino>(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?[0-9][0-9] ?[0-9][0-9] ?[0-9][0-9] ?[A-D])\b"
    r"|\b(?P<iban>[A-Z]{2}[0-9][0-9](?: ?[A-Z0-9]){11,30})"
)
_IBAN_PREFIX = re.compile(r"\b[A-Z]{2}\d\d ?$")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_VERSION_CONTEXT = re.compile(r"(?i)(?:version|release|build|\bver\.?|\bv)\s*$")

# Length of each country's IBAN; others are checked against every length from 15 to 34.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "GR": 27, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
    "SE": 24,
}  # fmt: skip


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if index % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ssn_ok(match: str) -> bool:
    digits = match.replace("-", "").replace(" ", "")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return not (area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000")


def _after_compact(raw: str, length: int) -> str:
    """The part of ``raw`` after its first ``length`` non-space characters."""
    seen = 0
    for index, char in enumerate(raw):
        seen += char != " "
        if seen == length:
            return raw[index + 1 :]
    return ""


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    return (
        any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
        and _entropy(value) >= MIN_SECRET_ENTROPY
    )


class _Redactor:
    """One redaction pass over one text, counting replacements per placeholder."""

    __slots__ = ("counts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.counts: dict[str, int] = {}

    def _mark(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"[{kind}]"

    def sub(self, pattern: re.Pattern[str], handler: Callable[[re.Match[str]], str]) -> None:
        self.text = pattern.sub(handler, self.text)

    def sub_windows(
        self,
        pattern: re.Pattern[str],
        handler: Callable[[re.Match[str]], str],
        windows: list[tuple[int, int]],
    ) -> None:
        """Like ``sub``, but scanning only the given windows of the text."""
        text = self.text
        pieces: list[str] = []
        done = 0
        for start, end in windows:
            # finditer with pos/endpos: look-behinds still see the text before the window.
            for match in pattern.finditer(text, max(start, done), end):
                pieces.append(text[done : match.start()])
                pieces.append(handler(match))
                done = match.end()
        if pieces:
            pieces.append(text[done:])
            self.text = "".join(pieces)

    def vendor_key(self, match: re.Match[str]) -> str:
        return self._mark("API_KEY")

    def generic_key(self, match: re.Match[str]) -> str:
        if not _looks_random(match["value"]):
            return match[0]
        return match["label"] + self._mark("API_KEY")

    def bearer(self, match: re.Match[str]) -> str:
        if not any(c.isdigit() for c in match["token"]):
            return match[0]  # "Bearer instruments", not a token
        return self._mark("BEARER")

    def jwt(self, match: re.Match[str]) -> str:
        return self._mark("BEARER")

    def email(self, match: re.Match[str]) -> str:
        return self._mark("EMAIL")

    def numeric(self, match: re.Match[str]) -> str:
        text = match[0]
        kind = match.lastgroup if match.lastgroup != "sep" else "ssn"
        if kind == "ssn":
            return self._mark("NATIONAL_ID") if _ssn_ok(text) else text
        if kind == "card":
            digits = text.replace(" ", "").replace("-", "")
            is_isbn = len(digits) == 13 and digits.startswith(("978", "979"))
            # The digits of an IBAN-shaped string that failed mod-97 are not a card either.
            in_iban = _IBAN_PREFIX.search(self.text, max(0, match.start() - 5), match.start())
            if 13 <= len(digits) <= 19 and not is_isbn and not in_iban and _luhn_ok(digits):
                return self._mark("CARD")
            return text
        if kind == "ipv4":
            if any(int(octet) > 255 or (len(octet) > 1 and octet[0] == "0")
                   for octet in text.split(".")):  # fmt: skip
                return text
            if _VERSION_CONTEXT.search(self.text, max(0, match.start() - 12), match.start()):
                return text
            return self._mark("IP")
        digits = sum(c.isdigit() for c in text)
        return self._mark("PHONE") if 8 <= digits <= 15 else text

    def lettered(self, match: re.Match[str]) -> str:
        if match.lastgroup == "nino":
            return self._mark("NATIONAL_ID")
        raw = match[0]
        compact = raw.replace(" ", "")
        known = _IBAN_LENGTHS.get(compact[:2])
        lengths = [known] if known else range(min(len(compact), 34), 14, -1)
        for length in lengths:
            if length > len(compact) or not _iban_ok(compact[:length]):
                continue
            rest = _after_compact(raw, length)
            if rest and not rest.startswith(" "):
                continue  # the IBAN would end inside a group: not a real boundary
            return self._mark("IBAN") + rest
        return raw

    def ipv6(self, match: re.Match[str]) -> str:
        text = match[0]
        if not any(c.isdigit() for c in text) or text.count(":") < 2:
            return text
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return text
        return self._mark("IP")


def _table(classes: dict[bytes, bytes], default: bytes) -> bytes:
    table = bytearray(default * 256)
    for chars, shape in classes.items():
        for char in chars:
            table[char] = shape[0]
    return bytes(table)


_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = b"abcdefghijklmnopqrstuvwxyz"
# Python's regex engine costs 10-100 us to scan 900 characters with these patterns, so a scan of
# the whole text is the exception. The text is encoded one byte per character (Latin-1, anything
# else becomes "?") and translated to a "shape"; C-speed substring tests on the shape decide which
# pattern families can match at all, and where. Only short windows around those places are
# scanned. The gate deletes lower-case letters (no needle contains one, so deleting only adds
# false alarms, never hides a match), which makes its substring tests about four times shorter.
_GATE = _table(
    {_DIGITS: b"0", _UPPER: b"A", b" -.\t": b"-", b"+": b"+", b"@": b"@", b":": b":"}, b"x"
)
_SHAPE = _table({_DIGITS: b"0", _UPPER: b"A", b" -.\t": b"-", b"+": b"+"}, b"x")
# Every match of a _NUMERIC branch contains one of these shapes ("-" is any of " -.\t"):
# - seven digits in a row: a card or phone with a long group;
# - "00-0000": an SSN, a North American phone, a card or phone with a 4+ digit group after a sep;
# - "000000-000": the 9-digit "0" phone with one separator (020123 456);
# - "+0": an international phone;
# - a group of 1-6 digits between two separators ("0-00-0"): every IPv4 address (its second
#   octet), every card whose groups are all shorter than seven digits (13+ digits make 3+ groups)
#   and every "0" phone with both separators.
# Every branch starts with a digit ("+0" is found from its digit, with a look-behind), so the
# regex engine skips from one "0" to the next instead of trying a match at every position.
_NUMBER_NEEDLE = re.compile(rb"0000000|00-0000|000000-000|0(?<=\+0)|0-0{1,6}-0")
_LETTERED_NEEDLES = (b"AA00", b"AA-00")
# Characters that can continue a number, an IBAN/NINO or an e-mail address: a window grows over
# them from the place a needle was found, so it always holds the whole candidate.
_NUMBER_SPAN = _table({_DIGITS + b" ().+-\t\n\r\f\v": b"s"}, b"x")
_LETTERED_SPAN = _table({_DIGITS + _UPPER + b" ": b"s"}, b"x")
_EMAIL_SPAN = _table({_DIGITS + _UPPER + _LOWER + b"._%+-@": b"s"}, b"x")
# Screens for the secret patterns, each a superset of what its pattern can match. Every vendor key,
# JWT and generic key value is a run of 15+ of [A-Za-z0-9_.~+/=-] (the shortest, "xoxb-" and ten
# more), which ordinary prose rarely has; only then are the finer screens below worth running:
# - _VENDOR_KEY: a run of 16+ of [A-Za-z0-9_], which every branch without "-" in its charset
#   has, or "sk-", "xox" or "AIza" for the others;
# - _JWT: "eyJ";
# - _GENERIC_KEY: a ":" or "=" with one of its labels before it (after an optional quote and any
#   whitespace); lower-casing the text is (?i) for ASCII, and the only characters outside Latin-1
#   that (?i) folds onto ASCII letters (İ ı -> i, ſ -> s, K -> k) open the screen whenever present.
# A bearer token can be short ("Bearer abc123de"), so _BEARER is screened on "earer" alone.
# (bytes.find is measurably cheaper than ``in`` for these short needles.)
_SECRET_CHARS = _table({_DIGITS + _UPPER + _LOWER + b"_.~+/=-": b"a"}, b" ")
_SECRET_RUN = b"a" * 15
_TOKEN_CHARS = _table({_DIGITS + _UPPER + _LOWER + b"_": b"a"}, b" ")
_LONG_TOKEN = b"a" * 16
_LABEL_ENDINGS = (
    b"key",
    b"secret",
    b"token",
    b"password",
    b"passwd",
    b"credential",
    b"credentials",
)
# What `\s` can be once encoded (non-Latin-1 spaces become "?").
_LABEL_GAP = b" \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0?"
_ASCII_FOLDS = ("\u0130", "\u0131", "\u017f", "\u212a")


def _labelled_separator(raw: bytes) -> bool:
    """Whether some ":" or "=" in the text follows a _GENERIC_KEY label."""
    for sep in b":=":
        at = raw.find(sep)
        while at != -1:
            head = raw[max(0, at - 64) : at].rstrip(_LABEL_GAP)
            if not head and at > 64:  # a long gap: look further back
                head = raw[:at].rstrip(_LABEL_GAP)
            if head[-1:] in (b'"', b"'"):
                head = head[:-1]
            if head[-11:].lower().endswith(_LABEL_ENDINGS):
                return True
            at = raw.find(sep, at + 1)
    return False


def _secret_gates(text: str, raw: bytes) -> tuple[bool, bool, bool, bool]:
    """Whether a vendor key, a bearer token, a JWT or a generic key can be in the text."""
    bearer = raw.find(b"earer") != -1
    if raw.translate(_SECRET_CHARS).find(_SECRET_RUN) == -1:
        return False, bearer, False, False
    vendor = raw.translate(_TOKEN_CHARS).find(_LONG_TOKEN) != -1 or (
        raw.find(b"sk-") != -1 or raw.find(b"xox") != -1 or raw.find(b"AIza") != -1
    )
    generic = _labelled_separator(raw) or (
        not text.isascii() and any(char in text for char in _ASCII_FOLDS)
    )
    return vendor, bearer, raw.find(b"eyJ") != -1, generic


def _find_all(haystack: bytes, needles: tuple[bytes, ...]) -> list[int]:
    found = []
    for needle in needles:
        at = haystack.find(needle)
        while at != -1:
            found.append(at)
            at = haystack.find(needle, at + 1)
    return found


def _windows(anchors: list[int], span: bytes) -> list[tuple[int, int]]:
    """Grow each anchor over span characters; one extra character each side feeds look-arounds."""
    n = len(span)
    windows: list[tuple[int, int]] = []
    for at in sorted(anchors):
        left = max(span.rfind(b"x", 0, at), 0)
        right = span.find(b"x", at)
        right = n if right == -1 else min(right + 1, n)
        if windows and left <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(right, windows[-1][1]))
        else:
            windows.append((left, right))
    return windows


def _family_gates(gate: bytes) -> tuple[bool, bool, bool, bool]:
    """Whether an e-mail address, an IPv6 address, an IBAN or NINO, or a number can be in a text."""
    # bytes.find, not ``in``: on bytes, ``in`` first tries its needle as an integer, which costs
    # several times more than the search itself.
    colons = gate.count(b":")
    return (
        gate.find(b"@") != -1,
        colons >= 2 and (colons >= 7 or gate.find(b"::") != -1),
        gate.find(b"AA00") != -1 or gate.find(b"AA-00") != -1,
        _NUMBER_NEEDLE.search(gate) is not None,
    )


# One Hyperscan scan of an ASCII text tells which pattern families may match (prefilter mode: it
# may report a family whose pattern then finds nothing, never miss one that would). A family runs
# only when both the scan and its shape gate above say it can; a text the scan clears is returned
# as it is. Hyperscan's \s is [\t\n\v\f\r ], Python's also takes \x1c-\x1f, hence the wider class.
_FAMILIES = (
    ("vendor", _VENDOR_KEY),
    ("generic", _GENERIC_KEY),
    ("bearer", _BEARER),
    ("jwt", _JWT),
    ("email", _EMAIL),
    ("numeric", _NUMERIC),
    ("lettered", _LETTERED),
    ("ipv6", _IPV6),
)
_VENDOR, _GENERIC, _BEARER_ID, _JWT_ID, _EMAIL_ID, _NUMERIC_ID, _LETTERED_ID, _IPV6_ID = range(
    len(_FAMILIES)
)
_ALL_FAMILIES = frozenset(range(len(_FAMILIES)))
_scan: SearchSet | None = None
_scan_built = False


def _family_patterns() -> list[str]:
    """The families' patterns as the Hyperscan scan takes them, in family order."""
    return [pattern.pattern.replace(r"\s", r"[\s\x1c-\x1f]") for _, pattern in _FAMILIES]


def _family_scan() -> SearchSet | None:
    """The Hyperscan database of the families, compiled on first use; None without Hyperscan."""
    global _scan, _scan_built
    if not _scan_built:
        _scan = pattern_prefilter(_family_patterns())
        _scan_built = True
    return _scan


def _possible_families(text: str) -> frozenset[int] | set[int]:
    """The families that may match in the text: from one scan when it is ASCII, else all."""
    scan = _family_scan() if text.isascii() else None
    if scan is None:
        return _ALL_FAMILIES
    return set(scan(text.encode("ascii")))


def prepare() -> None:
    """Compile the family scan now, e.g. in a worker's parent before it forks its pool."""
    _family_scan()


@contextmanager
def prefilter_off() -> Iterator[None]:
    """Redact without the Hyperscan scan, as when it is not installed: for tests and benchmarks,
    which check that both ways give the same text and measure each. Not thread-safe."""
    global _scan, _scan_built
    saved = _family_scan()
    _scan, _scan_built = None, True
    try:
        yield
    finally:
        _scan = saved


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return the text with PII replaced by typed placeholders, and how many of each were found."""
    possible = _possible_families(text)
    if not possible:
        return text, {}
    raw = text.encode("latin-1", "replace")
    vendor, bearer, jwt, generic = _secret_gates(text, raw)
    vendor = vendor and _VENDOR in possible
    bearer = bearer and _BEARER_ID in possible
    jwt = jwt and _JWT_ID in possible
    generic = generic and _GENERIC in possible
    secrets = vendor or bearer or jwt or generic
    # Replacing a secret can only remove needles from the gate, never add one ("[API_KEY]" is
    # followed by "]", so it is never a generic key's label), so the gates of the original text
    # stay valid for the later passes.
    gate = raw.translate(_GATE, _LOWER)
    email, ipv6, lettered, numeric = _family_gates(gate)
    email = email and _EMAIL_ID in possible
    ipv6 = ipv6 and _IPV6_ID in possible
    lettered = lettered and _LETTERED_ID in possible
    numeric = numeric and _NUMERIC_ID in possible
    if not (secrets or email or ipv6 or lettered or numeric):
        return text, {}
    r = _Redactor(text)
    # Secrets first: keys and tokens contain digit runs the number patterns would half-match.
    if secrets:
        if vendor:
            r.sub(_VENDOR_KEY, r.vendor_key)
        if bearer:
            r.sub(_BEARER, r.bearer)
        if jwt:
            r.sub(_JWT, r.jwt)
        if generic:
            r.sub(_GENERIC_KEY, r.generic_key)
        raw = r.text.encode("latin-1", "replace")
    if email:
        anchors = _find_all(raw, (b"@",))
        r.sub_windows(_EMAIL, r.email, _windows(anchors, raw.translate(_EMAIL_SPAN)))
        raw = r.text.encode("latin-1", "replace")
    if ipv6:
        r.sub(_IPV6, r.ipv6)
        raw = r.text.encode("latin-1", "replace")
    if lettered:
        anchors = _find_all(raw.translate(_SHAPE), _LETTERED_NEEDLES)
        r.sub_windows(_LETTERED, r.lettered, _windows(anchors, raw.translate(_LETTERED_SPAN)))
        raw = r.text.encode("latin-1", "replace")
    if numeric:
        anchors = [match.start() for match in _NUMBER_NEEDLE.finditer(raw.translate(_SHAPE))]
        r.sub_windows(_NUMERIC, r.numeric, _windows(anchors, raw.translate(_NUMBER_SPAN)))
    return r.text, r.counts


# The lettered and the number needles in one pattern, each found from its first digit: one regex
# scan of the gate instead of three.
_DIGIT_NEEDLE = re.compile(rb"0(?<=AA0)0|0(?<=AA-0)0|" + _NUMBER_NEEDLE.pattern)


def _needs_redaction(text: str) -> bool:
    """False only when ``redact(text)`` is certain to return the text unchanged.

    These are exactly the gates ``redact`` opens its pattern families with (the IPv6 one,
    ``colons >= 2 and (colons >= 7 or "::" in gate)``, is "::" or 7 colons); each is a substring
    test or a count, so it holds for a join of texts whenever it holds for any one of them, and a
    False for the join is a False for every part. The same holds for the family scan: a match in
    one part is a match in the join, whose parts are joined by a character no pattern starts or
    ends a match with.
    """
    if not _possible_families(text):
        return False
    raw = text.encode("latin-1", "replace")
    if any(_secret_gates(text, raw)):
        return True
    gate = raw.translate(_GATE, _LOWER)
    colons = gate.count(b":")
    return (
        gate.find(b"@") != -1
        or _DIGIT_NEEDLE.search(gate) is not None
        or colons >= 7
        or (colons >= 2 and gate.find(b"::") != -1)
    )


# redact() is a pure function of its text, so short strings that recur across records (metadata
# such as app versions and locales) are looked up instead of screened again. Bounded: cleared when
# full. The cached counts dicts are shared, so only code that does not mutate them reads the memo.
_MEMO_MAX_CHARS = 128
_MEMO_MAX_ENTRIES = 4096
_memo: dict[str, tuple[str, dict[str, int]]] = {}


def _redact_memo(text: str) -> tuple[str, dict[str, int]]:
    if len(text) > _MEMO_MAX_CHARS:
        return redact(text)
    hit = _memo.get(text)
    if hit is None:
        hit = redact(text)
        if len(_memo) >= _MEMO_MAX_ENTRIES:
            _memo.clear()
        _memo[text] = hit
    return hit


def _json_is_clean(value: Any) -> bool:
    """True when ``_redact_json`` would find nothing in ``value`` (a dict, list or scalar)."""
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return not isinstance(value, str) or not _redact_memo(value)[1]
    for item in items:
        if isinstance(item, str):
            hit = _memo.get(item)
            if hit is None:
                hit = _redact_memo(item)
            if hit[1]:
                return False
        elif isinstance(item, dict | list) and not _json_is_clean(item):
            return False
    return True


def _merge(total: dict[str, int], counts: dict[str, int]) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def _redact_json(value: Any, total: dict[str, int]) -> Any:
    if isinstance(value, str):
        text, counts = _redact_memo(value)
        _merge(total, counts)
        return text
    if isinstance(value, dict):
        return {k: _redact_json(v, total) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, total) for v in value]
    return value


def redact_record(record: IngestRecord) -> IngestRecord:
    """Redact every free-text field of a record; counts go to ``metadata["pii_redacted"]``."""
    # Most records are clean: screen all their text in one go ("\n" belongs to no gate needle)
    # and hand back the record itself, exactly as the full pass below would.
    texts = [record.prompt, record.response]
    if record.served_response is not None:
        texts.append(record.served_response)
    for turn in record.earlier_turns:
        texts.append(turn["content"])
    if not _needs_redaction("\n".join(texts)) and (
        not record.metadata or _json_is_clean(record.metadata)
    ):
        return record
    total: dict[str, int] = {}
    prompt, counts = redact(record.prompt)
    _merge(total, counts)
    response, counts = redact(record.response)
    _merge(total, counts)
    served = None
    if record.served_response is not None:
        served, counts = redact(record.served_response)
        _merge(total, counts)
    earlier = []
    for turn in record.earlier_turns:
        content, counts = redact(turn["content"])
        _merge(total, counts)
        earlier.append({"role": turn["role"], "content": content})
    metadata = _redact_json(record.metadata, total) if record.metadata else {}
    if not total:
        return record  # nothing found: skip the copy
    metadata = {**metadata, REDACTIONS_METADATA_KEY: total}
    return dataclasses.replace(
        record,
        prompt=prompt,
        response=response,
        served_response=served,
        earlier_turns=earlier,
        metadata=metadata,
    )


def hash_user(user_id: str, key: bytes) -> str:
    """Keyed hash of a user id (HMAC-SHA256): stable for joins, not reversible without the key."""
    inner, outer = _keyed_hmac(key)
    inner = inner.copy()
    inner.update(user_id.encode("utf-8"))
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.hexdigest()[:USER_HASH_CHARS]


@functools.lru_cache(maxsize=4)
def _keyed_hmac(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256's inner and outer hashes keyed once (RFC 2104): copying the two states costs
    less than copying an `hmac.HMAC`, whose copy and hexdigest add Python-level calls."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer
