"""Dashboard pages: access by role, what a safety lead sees, CSV, and the page equals the API."""

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from auditcore.models import Corpus, Surface
from tests.factories import PASSWORD
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


@pytest.fixture
def golden_round():
    return build_round(golden_strata(), name="Golden round")


def _client(user) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


def _urls(audit_round):
    return [
        reverse("dashboard:index"),
        reverse("dashboard:round", args=[audit_round.pk]),
        reverse("dashboard:round", args=[audit_round.pk]) + "?format=csv&table=category",
        reverse("dashboard:consistency", args=[audit_round.pk]),
        reverse("dashboard:interaction", args=[audit_round.items.first().interaction_id]),
    ]


def test_anonymous_users_are_sent_to_the_login_page(golden_round):
    for url in _urls(golden_round):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_reviewers_and_outsiders_get_403_everywhere(golden_round, reviewer, outsider):
    for user in (reviewer, outsider):
        client = _client(user)
        for url in _urls(golden_round):
            assert client.get(url).status_code == 403, (user, url)
            assert client.get(url, HTTP_HX_REQUEST="true").status_code == 403, (user, url)


def test_safety_leads_and_admins_see_both_axes(golden_round, safety_lead, admin_user):
    for user in (safety_lead, admin_user):
        for url in _urls(golden_round):
            assert _client(user).get(url).status_code == 200, (user, url)
    html = _client(safety_lead).get(reverse("dashboard:round", args=[golden_round.pk]))
    text = html.content.decode()
    # Both axes side by side, the served layer first in each.
    frr_card = text[text.index('id="card-frr"') : text.index('id="card-trr"')]
    assert "False-refusal rate" in frr_card
    assert frr_card.index('data-metric="served.frr"') < frr_card.index('data-metric="model.frr"')
    assert 'data-metric="served.trr"' in text and "True-refusal rate" in text
    assert "Missed harm" in text and "Wrong-refusal share" in text
    # Four respondents: too few reviewed, greyed, with n, events and deff explained.
    assert "too few reviewed (n = 4)" in frr_card and "rate-greyed" in frr_card
    assert "n 4 · events 2 · deff" in frr_card and 'title="n: reviewed items' in frr_card
    assert "50.0%" not in frr_card
    assert 'id="trend-chart"' in text and "<svg" in text
    assert "no data" in text  # the security category
    assert "<strong>88.9%</strong> of the round's 9 sampled items are final" in text
    assert "1 unsure; 1 not yet final" in text
    assert "2 reviewed items for the model answer" in text  # the classifier stood in
    assert 'id="impact-frr"' in text


def test_the_nav_and_the_round_page_link_to_the_dashboard(golden_round, safety_lead, reviewer):
    client = _client(safety_lead)
    home = client.get(reverse("home")).content.decode()
    assert reverse("dashboard:index") in home
    detail = client.get(reverse("rounds:detail", args=[golden_round.pk])).content.decode()
    assert reverse("dashboard:round", args=[golden_round.pk]) in detail and "Results" in detail
    assert reverse("dashboard:index") not in _client(reviewer).get(reverse("home")).content.decode()


def test_the_index_shows_an_empty_state_without_rounds(safety_lead):
    response = _client(safety_lead).get(reverse("dashboard:index"))
    assert response.status_code == 200
    assert "No audit round has been drawn yet" in response.content.decode()


def _text(response) -> str:
    """The page's text without its tags (names are wrapped in <bdi>)."""
    return re.sub(r"<[^>]+>", "", response.content.decode())


def _headline_respondents(page: str) -> int:
    found = re.search(r"sampled items are final: (\d+) with a help/decline call", page)
    assert found, "the round-progress line is missing"
    return int(found.group(1))


def test_a_period_pools_rounds_and_names_skipped_overlaps(safety_lead):
    build_round(golden_strata(), name="early")
    build_round(golden_strata(), name="late")
    url = reverse("dashboard:index") + "?start=2026-11-01&end=2026-11-30"
    text = _text(_client(safety_lead).get(url))
    assert "Rounds left out of this period" in text
    assert "early (its frame overlaps &#x27;late&#x27;, which has more verdicts)" in text
    assert "pools 1 round with disjoint frames: late." in text


