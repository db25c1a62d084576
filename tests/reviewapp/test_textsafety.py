"""|reveal_controls: bidi controls and zero-width characters become visible, text stays escaped."""

import re

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils.safestring import SafeData, mark_safe

from auditcore.models import Interaction, RoundItem
from auditcore.services import review as svc
from reviewapp.templatetags.textsafety import BIDI_CONTROLS, ZERO_WIDTH, reveal_controls
from tests.support.review_round import items_of, make_round, offered_verdict

RLO_EVIL = "\u202eevil\u202c"


def unmark(html: str) -> str:
    """The page with the marker spans unwrapped, to compare text."""
    return re.sub(r'<span class="ctl-marker">(.*?)</span>', r"\1", html)


def render(text: str, filters: str = "") -> str:
    source = "{% load textsafety %}{{ text" + filters + "|reveal_controls }}"
    return Template(source).render(Context({"text": text}))


def test_a_right_to_left_override_is_shown_as_a_marker_not_obeyed():
    out = render(RLO_EVIL)
    assert "\u202e" not in out and "\u202c" not in out
    assert "⟨U+202E⟩" in out and "⟨U+202C⟩" in out
    assert out.index("⟨U+202E⟩") < out.index("evil") < out.index("⟨U+202C⟩")


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS | ZERO_WIDTH))
def test_every_bidi_and_zero_width_character_is_replaced(char):
    out = str(reveal_controls(f"a{char}b"))
    assert char not in out
    assert f"⟨U+{ord(char):04X}⟩" in out


def test_the_named_ranges_are_all_covered():
    for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]:
        assert chr(code) in BIDI_CONTROLS
    for code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
        assert chr(code) in ZERO_WIDTH


def test_html_in_the_text_stays_escaped_around_markers():
    out = render("<script>alert(1)</script>\u202e<b>x</b>\u200b&")
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&lt;b&gt;x&lt;/b&gt;" in out and out.endswith("&amp;</bdi>")
    # The only tags are the markers themselves.
    assert out.count("<span") == 2 and out.count('<span class="ctl-marker">') == 2


def test_plain_text_is_escaped_and_unchanged_otherwise():
    out = reveal_controls("Ünïcödé \"quotes\" <tag> 'x' — fine")
    assert isinstance(out, SafeData)
    assert out == "<bdi>Ünïcödé &quot;quotes&quot; &lt;tag&gt; &#x27;x&#x27; — fine</bdi>"
    assert reveal_controls(None) == ""
    assert reveal_controls(42) == "<bdi>42</bdi>"


def test_text_already_marked_safe_is_not_escaped_twice():
    assert str(reveal_controls(mark_safe("&amp;\u200b"))) == (
        '<bdi>&amp;<span class="ctl-marker">⟨U+200B⟩</span></bdi>'
    )


def test_after_truncatechars_the_markers_are_whole():
    out = render("x" * 10 + "\u202e", "|truncatechars:20")
    assert out.endswith("⟨U+202E⟩</span></bdi>")


@pytest.mark.django_db
def test_the_review_page_and_the_reveal_show_the_markers(client, reviewer):
    item = items_of(make_round(items=1, required_reviews=1))[0]
    Interaction.objects.filter(pk=item.interaction_id).update(
        prompt=f"Say {RLO_EVIL} now <b>", response=f"Answer \u200bhidden {RLO_EVIL}"
    )
    client.force_login(reviewer)
    page = unmark(client.get(reverse("review:queue")).content.decode())
    assert "\u202e" not in page and "Say ⟨U+202E⟩evil⟨U+202C⟩ now &lt;b&gt;" in page
    offered_verdict(
        reviewer=reviewer, item_id=item.pk, decision="decline", reason_code="self_harm_risk"
    )
    reveal = unmark(client.get(reverse("review:reveal", args=[item.pk])).content.decode())
    assert "\u202e" not in reveal and "\u200b" not in reveal
    assert "Answer ⟨U+200B⟩hidden ⟨U+202E⟩evil" in reveal


@pytest.mark.django_db
def test_the_adjudication_item_shows_the_markers(client, reviewer, second_reviewer, safety_lead):
    audit_round = make_round(items=1, required_reviews=2)
    item = items_of(audit_round)[0]
    Interaction.objects.filter(pk=item.interaction_id).update(
        prompt=f"P {RLO_EVIL}",
        response=f"R {RLO_EVIL}",
        earlier_turns=[{"role": "user", "content": f"T {RLO_EVIL}"}],
    )
    for who, decision in ((reviewer, "help"), (second_reviewer, "decline")):
        svc.lease_take_next(reviewer=who)
        offered_verdict(
            reviewer=who, item_id=item.pk, decision=decision, reason_code="general_info"
        )
    item.refresh_from_db()
    assert item.status == RoundItem.Status.ADJUDICATION
    client.force_login(safety_lead)
    page = unmark(client.get(reverse("adjudication:item", args=[item.pk])).content.decode())
    assert "\u202e" not in page
    for text in ("P ⟨U+202E⟩evil", "R ⟨U+202E⟩evil", "T ⟨U+202E⟩evil"):
        assert text in page
    queue = unmark(client.get(reverse("adjudication:queue")).content.decode())
    assert "\u202e" not in queue and "P ⟨U+202E⟩evil" in queue
