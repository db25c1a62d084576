"""Reviewers' "wrong category" flags validate the category classifier: per category the items
reviewed, flagged, suggested instead, and a precision estimate, on the leads' page and from
`detection_report --reviewer-flags`."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import CategoryFactory
from tests.support.review_round import (
    items_of,
    make_round,
    offered_verdict,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def flagged(reviewer, second_reviewer):
    """Four medical items reviewed; one flagged "weapons" by both reviewers, one flagged with no
    suggestion."""
    CategoryFactory(slug="weapons", name="Weapons")
    items = items_of(make_round(items=4, required_reviews=2))
    flags = {
        0: {"category_wrong": True, "suggested_category": "weapons"},
        1: {"category_wrong": True},
    }
    for i, item in enumerate(items):
        offered_verdict(
            reviewer=reviewer,
            item_id=item.pk,
            decision="help",
            reason_code="general_info",
            **flags.get(i, {}),
        )
    offered_verdict(
        reviewer=second_reviewer,
        item_id=items[0].pk,
        decision="decline",
        reason_code="personal_dosing",
        **flags[0],
    )
    return items


def test_the_lead_sees_precision_per_category_from_the_flags(client, safety_lead, flagged):
    client.force_login(safety_lead)
    html = client.get(reverse("adjudication:category_validation")).content.decode()
    row = html.split('<tr data-category="medical">', 1)[1].split("</tr>", 1)[0]
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    # reviewed 4, flagged 2 (items, not verdicts), precision 0.5
    assert cells[1:4] == ["4", "2", "0.500"]
    assert "<bdi>weapons</bdi> (2), <bdi>(none suggested)</bdi> (1)" in row
    weapons = html.split('<tr data-category="weapons">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">2</td>' in weapons  # suggested into weapons twice
    assert "agreed with the classifier's category on <strong>0.500</strong> of 4" in html
    queue = client.get(reverse("adjudication:queue")).content.decode()
    assert reverse("adjudication:category_validation") in queue


def test_the_command_prints_the_same_table(flagged):
    out = StringIO()
    call_command("detection_report", "--reviewer-flags", stdout=out)
    text = out.getvalue()
    assert "items reviewed=4, flagged wrong=2" in text
    medical = next(line for line in text.splitlines() if line.strip().startswith("medical"))
    assert medical.split()[1:4] == ["4", "2", "0.500"]
    assert "weapons (2)" in medical


def test_the_page_is_for_safety_leads(client, reviewer):
    assert client.get(reverse("adjudication:category_validation")).status_code == 302
    client.force_login(reviewer)
    assert client.get(reverse("adjudication:category_validation")).status_code == 403
