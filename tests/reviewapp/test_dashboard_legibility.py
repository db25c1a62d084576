"""Dashboard legibility: estimates first with their flags as small explained badges, the round
the dashboard opens on, paginated consistency groups and the overall confusion matrix."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from auditcore.models import RoundItem, Verdict
from tests.factories import PASSWORD
from tests.support.dashboard_data import inconsistent_round, one_item_strata
from tests.support.estimate_rounds import DAY, build_round

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _card(html: str, key: str) -> str:
    start = html.index(f'id="card-{key}"')
    return html[start : html.index('class="card axis-card', start + 10)]


def _badges(fragment: str) -> list[tuple[str, str, str]]:
    """(title, visible text, screen-reader text) of each badge in the fragment."""
    return re.findall(
        r'<span class="badge badge-[\w-]+" title="([^"]*)">([^<]*)'
        r'<span class="visually-hidden">: ([^<]*)</span></span>',
        fragment,
    )


def test_flags_are_small_badges_after_the_estimate_explained_in_plain_words(safety_lead):
    audit_round = build_round(one_item_strata(12, refused=4), name="Flagged")
    html = _client(safety_lead).get(reverse("dashboard:round", args=[audit_round.pk])).text
    served = _card(html, "frr").split('data-metric="served.frr"', 1)[1].split("</div>", 1)[0]
    value = served.index('class="rate-value')
    assert "33.3%" in served[value : value + 80]  # the estimate itself, not "too few"
    badges = _badges(served)
    labels = [label for _, label, _ in badges]
    assert labels[:1] == ["few reviewed"] and "spread unknown" in labels
    assert served.index("rate-badges") > value  # after the estimate, never before it
    for title, label, spoken in badges:
        assert title == spoken  # the tooltip is also read out
        assert not re.search(r"\b(df|deff|n)\b", label)  # no jargon on the badge
    tips = {label: title for title, label, _ in badges}
    assert "n = 12" in tips["few reviewed"] and "Fewer than 30" in tips["few reviewed"]
    assert "degrees of freedom" in tips["spread unknown"]
    assert "⚠" not in html and "no df" not in html and "small n" not in html
    # The figures come first; notes on how they were made follow them.
    notes = html.index('id="figure-notes"')
    assert html.index('id="card-frr"') < notes < html.index('id="unobserved"')
    (fallback,) = _badges(html[notes : html.index("</div>", notes)])
    assert fallback[1] == "classifier stands in" and "classifier's label" in fallback[0]


def test_too_few_reviewed_stands_in_for_the_percentage_with_an_explanation(safety_lead):
    audit_round = build_round(one_item_strata(4, refused=2), name="Tiny")
    html = _client(safety_lead).get(reverse("dashboard:round", args=[audit_round.pk])).text
    served = _card(html, "frr").split('data-metric="served.frr"', 1)[1].split("</div>", 1)[0]
    assert re.search(r'title="Only 4 reviewed items with 2 events[^"]*">too few reviewed', served)
    labels = [label for _, label, _ in _badges(served)]
    assert "few reviewed" not in labels  # said once, in place of the percentage
    assert "spread unknown" in labels


def _pending(n: int) -> list[dict]:
    return [
        {"key": "P", "category": "medical", "outcome": "refusal", "population": 9,
         "items": [{"weight": 3, "final": ""} for _ in range(n)]}
    ]  # fmt: skip


def test_the_dashboard_opens_on_the_latest_round_with_reviews_and_links_the_others(safety_lead):
    reviewed = build_round(one_item_strata(3, refused=1), name="November <reviewed>", day=DAY)
    newer = build_round(_pending(3), name="December draft", day=DAY + dt.timedelta(days=30))
    html = _client(safety_lead).get(reverse("dashboard:index")).text
    assert "Results: <bdi>November &lt;reviewed&gt;</bdi>" in html
    opened = html.split('id="opened-on"', 1)[1].split("</p>", 1)[0]
    assert "November &lt;reviewed&gt;" in opened and "the most recent round with reviews" in opened
    links = html.split('class="round-links"', 1)[1].split("</nav>", 1)[0]
    assert reverse("dashboard:round", args=[newer.pk]) in links
    assert f'href="{reverse("dashboard:round", args=[reviewed.pk])}" aria-current="page"' in links
    # A round asked for by its URL says nothing about how it was chosen.
    page = _client(safety_lead).get(reverse("dashboard:round", args=[newer.pk])).text
    assert "Results: <bdi>December draft</bdi>" in page and 'id="opened-on"' not in page


def test_without_any_review_the_dashboard_opens_on_the_newest_round_and_says_so(safety_lead):
    build_round(_pending(2), name="Older", day=DAY)
    build_round(_pending(2), name="Newest", day=DAY + dt.timedelta(days=7))
    html = _client(safety_lead).get(reverse("dashboard:index")).text
    opened = html.split('id="opened-on"', 1)[1].split("</p>", 1)[0]
    assert "Newest" in opened and "no round has a reviewed item yet" in opened


def test_consistency_groups_come_twenty_to_a_page_with_the_total(safety_lead):
    audit_round = inconsistent_round(45)
    client = _client(safety_lead)
    url = reverse("dashboard:consistency", args=[audit_round.pk])
    first = client.get(url + "?layer=model").text
    assert len(re.findall(r"<tr><td>", first)) == 20
    count = first.split('id="consistency-count"', 1)[1].split("</p>", 1)[0]
    assert "<strong>45</strong> groups" in count and "page 1 of 3" in count
    pager = first.split('aria-label="Pages of consistency groups"', 1)[1].split("</nav>", 1)[0]
    assert "Previous" not in pager
    next_href = re.search(r'href="([^"]+)" rel="next" hx-get="([^"]+)"', pager)
    assert next_href[1] == next_href[2] == f"{url}?layer=model&amp;cpage=2"
    # The last page through htmx: the fragment alone, the last five groups, a way back.
    last = client.get(url, {"layer": "model", "cpage": 3}, HTTP_HX_REQUEST="true").text
    assert "<html" not in last and last.lstrip().startswith('<div id="consistency-groups">')
    assert len(re.findall(r"<tr><td>", last)) == 5
    assert "showing 41–45, page 3 of 3" in last
    assert 'rel="prev"' in last and 'rel="next"' not in last
    pages = first + client.get(url, {"layer": "model", "cpage": 2}).text + last
    shown = re.findall(r"<summary><bdi>q(\d+)w0", pages, re.I)
    assert len(shown) == len(set(shown)) == 45  # every group on exactly one of the pages
    # A page number that is no number, or past the end, shows a page rather than an error.
    assert "page 1 of 3" in client.get(url + "?cpage=x").text
    assert "page 3 of 3" in client.get(url + "?cpage=99").text


def test_a_few_consistency_groups_need_no_pager(safety_lead):
    audit_round = inconsistent_round(3)
    page = _client(safety_lead).get(reverse("dashboard:consistency", args=[audit_round.pk])).text
    assert "<strong>3</strong> groups" in page and "Pages of consistency groups" not in page


def test_classifier_validation_shows_one_confusion_matrix_over_all_categories(
    safety_lead, reviewer
):
    def stratum(key: str, category: str, outcome: str, n: int) -> dict:
        return {"key": key, "category": category, "outcome": outcome, "population": n,
                "items": [{"weight": 1, "final": "help"} for _ in range(n)]}  # fmt: skip

    audit_round = build_round(
        [stratum("M", "medical", "refusal", 4), stratum("L", "legal", "compliance", 3)]
    )
    seen = {"medical": ["refusal", "refusal", "compliance", "partial_refusal"],
            "legal": ["compliance", "compliance", "refusal"]}  # fmt: skip
    for category, labels in seen.items():
        items = RoundItem.objects.filter(round=audit_round, interaction__category=category)
        for item, observed in zip(items.order_by("id"), labels, strict=True):
            Verdict.objects.create(
                item=item, reviewer=reviewer, decision="help", policy_version=item.policy_version,
                locked_at=timezone.now(), observed_label=observed,
            )  # fmt: skip
    html = _client(safety_lead).get(reverse("dashboard:round", args=[audit_round.pk])).text
    matrix = html.split('id="confusion-matrix"', 1)[1].split("</table>", 1)[0]
    header = re.findall(r'<th scope="col" class="num"><span class="pill \w+">([^<]+)<', matrix)
    assert header == ["Complied", "Refused", "Partially refused"]
    rows = dict(re.findall(r'<tr data-observed="(\w+)">.*?((?:<td[^>]*>\d+</td>)+)</tr>', matrix))
    cells = {k: [int(n) for n in re.findall(r">(\d+)<", v)] for k, v in rows.items()}
    # Reviewers saw (rows) against the classifier (columns), both categories added up; the
    # last number is the row's total.
    assert cells == {
        "compliance": [2, 1, 0, 3],
        "refusal": [1, 2, 0, 3],
        "partial_refusal": [0, 1, 0, 1],
    }
    assert "7 observations" in matrix and "57.1%" in matrix
    metrics = html.split('id="confusion-metrics"', 1)[1].split("</table>", 1)[0]
    per_class = re.findall(
        r'<tr data-class="(\w+)"><th scope="row">[^<]+</th>'
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td>',
        metrics,
    )
    assert per_class == [
        ("compliance", "66.7%", "66.7%"),
        ("refusal", "50.0%", "66.7%"),
        ("partial_refusal", "—", "0.0%"),  # never predicted: no precision to give
    ]
    # The per-stratum view stays beside it.
    assert html.index('id="confusion-matrix"') < html.index('id="validation"')
    assert len(re.findall(r"<tr(?: class=\"flagged\")?><td><bdi>(?:medical|legal)", html)) >= 2


def test_without_observations_the_confusion_matrix_says_no_data(safety_lead):
    audit_round = build_round(one_item_strata(3, refused=1))
    html = _client(safety_lead).get(reverse("dashboard:round", args=[audit_round.pk])).text
    section = html.split('id="confusion"', 1)[1].split("<h3>Per stratum</h3>", 1)[0]
    assert "no data" in section and 'id="confusion-matrix"' not in section
