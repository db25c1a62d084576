"""Blinding is enforced by the server: nothing of what the model did reaches a reviewer early.

The walk covers every URL pattern in reviewapp.urls (found programmatically, so pages added later
are covered too), with GET and an empty POST, as a full page and as an HTMX partial, with every
id the reviewer could guess. Every field of what the model did carries a marker string.
"""

import itertools
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from auditcore.models import Verdict
from auditcore.selectors.review import review_item_payload
from auditcore.services import review as svc
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db

# Routes the walk must not follow as the reviewer (they end the session).
SKIP_NAMES = {"logout"}
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _patterns(resolver=None, prefix=""):
    """(route template, name) for every URL pattern, following includes."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, entry.name


def _concrete(route: str, value: str) -> str:
    path = PARAM.sub(value, route)
    path = REGEX_GROUP.sub(value, path)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + path.lstrip("/")


def _paths(values: list[str]) -> list[str]:
    paths = set()
    for route, name in _patterns():
        if name in SKIP_NAMES:
            continue
        if PARAM.search(route) or REGEX_GROUP.search(route):
            for value in values:
                paths.add(_concrete(route, value))
        else:
            paths.add(_concrete(route, ""))
    return sorted(paths)


@pytest.fixture
def world(reviewer, second_reviewer):
    """A round whose items carry the marker; anna already judged one item alice holds."""
    audit_round = make_round(items=3, required_reviews=2)
    items = items_of(audit_round)
    offered_verdict(
        reviewer=second_reviewer,
        item_id=items[0].pk,
        decision="decline",
        reason_code="personal_dosing",
        note=f"anna's note {MARKER}",
    )
    svc.verdict_observe(reviewer=second_reviewer, item_id=items[0].pk, observed_label="refusal")
    svc.lease_take_next(reviewer=reviewer)
    ids = {
        *(i.pk for i in items),
        *(i.interaction_id for i in items),
        audit_round.pk,
        *Verdict.objects.values_list("pk", flat=True),
    }
    return {"round": audit_round, "items": items, "ids": sorted(str(i) for i in ids)}


def test_the_walk_finds_the_review_pages():
    paths = _paths(["1"])
    for name in ("review:queue", "review:summary"):
        assert reverse(name) in paths
    assert reverse("review:submit", args=[1]) in paths
    assert reverse("review:renew", args=[1]) in paths


def test_no_url_a_reviewer_can_reach_shows_what_the_model_did_before_the_verdict(reviewer, world):
    client = Client(raise_request_exception=False)
    client.force_login(reviewer)
    paths = _paths([*world["ids"], "0"])
    assert len(paths) > 20
    checked = 0
    for path, method, headers in itertools.product(
        paths, ("get", "post"), ({}, {"HTTP_HX_REQUEST": "true"})
    ):
        response = getattr(client, method)(path, **headers)
        body = b"".join(response) if response.streaming else response.content
        text = body.decode(errors="replace")
        assert MARKER not in text, f"{method.upper()} {path} {headers} leaked the marker"
        checked += 1
    # The walk's empty POSTs lock nothing: alice has still no verdict.
    assert not Verdict.objects.filter(reviewer=reviewer).exists()
    assert checked == len(paths) * 4


def test_the_reveal_shows_the_response_once_the_verdict_is_locked(reviewer, world):
    # The positive control: the same walk would fail if the marker could be shown.
    client = Client()
    client.force_login(reviewer)
    item = world["items"][0]
    client.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "help", "reason_code": "general_info"},
    )
    html = client.get(reverse("review:reveal", args=[item.pk])).content.decode()
    assert f"{MARKER}-response-0" in html
    # The served text too: the reviewer records what the user got.
    assert f"{MARKER}-served-0" in html
    # Still nothing of the other reviewer's verdict or observation, or the detector.
    assert f"anna's note {MARKER}" not in html
    assert f"det-{MARKER}" not in html and f"model-{MARKER}" not in html
    # The served step (the model question answered) shows no more than that.
    client.post(reverse("review:observe", args=[item.pk]), {"observed_label": "compliance"})
    served = client.get(reverse("review:reveal", args=[item.pk]) + "?step=served")
    served = served.content.decode()
    assert "What was the user served?" in served
    assert f"anna's note {MARKER}" not in served and f"det-{MARKER}" not in served


def test_the_served_step_is_not_reachable_before_the_verdict(reviewer, world):
    client = Client()
    client.force_login(reviewer)
    item = world["items"][0]
    for url in (
        reverse("review:reveal", args=[item.pk]) + "?step=served",
        reverse("review:reveal", args=[item.pk]) + "?step=model",
    ):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, **headers)
            assert response.status_code == 404
            assert MARKER not in response.content.decode()
    response = client.post(
        reverse("review:observe", args=[item.pk]),
        {"observed_label": "compliance", "observed_served_label": "refusal"},
    )
    assert response.status_code == 404 and MARKER not in response.content.decode()
    assert not Verdict.objects.filter(reviewer=reviewer).exists()


def test_the_payload_selector_never_reads_the_models_fields(reviewer, world):
    item = world["items"][0]
    with CaptureQueriesContext(connection) as queries:
        payload = review_item_payload(item_id=item.pk, reviewer=reviewer)
    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    for column in (
        '"response"',
        '"served_response"',
        '"response_label"',
        '"served_label"',
        '"response_score"',
        '"category_score"',
        '"gateway_action"',
        '"detector_version"',
        '"model_version_id"',
        '"metadata"',
        "auditcore_verdict",
        "auditcore_modelversion",
    ):
        assert column not in sql, column
    assert MARKER not in repr(payload)
