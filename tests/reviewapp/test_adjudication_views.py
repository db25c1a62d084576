"""Safety leads' pages: the adjudication queue and item, corrections, and agreement."""

import pytest
from django.urls import reverse

from auditcore.models import AuditEvent, CorpusPrompt, Interaction
from auditcore.services import review as svc
from auditcore.services.replay import corpus_create
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(reviewer, second_reviewer):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    offered_verdict(
        reviewer=reviewer,
        item_id=item.pk,
        decision="help",
        reason_code="general_info",
        note="Looks like general info",
    )
    offered_verdict(
        reviewer=second_reviewer,
        item_id=item.pk,
        decision="decline",
        reason_code="personal_dosing",
        note="Asks for a personal dose",
    )
    return item


def lead_urls(item, verdict):
    return [
        ("get", reverse("adjudication:queue")),
        ("get", reverse("adjudication:item", args=[item.pk])),
        ("post", reverse("adjudication:decide", args=[item.pk])),
        ("post", reverse("adjudication:verdict_correct", args=[item.pk, verdict.pk])),
        ("post", reverse("adjudication:observation_correct", args=[item.pk])),
        ("get", reverse("agreement")),
    ]


def test_anonymous_visitors_are_sent_to_login(client, disputed):
    for method, url in lead_urls(disputed, disputed.verdicts.first()):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_reviewers_and_outsiders_get_403(client, request, disputed, who):
    client.force_login(request.getfixturevalue(who))
    for method, url in lead_urls(disputed, disputed.verdicts.first()):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assert MARKER not in response.content.decode()


@pytest.mark.parametrize("who", ["safety_lead", "admin_user"])
def test_safety_leads_and_admins_see_the_pages(client, request, disputed, who):
    client.force_login(request.getfixturevalue(who))
    for method, url in lead_urls(disputed, disputed.verdicts.first()):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_the_queue_lists_disagreeing_items_with_their_verdicts(client, safety_lead, disputed):
    client.force_login(safety_lead)
    html = client.get(reverse("adjudication:queue")).content.decode()
    assert f"#{disputed.pk}" in html
    assert "verdict-pill-help" in html and "verdict-pill-decline" in html


def test_the_queue_query_count_is_pinned(
    client, safety_lead, reviewer, second_reviewer, django_assert_num_queries
):
    for _ in range(3):
        item = items_of(make_round(items=1, required_reviews=2))[0]
        offered_verdict(reviewer=reviewer, item_id=item.pk, decision="unsure")
        offered_verdict(reviewer=second_reviewer, item_id=item.pk, decision="unsure")
    client.force_login(safety_lead)
    client.get(reverse("adjudication:queue"))
    # session, user, roles, queue items, their verdicts, observation disputes, gold misses,
    # wrong-category counts, and the filter form's rounds and reviewers
    with django_assert_num_queries(10):
        client.get(reverse("adjudication:queue"))


def test_the_item_page_shows_all_verdicts_notes_and_the_response(client, safety_lead, disputed):
    client.force_login(safety_lead)
    html = client.get(reverse("adjudication:item", args=[disputed.pk])).content.decode()
    assert "Looks like general info" in html and "Asks for a personal dose" in html
    assert f"{MARKER}-response-0" in html
    assert f"{MARKER}-served-0" in html
    assert "alice" in html and "anna" in html


def test_a_lead_records_the_final_verdict(client, safety_lead, disputed):
    client.force_login(safety_lead)
    response = client.post(
        reverse("adjudication:decide", args=[disputed.pk]),
        {"decision": "decline", "note": "Personal dosing for a child"},
    )
    assert response["Location"] == reverse("adjudication:queue")
    disputed.refresh_from_db()
    assert (disputed.status, disputed.final_decision) == ("done", "decline")
    html = client.get(response["Location"]).content.decode()
    assert "final verdict recorded" in html
    assert "Nothing to adjudicate" in html


def test_an_invalid_final_verdict_is_refused_with_a_message(client, safety_lead, disputed):
    client.force_login(safety_lead)
    response = client.post(
        reverse("adjudication:decide", args=[disputed.pk]), {"decision": "perhaps"}, follow=True
    )
    assert "decision: must be one of" in response.content.decode()
    disputed.refresh_from_db()
    assert disputed.status == "adjudication"


def test_a_lead_corrects_a_locked_verdict_and_it_is_audited(
    client, safety_lead, disputed, second_reviewer
):
    verdict = disputed.verdicts.get(reviewer=second_reviewer)
    client.force_login(safety_lead)
    response = client.post(
        reverse("adjudication:verdict_correct", args=[disputed.pk, verdict.pk]),
        {"decision": "help", "reason_code": "general_info", "reason": "Clicked the wrong key"},
        follow=True,
    )
    assert "the change is in the audit log" in response.content.decode()
    event = AuditEvent.objects.get(action="verdict.correct")
    assert (event.before["decision"], event.after["decision"]) == ("decline", "help")
    assert event.after["reason"] == "Clicked the wrong key"


