"""Per-item extras: "wrong category" with a suggestion (counted per category for the leads), any
reason code of the policy by search, and a comment thread the leads see at adjudication."""

import pytest
from django.test import Client
from django.urls import reverse

from auditcore.models import ItemComment, Verdict
from tests.factories import CategoryFactory, PolicyVersionFactory
from tests.support.review_round import MARKER, items_of, make_round

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def two_categories():
    version = PolicyVersionFactory(number=1)
    CategoryFactory(
        policy_version=version,
        slug="weapons",
        reason_codes=[{"code": "explosives_howto", "label": "How to build explosives"}],
    )
    return version


@pytest.fixture
def alice(client, reviewer):
    client.force_login(reviewer)
    return client


def test_the_blind_form_offers_every_reason_code_and_category_of_the_policy(alice, two_categories):
    make_round(items=1)
    html = alice.get(reverse("review:queue")).content.decode()
    assert '<option value="explosives_howto">How to build explosives (Weapons)</option>' in html
    assert '<option value="personal_dosing">Personal dosing advice (Medical)</option>' in html
    assert '<option value="weapons">Weapons</option>' in html
    assert '<option value="medical">' not in html  # not its own category
    assert MARKER not in html


def test_another_categorys_reason_code_found_by_search_is_accepted(alice, reviewer, two_categories):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    html = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "decline", "reason_code": "", "reason_code_search": "explosives_howto"},
        **HX,
    ).content.decode()
    assert "Your verdict is locked" in html
    assert Verdict.objects.get(reviewer=reviewer).reason_code == "explosives_howto"


def test_an_unknown_searched_code_is_refused_naming_the_field(alice, two_categories):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    html = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "decline", "reason_code_search": "pipe_bombs"},
        **HX,
    ).content.decode()
    assert "reason_code: &#x27;pipe_bombs&#x27; is not a reason code of this policy version" in html
    assert 'value="pipe_bombs"' in html  # what was typed is kept
    assert not Verdict.objects.exists()


def test_wrong_category_reaches_the_lead_counted_per_category(
    alice, reviewer, safety_lead, two_categories
):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    alice.post(
        reverse("review:submit", args=[item.pk]),
        {
            "decision": "unsure",
            "category_wrong": "on",
            "suggested_category": "weapons",
        },
        **HX,
    )
    verdict = Verdict.objects.get(reviewer=reviewer)
    assert (verdict.category_wrong, verdict.suggested_category) == (True, "weapons")

    client = Client()
    client.force_login(safety_lead)
    queue = client.get(reverse("adjudication:queue")).content.decode()
    table = queue.split('id="wrong-category-table"', 1)[1].split("</table>", 1)[0]
    assert '<tr data-category="medical">' in table
    assert '<td class="num">1</td>' in table and "weapons</bdi> (1)" in table
    page = client.get(reverse("adjudication:item", args=[item.pk])).content.decode()
    assert "wrong category → <bdi>weapons</bdi>" in page


def test_a_suggested_category_outside_the_policy_is_refused(alice, two_categories):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    html = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "unsure", "category_wrong": "on", "suggested_category": "nonsense"},
        **HX,
    ).content.decode()
    assert "suggested_category: &#x27;nonsense&#x27; is not a category" in html
    assert not Verdict.objects.exists()


def test_the_comment_thread_opens_after_the_lock_and_reaches_the_lead(alice, reviewer, safety_lead):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    url = reverse("review:comment", args=[item.pk])
    # Before the lock the thread is closed (it may speak of what the model did).
    assert alice.post(url, {"text": "too early"}).status_code == 404
    alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    html = alice.post(url, {"text": "Category looks off to me"}, **HX).content.decode()
    assert "Category looks off to me" in html and "Comments for the safety leads (1)" in html
    empty = alice.post(url, {"text": "  "}, **HX).content.decode()
    assert "text: This field is required." in empty

    lead = Client()
    lead.force_login(safety_lead)
    page = lead.get(reverse("adjudication:item", args=[item.pk])).content.decode()
    assert "Category looks off to me" in page
    lead.post(reverse("adjudication:comment", args=[item.pk]), {"text": "Agreed, moving it"})
    assert list(ItemComment.objects.values_list("text", flat=True)) == [
        "Category looks off to me",
        "Agreed, moving it",
    ]
    reveal = alice.get(reverse("review:reveal", args=[item.pk])).content.decode()
    assert "Agreed, moving it" in reveal


def test_leads_only_at_the_adjudication_thread(client, reviewer):
    item = items_of(make_round(items=1))[0]
    client.force_login(reviewer)
    response = client.post(reverse("adjudication:comment", args=[item.pk]), {"text": "x"})
    assert response.status_code == 403
    assert not ItemComment.objects.exists()
