"""The adjudication queue's filters, no default decision, and "decide and next"."""

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def _disputed(reviewer, second_reviewer, *, category="medical"):
    audit_round = make_round(items=1, required_reviews=2)
    item = items_of(audit_round)[0]
    if category != "medical":
        item.interaction.category = category
        item.interaction.save(update_fields=["category"])
    offered_verdict(reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info")
    offered_verdict(reviewer=second_reviewer, item_id=item.pk, decision="unsure")
    return audit_round, item


@pytest.fixture
def lead(client, safety_lead):
    client.force_login(safety_lead)
    return client


@pytest.fixture
def three(reviewer, second_reviewer):
    CategoryFactory(slug="finance")
    return [
        _disputed(reviewer, second_reviewer),
        _disputed(reviewer, second_reviewer, category="finance"),
        _disputed(reviewer, second_reviewer),
    ]


def _listed(html: str) -> list[str]:
    table = html.split("<h2>Waiting", 1)[1].split("</table>", 1)[0]
    return [part.split("<", 1)[0] for part in table.split('">#')[1:]]


def test_the_queue_filters_by_round_and_category(lead, three):
    (_, i1), (_, i2), (r3, i3) = three
    everything = _listed(lead.get(reverse("adjudication:queue")).content.decode())
    assert everything == [str(i1.pk), str(i2.pk), str(i3.pk)]
    by_round = lead.get(reverse("adjudication:queue"), {"round": r3.pk}).content.decode()
    assert _listed(by_round) == [str(i3.pk)]
    by_category = lead.get(reverse("adjudication:queue"), {"category": "finance"}).content.decode()
    assert _listed(by_category) == [str(i2.pk)]
    # The item links keep the filters, for "decide and next".
    assert f'/adjudication/items/{i2.pk}?category=finance"' in by_category


def test_a_bad_filter_names_the_field_and_shows_everything(lead, three):
    html = lead.get(reverse("adjudication:queue"), {"round": "999999"}).content.decode()
    assert "round: Select a valid choice" in html
    assert len(_listed(html)) == 3


def test_the_decision_has_no_default(lead, three):
    _, item = three[0]
    html = lead.get(reverse("adjudication:item", args=[item.pk])).content.decode()
    decide = html.split(reverse("adjudication:decide", args=[item.pk]), 1)[1].split("</form>")[0]
    assert '<option value="" selected disabled>— choose —</option>' in decide
    assert "selected>Should" not in decide
    response = lead.post(reverse("adjudication:decide", args=[item.pk]), {"decision": ""})
    assert response["Location"] == reverse("adjudication:item", args=[item.pk])
    item.refresh_from_db()
    assert item.status == "adjudication"


def test_decide_and_next_goes_to_the_next_item_under_the_same_filters(lead, three):
    (_, i1), (_, i2), (_, i3) = three
    response = lead.post(
        reverse("adjudication:decide", args=[i1.pk]),
        {"decision": "help", "then": "next", "query": "category=medical"},
    )
    assert response["Location"] == reverse("adjudication:item", args=[i3.pk]) + "?category=medical"
    response = lead.post(
        reverse("adjudication:decide", args=[i3.pk]),
        {"decision": "decline", "then": "next", "query": "category=medical"},
    )
    assert response["Location"] == reverse("adjudication:queue") + "?category=medical"
    # Without filters the next is simply the oldest left.
    response = lead.post(reverse("adjudication:decide", args=[i2.pk]), {"decision": "help"})
    assert response["Location"] == reverse("adjudication:queue")
