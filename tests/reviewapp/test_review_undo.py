"""Undo and history: a reviewer takes back their last verdict within two minutes, unless someone
else acted on the item; "my recent items" returns to an item whose observation is missing."""

from datetime import timedelta

import pytest
from django.urls import reverse

from auditcore.models import AuditEvent, JudgedItem, Lease, RoundItem, Verdict
from auditcore.services import review as svc
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def alice(client, reviewer):
    client.force_login(reviewer)
    return client


def _lock(alice, item, decision="help", code="general_info"):
    alice.get(reverse("review:queue"))
    response = alice.post(
        reverse("review:submit", args=[item.pk]), {"decision": decision, "reason_code": code}, **HX
    )
    assert "Your verdict is locked" in response.content.decode()
    return response


def test_the_reveal_offers_to_take_the_verdict_back(alice):
    item = items_of(make_round(items=1))[0]
    html = _lock(alice, item).content.decode()
    assert reverse("review:undo", args=[item.pk]) in html
    assert "Take back my verdict" in html


def test_undo_within_the_window_brings_the_item_back_blind_and_into_the_queue(alice, reviewer):
    item = items_of(make_round(items=2, required_reviews=1))[0]
    _lock(alice, item)
    item.refresh_from_db()
    assert item.status == RoundItem.Status.DONE

    response = alice.post(reverse("review:undo", args=[item.pk]), **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your verdict was taken back" in html
    assert f'action="{reverse("review:submit", args=[item.pk])}"' in html  # the blind form again
    assert MARKER not in html  # nothing of what the model did
    assert response["HX-Push-Url"] == reverse("review:queue")

    assert not Verdict.objects.filter(reviewer=reviewer).exists()
    assert not JudgedItem.objects.filter(reviewer=reviewer).exists()
    item.refresh_from_db()
    assert (item.status, item.final_decision, item.verdict_count) == ("pending", "", 0)
    event = AuditEvent.objects.get(action="verdict.undo")
    assert event.actor == reviewer and event.before["decision"] == "help"
    # The reveal is closed again, and a fresh page load offers this same item first.
    assert alice.get(reverse("review:reveal", args=[item.pk])).status_code == 404
    page = alice.get(reverse("review:queue")).content.decode()
    assert f'action="{reverse("review:submit", args=[item.pk])}"' in page
    # The reviewer has seen the answer: the page says the next verdict is not blind.
    assert "your verdict will be marked as given after the reveal" in page
    # Judged again, it counts once, and is marked as given after the reveal.
    alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "decline", "reason_code": "personal_dosing"},
        **HX,
    )
    verdict = Verdict.objects.get(reviewer=reviewer)
    assert (verdict.decision, verdict.after_reveal) == ("decline", True)
    assert JudgedItem.objects.filter(reviewer=reviewer).count() == 1


def test_a_verdict_given_again_after_an_undo_is_marked_for_the_lead(alice, safety_lead):
    item = items_of(make_round(items=1, required_reviews=1))[0]
    _lock(alice, item)
    first = Verdict.objects.get(item=item)
    assert first.after_reveal is False
    alice.post(reverse("review:undo", args=[item.pk]), **HX)
    alice.get(reverse("review:queue"))
    alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    alice.force_login(safety_lead)
    html = alice.get(reverse("adjudication:item", args=[item.pk])).content.decode()
    assert "after the reveal" in html


def test_undo_without_htmx_returns_to_the_item_first_even_with_a_newer_lease(alice, reviewer):
    first, second = items_of(make_round(items=2, required_reviews=1))
    _lock(alice, first)
    alice.post(
        reverse("review:observe", args=[first.pk]),
        {"observed_label": "compliance", "observed_served_label": "compliance"},
        **HX,
    )
    assert Lease.objects.filter(reviewer=reviewer, item=second).exists()  # already offered
    response = alice.post(reverse("review:undo", args=[first.pk]), {"from": "recent"})
    assert response["Location"] == f"{reverse('review:queue')}?item={first.pk}"
    page = alice.get(response["Location"]).content.decode()
    assert f'action="{reverse("review:submit", args=[first.pk])}"' in page
    assert "Your verdict was taken back" in page


def test_undo_after_two_minutes_is_refused_and_the_verdict_stands(alice, reviewer):
    item = items_of(make_round(items=1))[0]
    _lock(alice, item)
    Verdict.objects.filter(reviewer=reviewer).update(
        locked_at=Verdict.objects.get(reviewer=reviewer).locked_at - timedelta(seconds=121)
    )
    html = alice.post(reverse("review:undo", args=[item.pk]), **HX).content.decode()
    assert "only within 2 minutes of its lock; your verdict stands" in html
    assert "Take back my verdict" not in html
    assert Verdict.objects.filter(reviewer=reviewer).exists()
    assert not AuditEvent.objects.filter(action="verdict.undo").exists()


def test_undo_is_refused_once_another_reviewer_has_judged_the_item(
    alice, reviewer, second_reviewer
):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    _lock(alice, item)
    offered_verdict(
        reviewer=second_reviewer, item_id=item.pk, decision="decline", reason_code="personal_dosing"
    )
    html = alice.post(reverse("review:undo", args=[item.pk]), **HX).content.decode()
    assert "another reviewer has judged this item since" in html
    assert Verdict.objects.filter(item=item).count() == 2


def test_undo_is_refused_once_a_lead_has_adjudicated(alice, reviewer, safety_lead):
    item = items_of(make_round(items=1, required_reviews=1))[0]
    _lock(alice, item, decision="unsure", code="")
    svc.adjudication_record(adjudicator=safety_lead, item_id=item.pk, decision="help")
    html = alice.post(reverse("review:undo", args=[item.pk]), **HX).content.decode()
    assert "a safety lead has already acted on this item" in html
    item.refresh_from_db()
    assert item.final_decision == "help"


def test_nobody_else_can_take_a_verdict_back(client, reviewer, second_reviewer, safety_lead):
    item = items_of(make_round(items=1))[0]
    svc.lease_take_next(reviewer=reviewer)
    offered_verdict(reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info")
    client.force_login(second_reviewer)
    assert client.post(reverse("review:undo", args=[item.pk])).status_code == 404
    client.force_login(safety_lead)
    assert client.post(reverse("review:undo", args=[item.pk])).status_code == 403
    assert Verdict.objects.filter(reviewer=reviewer).exists()


def test_recent_items_lead_back_to_a_reveal_whose_observation_is_missing(alice, reviewer):
    first, second = items_of(make_round(items=2, required_reviews=1))
    _lock(alice, first)
    # N: on to the next item without recording what the model did.
    alice.get(reverse("review:queue"), **HX)
    response = alice.get(reverse("review:recent"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not recorded — record it" in html
    assert reverse("review:reveal", args=[first.pk]) in html
    assert MARKER not in html  # the model's answer is only on the reveal itself
    assert f'data-item-id="{second.pk}"' not in html  # not judged: not listed
    reveal = alice.get(reverse("review:reveal", args=[first.pk])).content.decode()
    assert "What did the model do?" in reveal
    alice.post(
        reverse("review:observe", args=[first.pk]),
        {"observed_label": "refusal", "observed_served_label": "refusal"},
    )
    assert "Not recorded" not in alice.get(reverse("review:recent")).content.decode()


def test_recent_items_is_for_reviewers_only(client, safety_lead):
    assert client.get(reverse("review:recent")).status_code == 302
    client.force_login(safety_lead)
    assert client.get(reverse("review:recent")).status_code == 403