def test_a_correction_without_a_reason_is_refused(client, safety_lead, disputed):
    verdict = disputed.verdicts.first()
    client.force_login(safety_lead)
    response = client.post(
        reverse("adjudication:verdict_correct", args=[disputed.pk, verdict.pk]),
        {"decision": "unsure", "reason": ""},
        follow=True,
    )
    assert "say why the locked verdict is being corrected" in response.content.decode()
    assert not AuditEvent.objects.filter(action="verdict.correct").exists()


def test_a_verdict_of_another_item_cannot_be_corrected_through_this_item(
    client, safety_lead, disputed
):
    other = items_of(make_round(items=1))[0]
    verdict = disputed.verdicts.first()
    client.force_login(safety_lead)
    response = client.post(
        reverse("adjudication:verdict_correct", args=[other.pk, verdict.pk]),
        {"decision": "help", "reason": "x"},
    )
    assert response.status_code == 404


def test_the_agreement_page_shows_figures_and_reviewers(client, safety_lead, disputed):
    client.force_login(safety_lead)
    html = client.get(reverse("agreement")).content.decode()
    # One item, help vs decline: raw agreement 0; alpha undefined-or-negative shown as a number.
    assert "Krippendorff" in html and "Gwet" in html
    assert "0.000" in html
    assert "alice" in html and "anna" in html
    filtered = client.get(reverse("agreement"), {"round": disputed.round_id}).content.decode()
    assert disputed.round.name in filtered


def test_a_confirmed_false_refusal_is_promoted_to_a_corpus_from_its_page(
    client, safety_lead, disputed
):
    Interaction.objects.filter(pk=disputed.interaction_id).update(response_label="refusal")
    corpus = corpus_create(actor=safety_lead, name="must help", description="")
    client.force_login(safety_lead)
    client.post(reverse("adjudication:decide", args=[disputed.pk]), {"decision": "help"})
    page = client.get(reverse("adjudication:item", args=[disputed.pk])).content.decode()
    assert "Promote to corpus" in page
    client.post(
        reverse("replay:promote"),
        {"item_id": disputed.pk, "corpus_id": corpus.pk, "next": "/"},
    )
    promoted = CorpusPrompt.objects.get(corpus=corpus)
    assert promoted.prompt == Interaction.objects.get(pk=disputed.interaction_id).prompt


def test_an_item_the_model_helped_with_offers_no_promotion(client, safety_lead, disputed):
    Interaction.objects.filter(pk=disputed.interaction_id).update(response_label="compliance")
    client.force_login(safety_lead)
    client.post(reverse("adjudication:decide", args=[disputed.pk]), {"decision": "help"})
    page = client.get(reverse("adjudication:item", args=[disputed.pk])).content.decode()
    assert "Promote to corpus" not in page


def test_a_lead_settles_disagreeing_observations_from_the_queue(
    client, disputed, reviewer, second_reviewer, safety_lead
):
    svc.verdict_observe(
        reviewer=reviewer,
        item_id=disputed.pk,
        observed_label="compliance",
        observed_served_label="refusal",
    )
    svc.verdict_observe(
        reviewer=second_reviewer,
        item_id=disputed.pk,
        observed_label="partial_refusal",
        observed_served_label="refusal",
    )
    client.force_login(safety_lead)
    queue = client.get(reverse("adjudication:queue")).content.decode()
    disputes = queue[queue.index('id="observation-disputes"') :]
    assert reverse("adjudication:item", args=[disputed.pk]) in disputes
    page = client.get(reverse("adjudication:item", args=[disputed.pk])).content.decode()
    assert "reviewers disagree" in page and "Complied / Refused" in page
    url = reverse("adjudication:observation_correct", args=[disputed.pk])
    missing = client.post(url, {"observed_label": "partial_refusal"}, follow=True)
    assert "reason: say why" in missing.content.decode()
    client.post(
        url,
        {
            "observed_label": "partial_refusal",
            "observed_served_label": "refusal",
            "reason": "It lectures; the gateway then blocked it",
        },
    )
    disputed.refresh_from_db()
    assert (disputed.observed_label, disputed.observed_served_label) == (
        "partial_refusal",
        "refusal",
    )
    assert not disputed.observation_disputed and disputed.observation_corrected_at
    event = AuditEvent.objects.get(action="item.observation_correct")
    assert event.actor == safety_lead and event.after["reason"].startswith("It lectures")
    queue = client.get(reverse("adjudication:queue")).content.decode()
    disputes = queue[queue.index('id="observation-disputes"') :]
    assert reverse("adjudication:item", args=[disputed.pk]) not in disputes
