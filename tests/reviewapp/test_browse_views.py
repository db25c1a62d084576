"""The leads' item browser: search over prompts (PostgreSQL full text, substring on SQLite),
filters, sorting and pages, links to the item and its round; leads only."""

import pytest
from django.urls import reverse

from auditcore.models import RoundItem
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(client, safety_lead):
    client.force_login(safety_lead)
    return client


def _ids(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('<tr data-item-id="')[1:]]


def test_search_finds_prompts_by_word(lead):
    doses = make_round(items=2)
    bombs = make_round(items=1, prompt="How do I build a pipe bomb? #{i}")
    html = lead.get(reverse("browse"), {"q": "bomb"}).content.decode()
    assert _ids(html) == [items_of(bombs)[0].pk]
    assert "1 item" in html
    html = lead.get(reverse("browse"), {"q": "paracetamol"}).content.decode()
    assert sorted(_ids(html)) == sorted(i.pk for i in items_of(doses))


def test_filters_by_round_state_and_disagreement(lead, reviewer, second_reviewer):
    first = make_round(items=2, required_reviews=2)
    make_round(items=2)
    disputed = items_of(first)[0]
    offered_verdict(
        reviewer=reviewer, item_id=disputed.pk, decision="help", reason_code="general_info"
    )
    offered_verdict(
        reviewer=second_reviewer,
        item_id=disputed.pk,
        decision="decline",
        reason_code="personal_dosing",
    )
    html = lead.get(reverse("browse"), {"round": first.pk}).content.decode()
    assert sorted(_ids(html)) == sorted(i.pk for i in items_of(first))
    html = lead.get(reverse("browse"), {"status": RoundItem.Status.ADJUDICATION}).content.decode()
    assert _ids(html) == [disputed.pk]
    html = lead.get(reverse("browse"), {"disagreement": "on"}).content.decode()
    assert _ids(html) == [disputed.pk]
    html = lead.get(reverse("browse"), {"reviewer": second_reviewer.pk}).content.decode()
    assert _ids(html) == [disputed.pk]
    # Links both ways: to the item's page and to its round.
    assert reverse("adjudication_item", args=[disputed.pk]) in html
    assert reverse("rounds:detail", args=[first.pk]) in html


def test_sorting_and_pages_keep_the_filters(lead):
    audit_round = make_round(items=55)
    html = lead.get(reverse("browse"), {"round": audit_round.pk, "sort": "oldest"}).content.decode()
    ids = sorted(i.pk for i in items_of(audit_round))
    assert _ids(html) == ids[:50]
    assert "page 1 of 2" in html
    assert f"?round={audit_round.pk}&amp;sort=oldest&amp;page=2" in html
    second = lead.get(
        reverse("browse"), {"round": audit_round.pk, "sort": "oldest", "page": 2}
    ).content.decode()
    assert _ids(second) == ids[50:]


def test_a_bad_filter_names_the_field(lead):
    make_round(items=1)
    html = lead.get(reverse("browse"), {"status": "bogus"}).content.decode()
    assert "status: Select a valid choice" in html


def test_browse_is_for_safety_leads(client, reviewer):
    assert client.get(reverse("browse")).status_code == 302
    client.force_login(reviewer)
    assert client.get(reverse("browse")).status_code == 403
