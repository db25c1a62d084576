"""Every page shows bidi controls and zero-width characters in names, policy text, prompts and
responses as visible markers, and isolates untrusted names with <bdi>, so nothing can display
reversed or hidden text to a reviewer or a lead."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from auditcore.models import (
    ApiToken,
    AuditRound,
    Category,
    Interaction,
    ModelVersion,
    Surface,
)
from auditcore.services import review as review_svc
from auditcore.services.tokens import api_token_create
from reviewapp.templatetags.textsafety import REVEALED
from tests.support.replay_data import stored_replay
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db

RLO, PDF, ZWSP = "\u202e", "\u202c", "\u200b"
NAMES = {
    "round": f"Round {RLO}evil{PDF}",
    "surface": f"web{ZWSP}chat",
    "model": f"model-{RLO}x{PDF}",
    "category": f"Medical {RLO}dlrow{PDF}",
    "corpus": f"corpus {RLO}esrever{PDF}",
    "endpoint": f"endpoint{ZWSP}a",
}


def marked(text: str) -> str:
    out = escape(text)
    for char in sorted(REVEALED):
        out = out.replace(char, f'<span class="ctl-marker">⟨U+{ord(char):04X}⟩</span>')
    return out


@pytest.fixture
def pages(admin_user, reviewer, second_reviewer):
    audit_round = make_round(items=2, required_reviews=2)
    item, other = items_of(audit_round)
    AuditRound.objects.filter(pk=audit_round.pk).update(name=NAMES["round"])
    Surface.objects.update(name=NAMES["surface"])
    ModelVersion.objects.update(name=NAMES["model"])
    Category.objects.update(
        name=NAMES["category"],
        description=f"Health {RLO}txet{PDF}",
        help_when=[f"General {RLO}ofni{PDF}"],
        decline_when=[f"Over{ZWSP}dose"],
        reason_codes=[{"code": "general_info", "label": f"Fine {RLO}enif{PDF}"}],
    )
    Interaction.objects.update(
        prompt=f"How {RLO}evil{PDF} is this?", response=f"Answer{ZWSP} {RLO}kO{PDF}"
    )
    for who, decision in ((reviewer, "help"), (second_reviewer, "decline")):
        review_svc.lease_take_next(reviewer=who)
        offered_verdict(
            reviewer=who, item_id=item.pk, decision=decision, reason_code="general_info"
        )
    review_svc.lease_take_next(reviewer=admin_user)
    replay = stored_replay(
        actor=admin_user,
        corpus_name=NAMES["corpus"],
        prompt=f"P {RLO}q{PDF}",
        endpoint_name=NAMES["endpoint"],
    )
    corpus, run, decision = replay.corpus, replay.run, replay.decision
    api_token_create(user=admin_user, name=f"ci {RLO}nekot{PDF}")
    assert ApiToken.objects.exists()
    version = audit_round.policy_version
    return [
        reverse("home"),
        reverse("review:queue"),
        reverse("adjudication:queue"),
        reverse("adjudication:item", args=[item.pk]),
        reverse("agreement"),
        reverse("dashboard:index"),
        reverse("dashboard:round", args=[audit_round.pk]),
        reverse("dashboard:interaction", args=[other.interaction_id]),
        reverse("dashboard:consistency", args=[audit_round.pk]),
        reverse("policy:list"),
        reverse("policy:version", args=[version.pk]),
        reverse("rounds:list"),
        reverse("rounds:detail", args=[audit_round.pk]),
        reverse("rounds:gold"),
        reverse("rounds:new"),
        reverse("replay:index"),
        reverse("replay:corpora"),
        reverse("replay:corpus", args=[corpus.pk]),
        reverse("replay:endpoints"),
        reverse("replay:runs"),
        reverse("replay:run", args=[run.pk]),
        reverse("replay:decision", args=[decision.pk]),
        reverse("replay:gate"),
        reverse("exports:list"),
        reverse("profile:index"),
    ]


def _visible_text(html: str) -> str:
    """What a browser shows as text: no tags (attributes), no form values in textareas."""
    html = re.sub(r"<textarea\b.*?</textarea>", "", html, flags=re.S | re.I)
    return re.sub(r"<[^>]*>", "", html)


def test_no_page_shows_a_raw_bidi_or_zero_width_character(client, admin_user, pages):
    client.force_login(admin_user)
    raw, shown = [], 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        found = sorted({f"U+{ord(c):04X}" for c in _visible_text(html) if c in REVEALED})
        if found:
            raw.append(f"{url}: {', '.join(found)}")
        shown += html.count('class="ctl-marker"')
    assert raw == []
    assert shown > 50  # the hostile names and texts were on the pages, as markers


def test_untrusted_names_are_isolated_with_bdi(client, admin_user, pages):
    client.force_login(admin_user)
    loose, isolated_anywhere = [], dict.fromkeys(NAMES, 0)
    for url in pages:
        html = client.get(url).content.decode()
        for what, name in NAMES.items():
            shown = html.count(marked(name))
            isolated = html.count(f"<bdi>{marked(name)}</bdi>")
            isolated_anywhere[what] += isolated
            if shown != isolated:
                loose.append(f"{url}: {what} shown {shown}x, isolated {isolated}x")
    assert loose == []
    assert [what for what, n in isolated_anywhere.items() if n == 0] == []