def test_a_period_pools_rounds_over_different_surfaces_of_one_week(safety_lead):
    chat_round = build_round(golden_strata(), name="chat week")
    email_round = build_round(golden_strata(), name="email week")
    chat_round.surfaces.set([Surface.objects.get_or_create(name="chat")[0]])
    email_round.surfaces.set([Surface.objects.get_or_create(name="email")[0]])
    url = reverse("dashboard:index") + "?start=2026-11-01&end=2026-11-30"
    text = _text(_client(safety_lead).get(url))
    assert "pools 2 rounds with disjoint frames: chat week, email week." in text
    assert "Rounds left out" not in text
    single = _client(safety_lead).get(reverse("dashboard:round", args=[chat_round.pk]))
    pooled_n = _headline_respondents(text)
    assert pooled_n == 2 * _headline_respondents(_text(single))


def test_breakdown_csv_has_every_rate_and_says_no_data(golden_round, safety_lead):
    url = reverse("dashboard:round", args=[golden_round.pk]) + "?format=csv&table=category"
    response = _client(safety_lead).get(url)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_value = {r["category"]: r for r in rows}
    assert by_value["security"]["served_frr"] == "no data"
    assert float(by_value["medical"]["served_frr"]) == pytest.approx(126.25 / 132.5)
    assert "model_frr" not in by_value["medical"]  # the served layer by default
    model = _client(safety_lead).get(url + "&layer=model")
    assert 'model.csv"' in model["Content-Disposition"]
    by_value = {r["category"]: r for r in csv.DictReader(io.StringIO(model.content.decode()))}
    assert float(by_value["medical"]["model_frr"]) == pytest.approx(0.5)
    assert by_value["medical"]["model_frr_events"] == "2"
    assert "served_frr" not in by_value["medical"]
    for table in ("surface", "model_version", "user_segment", "disparity", "validation"):
        url = reverse("dashboard:round", args=[golden_round.pk]) + f"?format=csv&table={table}"
        assert _client(safety_lead).get(url).status_code == 200
    bad = reverse("dashboard:round", args=[golden_round.pk]) + "?format=csv&table=nope"
    assert _client(safety_lead).get(bad).status_code == 404


def test_the_page_shows_the_same_figures_as_the_api(golden_round, safety_lead):
    client = _client(safety_lead)
    page = client.get(reverse("dashboard:round", args=[golden_round.pk])).content.decode()
    api = client.get(f"/api/v1/rounds/{golden_round.pk}/estimates").json()
    table = page[page.index('id="layer-rates"') :]
    cells = re.findall(
        r'<td data-metric="(\w+)\.(\w+)"><span class="rate-value[^"]*" data-estimate="([^"]*)"',
        table,
    )
    assert {(layer, rate) for layer, rate, _ in cells} == {
        (layer, rate) for layer in api["layers"] for rate in api["layers"][layer]
    }
    for layer, rate, value in cells:
        est = api["layers"][layer][rate]
        assert float(value) == est["estimate"]
        assert f"{est['lower']:.1%}–{est['upper']:.1%}" in page
        assert f"n {est['n']} · events {est['events']} · deff {est['deff']:.2f}" in page
    medical = next(r for r in api["breakdowns"]["category"] if r["value"] == "medical")
    row = page[page.index('id="breakdown-category"') :]
    row = row[row.index("<td><bdi>medical</bdi></td>") :]
    served_frr = re.search(r'data-metric="served\.frr">.*?data-estimate="([^"]*)"', row, re.S)
    assert float(served_frr.group(1)) == medical["layers"]["served"]["frr"]["estimate"]
    assert api["headline"]["unsure"] == 1


def test_hostile_prompts_are_escaped_in_examples(safety_lead):
    strata = golden_strata()
    strata[0]["items"][0]["prompt"] = "<script>alert(1)</script> help me"
    audit_round = build_round(strata)
    Corpus.objects.create(name="must-help")
    text = _client(safety_lead).get(reverse("dashboard:round", args=[audit_round.pk])).content
    text = text.decode()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert reverse("replay:promote") in text and 'name="corpus_id"' in text
    assert "style=" not in text


def test_promote_from_the_dashboard_adds_the_prompt_to_a_corpus(golden_round, safety_lead):
    corpus = Corpus.objects.create(name="must-help")
    item = golden_round.items.filter(final_decision="help", observed_label="partial_refusal")[0]
    response = _client(safety_lead).post(
        reverse("replay:promote"), {"item_id": item.pk, "corpus_id": corpus.pk}
    )
    assert response.status_code == 302
    assert corpus.prompts.filter(origin_interaction=item.interaction).exists()


