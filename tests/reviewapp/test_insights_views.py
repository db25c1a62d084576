"""The policy insights page, its draft button and its API, on traffic with a planted trigger."""

import re

import pytest
from django.test import Client

from auditcore.models import PolicyVersion
from tests.factories import PASSWORD
from tests.support.insights_data import give_reason, planted_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted():
    return planted_round()


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


def _terms(html: str, category: str) -> list[str]:
    block = html.split(f'id="triggers-{category}"', 1)[1].split('class="trigger-category"', 1)[0]
    return re.findall(r'<tr class="trigger-term" data-term="([^"]+)"', block)


def test_only_safety_leads_and_admins_see_insights(planted, reviewer, outsider, admin_user):
    for url in ("/insights/", "/api/v1/insights/trigger-words", "/api/v1/insights/costs"):
        assert _client().get(url).status_code in (302, 401, 403)
        assert _client(reviewer).get(url).status_code == 403
        assert _client(outsider).get(url).status_code == 403
        assert _client(admin_user).get(url).status_code == 200
    assert _client(reviewer).post("/insights/draft", {"category": "coding"}).status_code == 403


def test_the_page_ranks_the_planted_trigger_first_and_hides_an_evenly_spread_word(
    planted, safety_lead
):
    response = _client(safety_lead).get(f"/insights/?round={planted.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    terms = _terms(html, "coding")
    assert terms[0] == "kill"
    assert "python" not in terms
    # Example links open the interaction.
    block = html.split('data-term="kill"', 1)[1].split("</tr>", 1)[0]
    assert len(re.findall(r'href="/dashboard/interactions/\d+"', block)) == 3


def test_the_dashboard_and_the_policy_page_link_to_insights(planted, safety_lead):
    client = _client(safety_lead)
    assert f'href="/insights/?round={planted.pk}"' in client.get("/dashboard/").content.decode()
    assert 'href="/insights/"' in client.get("/policy/").content.decode()


def test_a_higher_minimum_count_hides_the_trigger(planted, safety_lead):
    html = _client(safety_lead).get(f"/insights/?round={planted.pk}&min_count=31").content
    assert _terms(html.decode(), "coding") == []


def test_bad_parameters_name_the_field(planted, safety_lead):
    response = _client(safety_lead).get("/insights/?start=2026-11-02&min_count=0")
    assert response.status_code == 400
    html = response.content.decode()
    assert "end: a period needs both a start and an end" in html
    assert "min_count:" in html
    missing = _client(safety_lead).get("/api/v1/insights/costs?round=987654")
    assert missing.status_code == 400
    assert missing.json()["message"] == "round: no drawn round has this id"
    page = _client(safety_lead).get("/insights/?round=987654")
    assert page.status_code == 400
    assert "round: no drawn round has this id" in page.content.decode()
    api = _client(safety_lead).get("/api/v1/insights/trigger-words?layer=user")
    assert api.status_code == 400
    assert "layer" in api.json()["extra"]["fields"]
    assert api.json()["message"].startswith("layer:")


def test_the_api_lists_the_same_trigger_words(planted, safety_lead):
    url = f"/api/v1/insights/trigger-words?round={planted.pk}&category=coding"
    data = _client(safety_lead).get(url).json()
    assert [c["category"] for c in data["categories"]] == ["coding"]
    terms = data["categories"][0]["terms"]
    assert terms[0]["term"] == "kill"
    assert terms[0]["refused_prompts"] == 30
    assert terms[0]["z"] > 1.96
    assert terms[0]["examples"][0]["url"].startswith("/dashboard/interactions/")
    assert "python" not in [t["term"] for t in terms]
    period = "/api/v1/insights/trigger-words?start=2026-11-01&end=2026-11-30&layer=model"
    data = _client(safety_lead).get(period).json()
    assert [r["name"] for r in data["scope"]["rounds"]] == [planted.name]
    assert data["layer"] == "model"
    coding = next(c for c in data["categories"] if c["category"] == "coding")
    assert coding["terms"][0]["term"] == "kill"


def test_top_places_show_cost_policy_text_flags_and_triggers(planted, safety_lead):
    give_reason(planted, safety_lead, "medical", "general_info")
    html = _client(safety_lead).get(f"/insights/?round={planted.pk}").content.decode()
    top = html.split('id="top-places"', 1)[1].split('id="costs"', 1)[0]
    places = re.findall(r'class="card rewrite-place" id="place-([\w-]+)"', top)
    assert places == ["coding", "medical"]
    coding = top.split('id="place-coding"', 1)[1].split("</article>", 1)[0]
    assert "140" in coding  # estimated wrongly refused requests
    assert "Do not help with hacking" in coding
    assert 'data-code="bare_prohibition"' in coding
    assert "kill" in coding
    assert "Rewrite coding in a policy draft" in coding
    data = _client(safety_lead).get(f"/api/v1/insights/costs?round={planted.pk}").json()
    assert data["top"] == ["coding", "medical"]
    assert data["categories"][0]["wrongly_refused"]["estimate"] == pytest.approx(140)
    medical = data["categories"][1]
    assert medical["reasons"][0]["code"] == "general_info"
    assert medical["share"]["estimate"] == pytest.approx(30 / 170)


def test_the_button_opens_a_draft_at_the_category_and_reuses_it(planted, safety_lead):
    client = _client(safety_lead)
    response = client.post("/insights/draft", {"category": "coding"})
    draft = PolicyVersion.objects.get(status=PolicyVersion.Status.DRAFT)
    coding = draft.categories.get(slug="coding")
    assert response.status_code == 302
    assert response["Location"] == f"/policy/v/{draft.pk}/edit#category-{coding.pk}"
    again = client.post("/insights/draft", {"category": "coding"})
    assert again["Location"] == response["Location"]
    assert PolicyVersion.objects.filter(status=PolicyVersion.Status.DRAFT).count() == 1
    page = client.get(f"/policy/v/{draft.pk}/edit")
    assert f'id="category-{coding.pk}"' in page.content.decode()


def test_the_page_query_count_is_pinned(planted, safety_lead, django_assert_max_num_queries):
    client = _client(safety_lead)
    url = f"/insights/?round={planted.pk}"
    client.get(url)
    # Constant: none of these grows with the number of categories, terms or items (one reads
    # the round's supplements, estimated with it as one combined sample).
    with django_assert_max_num_queries(18):
        client.get(url)


def test_hostile_round_names_and_prompts_are_escaped(safety_lead):
    audit_round = planted_round(name="<script>alert(1)</script>\u202eevil")
    html = _client(safety_lead).get(f"/insights/?round={audit_round.pk}").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "⟨U+202E⟩" in html
    assert "\u202e" not in html.split("<body", 1)[1]
