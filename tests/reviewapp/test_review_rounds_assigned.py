"""Queues by round: a reviewer works the rounds assigned to them (all by default), picks one or
all, and sees x of n reviewed; leads assign reviewers and see progress per stratum and reviewer."""

import pytest
from django.urls import reverse

from auditcore.models import AuditEvent, Verdict
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _offered(client) -> int | None:
    html = client.get(reverse("review:queue")).content.decode()
    marker = 'data-item-id="'
    if marker not in html:
        return None
    return int(html.split(marker, 1)[1].split('"', 1)[0])


def test_a_round_assigned_to_others_is_not_in_the_queue(client, reviewer, second_reviewer):
    theirs = make_round(items=2)
    theirs.reviewers.set([second_reviewer])
    everyone = make_round(items=1)
    client.force_login(reviewer)
    assert _offered(client) == items_of(everyone)[0].pk
    html = client.get(reverse("review:queue")).content.decode()
    assert f'data-round="{theirs.pk}"' not in html
    # Picking the other round by its id gives nothing of it.
    html = client.get(reverse("review:queue"), {"round": theirs.pk}).content.decode()
    assert "Your queue is empty" in html
    assert svc.lease_take_next(reviewer=second_reviewer).item.round_id == theirs.pk


def test_a_reviewer_picks_a_round_sees_its_progress_and_goes_back_to_all(client, reviewer):
    older, newer = make_round(items=3), make_round(items=2)
    svc.lease_take_next(reviewer=reviewer)
    offered_verdict(
        reviewer=reviewer,
        item_id=items_of(older)[0].pk,
        decision="help",
        reason_code="general_info",
    )
    client.force_login(reviewer)
    html = client.get(reverse("review:queue"), {"round": newer.pk}).content.decode()
    assert f'data-item-id="{items_of(newer)[0].pk}"' in html
    assert "1 of 3 reviewed" in html and "1 by you" in html
    assert "0 of 2 reviewed" in html
    assert f'data-round="{newer.pk}" href="/review/?round={newer.pk}" aria-current="true"' in html
    # The choice is kept: the next item after a lock is of the same round.
    client.post(
        reverse("review:submit", args=[items_of(newer)[0].pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    nxt = client.get(reverse("review:queue"), **HX).content.decode()
    assert f'data-item-id="{items_of(newer)[1].pk}"' in nxt
    # All assigned rounds again: the older round's lease (taken above) comes first.
    html = client.get(reverse("review:queue"), {"round": "all"}).content.decode()
    assert "All assigned rounds</a>" in html
    assert 'class="button primary" href="/review/?round=all"' in html


def test_a_lead_assigns_reviewers_and_sees_progress_per_stratum_and_reviewer(
    client, safety_lead, reviewer, second_reviewer
):
    audit_round = make_round(items=4, required_reviews=1)
    svc.lease_take_next(reviewer=reviewer)
    offered_verdict(
        reviewer=reviewer,
        item_id=items_of(audit_round)[0].pk,
        decision="help",
        reason_code="general_info",
    )
    client.force_login(safety_lead)
    url = reverse("rounds:detail", args=[audit_round.pk])
    html = client.get(url).content.decode()
    assert "Review progress: 1 of 4 reviewed" in html
    strata = html.split('id="progress-strata"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num">1</td><td class="num">4</td><td class="num">3</td>' in strata
    reviewers = html.split('id="progress-reviewers"', 1)[1].split("</table>", 1)[0]
    assert "alice" in reviewers and "all reviewers" in reviewers

    response = client.post(
        reverse("rounds:reviewers", args=[audit_round.pk]), {"reviewers": [second_reviewer.pk]}
    )
    assert response.status_code == 302
    assert list(audit_round.reviewers.all()) == [second_reviewer]
    event = AuditEvent.objects.get(action="round.assign")
    assert event.after == {"reviewers": [second_reviewer.username]}
    html = client.get(url).content.decode()
    reviewers = html.split('id="progress-reviewers"', 1)[1].split("</table>", 1)[0]
    assert second_reviewer.username in reviewers
    # alice has a verdict but is no longer assigned; her items stay, new ones go to the others.
    assert svc.lease_take_next(reviewer=reviewer) is None
    assert Verdict.objects.filter(reviewer=reviewer).count() == 1
    # None ticked: every reviewer again.
    client.post(reverse("rounds:reviewers", args=[audit_round.pk]), {})
    assert not audit_round.reviewers.exists()
    assert svc.lease_take_next(reviewer=reviewer) is not None


def test_only_reviewers_can_be_assigned_and_only_by_leads(client, safety_lead, reviewer, outsider):
    audit_round = make_round(items=1)
    client.force_login(safety_lead)
    response = client.post(
        reverse("rounds:reviewers", args=[audit_round.pk]),
        {"reviewers": [outsider.pk]},
        follow=True,
    )
    assert "reviewers: Select a valid choice" in response.content.decode()
    assert not audit_round.reviewers.exists()
    client.force_login(reviewer)
    response = client.post(
        reverse("rounds:reviewers", args=[audit_round.pk]), {"reviewers": [reviewer.pk]}
    )
    assert response.status_code == 403
    assert not audit_round.reviewers.exists()