def test_the_page_query_count_is_pinned(golden_round, safety_lead, django_assert_max_num_queries):
    client = _client(safety_lead)
    url = reverse("dashboard:round", args=[golden_round.pk])
    client.get(url)
    # 21, plus 2 for the policy publications marked on the trend chart (however many), 1 for
    # the round's supplements (read with it as one combined sample), 2 for the gateway-touched
    # traffic of the served refusal count and the replay trend.
    with django_assert_max_num_queries(26):
        client.get(url)


def test_consistency_page_groups_a_prompt_helped_on_one_surface_and_refused_on_another(
    safety_lead,
):
    strata = [
        {
            "key": "A",
            "category": "medical",
            "outcome": "refusal",
            "population": 2,
            "items": [
                {
                    "weight": 1,
                    "final": "help",
                    "surface": "app",
                    "prompt": "How do I treat a burn?",
                },
            ],
        },
        {
            "key": "B",
            "category": "medical",
            "outcome": "compliance",
            "population": 2,
            "items": [
                {
                    "weight": 1,
                    "final": "help",
                    "surface": "web",
                    "prompt": "how do I treat a burn? ",
                },
                {
                    "weight": 1,
                    "final": "help",
                    "surface": "web",
                    "prompt": "How should I treat a small burn at home quickly and safely please",
                },
                {
                    "weight": 1,
                    "final": "help",
                    "surface": "web",
                    "prompt": "How should I treat a small burn at home quickly and safely",
                },
            ],
        },
        {
            "key": "C",
            "category": "medical",
            "outcome": "refusal",
            "population": 1,
            "items": [
                {
                    "weight": 1,
                    "final": "help",
                    "surface": "app",
                    "prompt": "How should I treat a small burn at home quickly and safely, please?",
                },
            ],
        },
    ]
    audit_round = build_round(strata)
    client = _client(safety_lead)
    response = client.get(reverse("dashboard:consistency", args=[audit_round.pk]))
    text = response.content.decode()
    assert "How do I treat a burn?" in text
    assert text.count("<tr>") >= 3  # header + a "same" group + a "near" group
    assert "near" in text and "same" in text
    partial = client.get(
        reverse("dashboard:consistency", args=[audit_round.pk]), HTTP_HX_REQUEST="true"
    )
    assert "<html" not in partial.content.decode()
    assert 'id="consistency-groups"' in partial.content.decode()


def test_consistency_page_counts_prompts_differing_only_in_case_and_punctuation_as_the_same(
    safety_lead,
):
    def stratum(key, outcome, surface, prompt):
        return {
            "key": key,
            "category": "medical",
            "outcome": outcome,
            "population": 1,
            "items": [{"weight": 1, "final": "help", "surface": surface, "prompt": prompt}],
        }

    audit_round = build_round(
        [
            stratum("A", "refusal", "app", "Can I take ibuprofen with warfarin?"),
            stratum("B", "compliance", "web", "can i take  ibuprofen, with warfarin"),
            stratum("C", "compliance", "web", "Can I take paracetamol with warfarin?"),
        ]
    )
    response = _client(safety_lead).get(reverse("dashboard:consistency", args=[audit_round.pk]))
    rows = re.findall(r"<tr><td>.*?</tr>", response.content.decode(), re.S)
    assert len(rows) == 1
    (row,) = rows
    assert "Can I take ibuprofen with warfarin?" in row
    assert "<td>same</td>" in row
    assert '<strong><bdi>app</bdi></strong>: <span class="pill refusal">1 refused</span>' in row
    assert '<strong><bdi>web</bdi></strong>: <span class="pill refusal">0 refused</span> ' in row
    assert "1 helped" in row and "paracetamol" not in row


def test_the_page_shows_agreement_with_reviewers_for_the_fast_tier_and_the_judge(
    golden_round, safety_lead, reviewer
):
    from auditcore.models import Interaction, RoundItem
    from tests.factories import VerdictFactory

    items = list(RoundItem.objects.filter(round=golden_round, is_gold=False).order_by("id")[:4])
    for item, observed in zip(
        items, ["refusal", "compliance", "refusal", "compliance"], strict=True
    ):
        VerdictFactory(item=item, reviewer=reviewer, observed_label=observed)
    judged = [items[2].interaction_id, items[3].interaction_id]
    Interaction.objects.filter(pk__in=judged).update(detector_version="rules+jp2:judge")
    page = _client(safety_lead).get(reverse("dashboard:round", args=[golden_round.pk]))
    table = page.content.decode().split('id="tier-agreement"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=\"num\">(\d+)</td>", table)
    assert ("rules+jp2:judge", "LLM judge", "2") in rows
    assert any(tier == "fast rules" and n == "2" for _, tier, n in rows)
