"""A reviewer sees only items leased to them or judged by them, on every path and error path.

Every reviewer endpoint that takes an item id (HTML pages, HTMX partials, the API) is walked with
the id of an item another reviewer holds, of a finished item never offered to this reviewer, and
of a pending item never offered to anyone; none of them may show anything of that item.
"""

import pytest
from django.urls import reverse

from auditcore.models import Lease, RoundItem, Verdict
from auditcore.services import review as svc
from tests.support.review_round import MARKER, items_of, make_round

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}

VERDICT_BODIES = {
    "invalid decision": {"decision": "bogus"},
    "missing reason code": {"decision": "decline"},
    "unknown reason code": {"decision": "help", "reason_code": "nope"},
    "valid": {"decision": "help", "reason_code": "general_info"},
}


def _walk(item_id):
    """(label, method, url, data, extra) for every reviewer request that names an item."""
    for htmx in (False, True):
        extra = HX if htmx else {}
        kind = "htmx" if htmx else "html"
        for label, body in VERDICT_BODIES.items():
            yield (
                f"{kind} verdict ({label})",
                "post",
                reverse("review:submit", args=[item_id]),
                body,
                extra,
            )
        yield f"{kind} reveal", "get", reverse("review:reveal", args=[item_id]), None, extra
        for label in ("refusal", "bogus"):
            yield (
                f"{kind} observed ({label})",
                "post",
                reverse("review:observe", args=[item_id]),
                {"observed_label": label},
                extra,
            )
        yield f"{kind} skip", "post", reverse("review:skip", args=[item_id]), {}, extra
        yield f"{kind} renew", "post", reverse("review:renew", args=[item_id]), {}, extra
    for label, body in VERDICT_BODIES.items():
        yield (
            f"api verdict ({label})",
            "post",
            reverse("api:review_verdict", args=[item_id]),
            body,
            {"content_type": "application/json"},
        )
    yield "api reveal", "get", reverse("api:review_reveal", args=[item_id]), None, {}
    yield (
        "api observed",
        "post",
        reverse("api:review_observed", args=[item_id]),
        {"observed_label": "refusal"},
        {"content_type": "application/json"},
    )


@pytest.fixture
def foreign_items(reviewer, second_reviewer):
    """Alice (reviewer) holds her own item; the three others are not hers in three ways."""
    finished = items_of(make_round(items=1, prompt="Finished private question ZZDONE{i}x"))[0]
    svc.lease_take_next(reviewer=second_reviewer)
    svc.verdict_submit(
        reviewer=second_reviewer,
        item_id=finished.pk,
        decision="help",
        reason_code="general_info",
    )
    assert RoundItem.objects.get(pk=finished.pk).status == RoundItem.Status.DONE
    items = items_of(make_round(items=4, prompt="Open private question ZZOPEN{i}x"))
    assert svc.lease_take_next(reviewer=second_reviewer).item_id == items[0].pk
    assert svc.lease_take_next(reviewer=reviewer).item_id == items[1].pk
    return {
        "leased to another reviewer": (items[0], "ZZOPEN0x"),
        "finished, never offered": (finished, "ZZDONE0x"),
        "pending, never offered": (items[3], "ZZOPEN3x"),
    }


@pytest.mark.parametrize(
    "case", ["leased to another reviewer", "finished, never offered", "pending, never offered"]
)
def test_no_reviewer_endpoint_shows_an_item_that_is_not_theirs(
    client, reviewer, foreign_items, case
):
    item, secret = foreign_items[case]
    client.force_login(reviewer)
    seen = []
    for label, method, url, data, extra in _walk(item.pk):
        if method == "get":
            response = client.get(url, **extra)
        elif extra.get("content_type") == "application/json":
            response = client.post(url, data, **extra)
        else:
            response = client.post(url, data, **extra)
        body = response.content.decode()
        assert response.status_code < 500, label
        if secret in body or MARKER in body:
            seen.append(f"{label}: {response.status_code}")
    assert seen == []
    assert not Verdict.objects.filter(item=item, reviewer=reviewer).exists()
    assert not Lease.objects.filter(item=item, reviewer=reviewer).exists()


def test_the_reviewer_still_sees_and_fixes_their_own_item_after_a_mistake(client, reviewer):
    item = items_of(make_round(items=1, prompt="My own question ZZMINE{i}x"))[0]
    client.force_login(reviewer)
    client.get(reverse("review:queue"))
    html = client.post(
        reverse("review:submit", args=[item.pk]), {"decision": "bogus"}, **HX
    ).content.decode()
    assert "ZZMINE0x" in html
    assert "decision: must be one of" in html
