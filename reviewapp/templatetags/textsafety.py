"""Show invisible and direction-changing characters in hostile text instead of obeying them.

A right-to-left override (U+202E) makes "evil" render as "live"; zero-width characters hide
inside words; a right-to-left name reorders the words around it. ``{{ text|reveal_controls }}``
escapes the text, replaces each such character with a visible marker like ⟨U+202E⟩ and isolates
the result in ``<bdi>``, so a reader sees exactly what was sent and nothing around it moves.
Apply it last (after ``truncatechars``) so a marker is never cut in half. It is a template
builtin (settings.TEMPLATES), so no template needs to load it.

``mark_controls_in_html`` is the net under the filter (reviewapp.middleware): on a rendered page
it marks any such character left in text between tags, where a template printed untrusted text
without the filter; form controls keep theirs, so editing a value gives it back unchanged.
"""

import re

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
_REVEALED = re.compile("[" + "".join(sorted(REVEALED)) + "]")


def _marker(char: str) -> SafeString:
    return format_html('<span class="ctl-marker">⟨U+{}⟩</span>', f"{ord(char):04X}")


def _marked(text: str, escape) -> str:
    """``text`` with each revealed character as a marker and the rest passed through ``escape``."""
    parts: list[str] = []
    start = 0
    for found in _REVEALED.finditer(text):
        parts.append(escape(text[start : found.start()]))
        parts.append(_marker(found.group()))
        start = found.end()
    parts.append(escape(text[start:]))
    return "".join(parts)


@register.filter
def reveal_controls(value: object) -> SafeString:
    """The escaped text, bidi-isolated, with bidi controls and zero-width characters as markers."""
    text = "" if value is None else str(value)
    if not text:
        return SafeString("")
    # Slices of a SafeString are plain str: escape them only when the whole was not safe.
    escape = str if isinstance(value, SafeData) else conditional_escape
    # Every part is escaped text or a marker built by format_html.
    return SafeString(f"<bdi>{_marked(text, escape)}</bdi>")


# Text that is a form value or not markup keeps its characters; text that cannot hold markup
# (an option, the page title, SVG) gets the marker as plain text.
_RAW_ELEMENTS = frozenset({"textarea", "script", "style"})
_PLAIN_ELEMENTS = frozenset({"option", "title", "svg"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)?[^>]*?(/?)>")


def _plain_marked(text: str) -> str:
    return _REVEALED.sub(lambda found: f"⟨U+{ord(found.group()):04X}⟩", text)


def mark_controls_in_html(html: str) -> str:
    """Rendered HTML with revealed characters in text between tags replaced by markers.

    Tags (and so attribute values) are copied unchanged. The text of the page is already
    escaped by the templates, so it is passed through as it is.
    """
    if not _REVEALED.search(html):
        return html
    parts: list[str] = []
    open_special: list[str] = []  # the raw or plain elements we are inside, innermost last
    start = 0

    def text(chunk: str) -> str:
        if any(name in _RAW_ELEMENTS for name in open_special):
            return chunk
        if open_special:
            return _plain_marked(chunk)
        return _marked(chunk, str)

    for tag in _TAG.finditer(html):
        parts.append(text(html[start : tag.start()]))
        parts.append(tag.group())
        closing, name, self_closing = tag.group(1), (tag.group(2) or "").lower(), tag.group(3)
        if name in _RAW_ELEMENTS or name in _PLAIN_ELEMENTS:
            if closing and name in open_special:
                del open_special[len(open_special) - 1 - open_special[::-1].index(name) :]
            elif not closing and not self_closing:
                open_special.append(name)
        start = tag.end()
    parts.append(text(html[start:]))
    return "".join(parts)
