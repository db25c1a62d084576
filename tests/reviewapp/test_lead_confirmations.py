"""Destructive lead actions ask first: re-review and close round show what they would change, per
round, and touch only the rounds under the policy version the confirmation names."""

import re

import pytest
from django.urls import reverse

from auditcore.models import AuditRound, RoundItem, Verdict
from auditcore.services import review as review_svc
from tests.factories import PolicyVersionFactory
from tests.support.review_round import (
    items_of,
    make_round,
    offered_verdict,
    rounds_under_three_versions,
)

pytestmark = pytest.mark.django_db


def _cells(html: str, round_id: int) -> list[str]:
    row = re.search(rf'<tr data-round="{round_id}">(.*?)</tr>', html, re.S).group(1)
    return re.findall(r'<td class="num">(\d+)</td>', row)


@pytest.fixture
def three_rounds(reviewer):
    return rounds_under_three_versions(reviewer)


def test_rereview_confirmation_counts_per_round_grouped_by_version(
    client, safety_lead, three_rounds
):
    r = three_rounds
    client.force_login(safety_lead)
    response = client.get(reverse("policy:rereview", args=[r["v3"].pk]), {"category": "medical"})
    html = response.content.decode()
    assert response.status_code == 200
    # items sent back, final, adjudication, pending, verdicts superseded, held now
    assert _cells(html, r["a"].pk) == ["3", "1", "0", "2", "1", "0"]
    assert _cells(html, r["b"].pk) == ["2", "0", "0", "2", "0", "0"]
    assert _cells(html, r["c"].pk) == ["2", "0", "0", "2", "0", "0"]
    assert "Re-review these 5 items (1 verdict superseded)" in html
    assert "Re-review these 2 items (0 verdicts superseded)" in html
    # Looking changes nothing.
    assert not Verdict.objects.filter(superseded=True).exists()


def test_rereview_moves_only_the_rounds_of_the_version_it_names(client, safety_lead, three_rounds):
    r = three_rounds
    client.force_login(safety_lead)
    response = client.post(
        reverse("policy:rereview", args=[r["v3"].pk]),
        {"category": "medical", "from_version": r["v1"].pk},
        follow=True,
    )
    assert "5 items of medical in open rounds drawn under" in response.content.decode()
    moved = RoundItem.objects.filter(round__in=[r["a"], r["b"]])
    assert set(moved.values_list("policy_version_id", flat=True)) == {r["v3"].pk}
    assert set(
        RoundItem.objects.filter(round=r["c"]).values_list("policy_version_id", flat=True)
    ) == {r["v2"].pk}
    assert Verdict.objects.get(item=r["judged"]).superseded is True
    r["judged"].refresh_from_db()
    assert (r["judged"].status, r["judged"].verdict_count) == ("pending", 0)


def test_rereview_without_a_version_changes_nothing(client, safety_lead, three_rounds):
    r = three_rounds
    client.force_login(safety_lead)
    response = client.post(
        reverse("policy:rereview", args=[r["v3"].pk]), {"category": "medical"}, follow=True
    )
    assert "from_version: This field is required." in response.content.decode()
    assert not Verdict.objects.filter(superseded=True).exists()
    assert not RoundItem.objects.filter(policy_version=r["v3"]).exists()


def test_close_confirmation_says_how_much_is_unreviewed_and_closes_only_when_confirmed(
    client, safety_lead, reviewer
):
    audit_round = make_round(items=11)
    review_svc.lease_take_next(reviewer=reviewer)
    offered_verdict(
        reviewer=reviewer,
        item_id=items_of(audit_round)[0].pk,
        decision="help",
        reason_code="general_info",
    )
    review_svc.lease_take_next(reviewer=reviewer)  # one more open on the reviewer's screen
    client.force_login(safety_lead)
    url = reverse("rounds:close", args=[audit_round.pk])
    html = client.get(url).content.decode()
    assert "10 of 11 items have not been reviewed yet; 1 is open on a reviewer" in html
    assert f'name="policy_version" value="{audit_round.policy_version_id}"' in html

    # A bare POST (the old one-click form) does not close; it sends back to the confirmation.
    assert client.post(url)["Location"] == url
    other = PolicyVersionFactory(number=2)
    wrong = client.post(url, {"policy_version": other.pk}, follow=True).content.decode()
    assert "is not under" in wrong and "nothing was closed" in wrong
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.OPEN

    client.post(url, {"policy_version": audit_round.policy_version_id})
    audit_round.refresh_from_db()
    assert audit_round.status == AuditRound.Status.CLOSED


def test_confirmation_pages_are_for_safety_leads(client, reviewer, three_rounds):
    r = three_rounds
    client.force_login(reviewer)
    assert client.get(reverse("rounds:close", args=[r["a"].pk])).status_code == 403
    assert (
        client.get(
            reverse("policy:rereview", args=[r["v3"].pk]), {"category": "medical"}
        ).status_code
        == 403
    )
