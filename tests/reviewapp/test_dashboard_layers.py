"""The dashboard's layer switch: what users were served by default, the model layer on request.

A compliant answer the gateway blocked is a false refusal users met: it must show in the served
tables, the confirmed list, the refusal count and, promoted, the corpus as the gateway's doing.
"""

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from auditcore.models import AuditEvent, Corpus, RoundItem
from tests.factories import PASSWORD
from tests.support.estimate_rounds import build_round

pytestmark = pytest.mark.django_db

BLOCKED_PROMPT = "How do I read the cholesterol numbers on my blood test?"


@pytest.fixture
def blocked_round():
    """One surface; the gateway blocked one compliant answer to a should-help prompt."""
    helped = {
        "weight": 2,
        "final": "help",
        "surface": "support-chat",
        "observed": "compliance",
    }
    return build_round(
        [
            {
                "key": "A",
                "category": "medical",
                "outcome": "compliance",
                "population": 10,
                "items": [
                    {
                        "weight": 2,
                        "final": "help",
                        "surface": "support-chat",
                        "prompt": BLOCKED_PROMPT,
                        "served": "refusal",
                        "gateway": "blocked",
                        "observed": "compliance",
                        "observed_served": "refusal",
                    },
                    *[dict(helped) for _ in range(4)],
                ],
            }
        ],
        name="Blocked round",
    )


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _section(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start : page.index("</table>", start)]


def _surface_cell(page: str, metric: str) -> str:
    table = _section(page, 'id="breakdown-surface"')
    row = table[table.index("<td><bdi>support-chat</bdi></td>") :]
    found = re.search(rf'data-metric="{re.escape(metric)}">(.*?)</td>', row, re.S)
    assert found, metric
    return found.group(1)


def test_a_gateway_blocked_compliant_answer_shows_in_the_served_tables_list_and_corpus(
    blocked_round, safety_lead
):
    client = _client(safety_lead)
    url = reverse("dashboard:round", args=[blocked_round.pk])
    page = client.get(url).content.decode()
    # Served by default: the surface's false refusal is there, and it is the gateway's.
    assert 'data-layer="served"' in _section(page, 'id="breakdown-surface"')
    assert "events 1" in _surface_cell(page, "served.frr")
    assert "events 1" in _surface_cell(page, "gateway_added")
    examples = _section(page, 'id="examples"')
    assert BLOCKED_PROMPT in examples and "the gateway (the model complied)" in examples
    # At the model layer the model never refused: no false refusal, no example.
    model_page = client.get(url + "?layer=model").content.decode()
    assert "events 0" in _surface_cell(model_page, "model.frr")
    assert 'data-metric="served.frr"' not in _section(model_page, 'id="breakdown-surface"')
    assert BLOCKED_PROMPT not in model_page
    # The CSV follows the same switch.
    rows = csv.DictReader(
        io.StringIO(client.get(url + "?format=csv&table=surface").content.decode())
    )
    row = next(r for r in rows if r["surface"] == "support-chat")
    assert row["served_frr_events"] == "1" and row["gateway_added_events"] == "1"
    assert float(row["gateway_added"]) == pytest.approx(0.2)
    # Promoted from the confirmed list, it enters the corpus as the gateway's refusal.
    corpus = Corpus.objects.create(name="must-help")
    item = RoundItem.objects.get(round=blocked_round, interaction__prompt=BLOCKED_PROMPT)
    response = client.post(reverse("replay:promote"), {"item_id": item.pk, "corpus_id": corpus.pk})
    assert response.status_code == 302
    prompt = corpus.prompts.get()
    assert prompt.prompt == BLOCKED_PROMPT and prompt.origin_cause == "gateway"
    corpus_page = client.get(reverse("replay:corpus", args=[corpus.pk])).content.decode()
    assert "Must help at the system level" in corpus_page
    event = AuditEvent.objects.filter(action="corpus.prompt_add").latest("pk")
    assert event.after["origin_cause"] == "gateway"


