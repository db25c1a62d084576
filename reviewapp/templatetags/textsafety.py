"""Show invisible and direction-changing characters in hostile text instead of obeying them.

A right-to-left override (U+202E) makes "evil" render as "live"; zero-width characters hide
inside words. ``{{ text|reveal_controls }}`` escapes the text and replaces each such character
with a visible marker like ⟨U+202E⟩, so a reader sees exactly what was sent. Apply it last
(after ``truncatechars``) so a marker is never cut in half.
"""

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeData, SafeString

register = template.Library()

BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]  # LRE RLE PDF LRO RLO
    + [chr(c) for c in range(0x2066, 0x206A)]  # LRI RLI FSI PDI
    + ["\u200e", "\u200f", "\u061c"]  # LRM RLM ALM
)
ZERO_WIDTH = frozenset(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"])
REVEALED = BIDI_CONTROLS | ZERO_WIDTH


def _marker(char: str) -> SafeString:
    return format_html('<span class="ctl-marker">⟨U+{}⟩</span>', f"{ord(char):04X}")


@register.filter
def reveal_controls(value: object) -> SafeString:
    """The escaped text, with bidi controls and zero-width characters shown as markers."""
    text = "" if value is None else str(value)
    if not REVEALED.intersection(text):
        return conditional_escape(text)
    # Slices of a SafeString are plain str: escape them only when the whole was not safe.
    escape = str if isinstance(value, SafeData) else conditional_escape
    parts: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if char in REVEALED:
            parts.append(escape(text[start:i]))
            parts.append(_marker(char))
            start = i + 1
    parts.append(escape(text[start:]))
    # Every part is escaped text or a marker built by format_html.
    return SafeString("".join(parts))