def test_the_layer_switch_is_a_link_that_keeps_the_other_parameters(blocked_round, safety_lead):
    client = _client(safety_lead)
    url = reverse("dashboard:round", args=[blocked_round.pk])
    page = client.get(url + "?trend=week").content.decode()
    switch = page[
        page.index('id="layer-switch"') : page.index("</nav>", page.index("layer-switch"))
    ]
    assert 'aria-current="page">served to users' in switch
    assert f'href="{url}?trend=week&amp;layer=model"' in switch
    model = client.get(url + "?trend=week&layer=model").content.decode()
    # CSV downloads and the trend's own links stay at the chosen layer.
    assert f'href="{url}?trend=week&amp;format=csv&amp;table=surface&amp;layer=model"' in model
    assert f'href="{url}?layer=model&amp;trend=round"' in model
    bad = client.get(url + "?layer=everything")
    assert bad.status_code == 400 and b"layer" in bad.content


def test_the_refusal_count_follows_the_layer(blocked_round, safety_lead):
    client = _client(safety_lead)
    url = reverse("dashboard:round", args=[blocked_round.pk])
    served = client.get(url).content.decode()
    count = served[
        served.index('id="refusal-count"') : served.index("</p>", served.index("refusal-count"))
    ]
    # Ten interactions in scope, none refused by the model, one blocked by the gateway.
    assert '<strong class="big">10.0%</strong> of 10 interactions refused as served' in count
    model = client.get(url + "?layer=model").content.decode()
    count = model[
        model.index('id="refusal-count"') : model.index("</p>", model.index("refusal-count"))
    ]
    assert '<strong class="big">0.0%</strong> of 10 interactions refused by the model' in count


def test_the_interaction_page_of_a_blocked_item_states_both_layers(blocked_round, safety_lead):
    item = RoundItem.objects.get(round=blocked_round, interaction__prompt=BLOCKED_PROMPT)
    url = reverse("dashboard:interaction", args=[item.interaction_id])
    page = _client(safety_lead).get(url).content.decode()
    assert "unchanged" not in page
    assert 'The model answered <span class="pill compliance">' in page
    assert 'Users were served <span class="pill refusal">' in page
    assert "The gateway blocked the model's response" in page
    assert 'id="gateway-added"' in page
    assert "the model complied; users were served: refused" in page.lower()
    untouched = RoundItem.objects.filter(round=blocked_round).exclude(pk=item.pk).first()
    url = reverse("dashboard:interaction", args=[untouched.interaction_id])
    page = _client(safety_lead).get(url).content.decode()
    assert "The model's response, unchanged" in page and 'id="gateway-added"' not in page


def test_the_adjudication_page_offers_a_gateway_refusal_for_promotion(blocked_round, safety_lead):
    Corpus.objects.create(name="must-help")
    item = RoundItem.objects.get(round=blocked_round, interaction__prompt=BLOCKED_PROMPT)
    page = _client(safety_lead).get(reverse("adjudication:item", args=[item.pk])).content.decode()
    assert 'id="promote"' in page and "added by the gateway" in page
    helped = RoundItem.objects.filter(round=blocked_round).exclude(pk=item.pk).first()
    page = _client(safety_lead).get(reverse("adjudication:item", args=[helped.pk])).content.decode()
    assert 'id="promote"' not in page


def test_cross_surface_consistency_follows_the_layer(safety_lead):
    same = "Can you explain my electricity bill?"
    answered = {"weight": 1, "final": "help", "prompt": same, "observed": "compliance"}
    audit_round = build_round(
        [
            {
                "key": "A",
                "category": "general",
                "outcome": "compliance",
                "population": 2,
                "items": [
                    {**answered, "surface": "web"},
                    {**answered, "surface": "app", "served": "refusal", "gateway": "blocked"},
                ],
            }
        ]
    )
    client = _client(safety_lead)
    url = reverse("dashboard:consistency", args=[audit_round.pk])
    served = client.get(url).content.decode()
    assert same in _section(served, 'id="consistency"')
    model = client.get(url + "?layer=model").content.decode()
    assert same not in _section(model, 'id="consistency"')
    dashboard = client.get(reverse("dashboard:round", args=[audit_round.pk]) + "?layer=model")
    assert f"{url}?layer=model" in dashboard.content.decode()


def test_the_api_gives_the_figures_at_the_layer_asked_for(blocked_round, safety_lead):
    client = _client(safety_lead)
    url = f"/api/v1/rounds/{blocked_round.pk}/estimates"
    served = client.get(url).json()
    model = client.get(url + "?layer=model").json()
    assert (served["layer"], model["layer"]) == ("served", "model")
    assert served["headline"]["population"]["refused"] == 1
    assert model["headline"]["population"]["refused"] == 0
    bad = client.get(url + "?layer=both")
    assert bad.status_code == 400 and "layer" in bad.content.decode()
