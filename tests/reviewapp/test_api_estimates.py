"""GET /api/v1/rounds/{id}/estimates and friends: JSON for safety leads, 403 for reviewers."""

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


@pytest.fixture
def golden_round():
    return build_round(golden_strata(), name="Golden round")


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


def _urls(pk):
    return [
        f"/api/v1/rounds/{pk}/estimates",
        f"/api/v1/rounds/{pk}/estimates/consistency",
        "/api/v1/estimates?start=2026-11-01&end=2026-11-30",
        "/api/v1/estimates/trend",
    ]


def test_only_safety_leads_and_admins_read_estimates(
    golden_round, reviewer, outsider, safety_lead, admin_user
):
    for url in _urls(golden_round.pk):
        assert _client().get(url).status_code in (401, 403)
        assert _client(reviewer).get(url).status_code == 403
        assert _client(outsider).get(url).status_code == 403
        assert _client(safety_lead).get(url).status_code == 200
        assert _client(admin_user).get(url).status_code == 200


def test_round_estimates_json_has_the_hand_worked_figures(golden_round, safety_lead):
    # The arithmetic is in tests/auditcore/test_estimates.py.
    body = _client(safety_lead).get(f"/api/v1/rounds/{golden_round.pk}/estimates").json()
    assert list(body["layers"]) == ["served", "model"]
    for layer in body["layers"].values():
        assert list(layer) == ["frr", "trr", "partial_share", "wrong_refusal_share", "missed_harm"]
        for est in layer.values():
            assert {"estimate", "lower", "upper", "n", "events", "df", "deff", "flags"} <= set(est)
    frr = body["layers"]["model"]["frr"]
    assert frr["estimate"] == pytest.approx(0.5)
    assert frr["variance"] == pytest.approx(3561.875 / 132.5**2)
    assert (frr["n"], frr["events"], frr["df"]) == (4, 2, 2)
    assert frr["deff"] == pytest.approx(4 * 7278.125 / 132.5**2)
    assert "too_few" in frr["flags"] and frr["too_few"] is True
    assert frr["note"] == "too few reviewed (n = 4)"
    assert body["layers"]["served"]["frr"]["estimate"] == pytest.approx(126.25 / 132.5)
    assert body["layers"]["model"]["trr"]["estimate"] == 1.0
    assert body["headline"]["impact_frr"]["served"]["estimate"] == pytest.approx(306.25 / 312.5)
    assert body["headline"]["completed"] == pytest.approx(8 / 9)
    assert body["headline"]["unobserved_model"] == 2
    security = next(r for r in body["breakdowns"]["category"] if r["value"] == "security")
    assert security["layers"]["served"]["frr"]["estimate"] is None
    assert security["layers"]["served"]["frr"]["note"] == "no data"
    medical = next(r for r in body["breakdowns"]["category"] if r["value"] == "medical")
    assert medical["layers"]["model"]["frr"]["estimate"] == pytest.approx(0.5)
    assert set(medical["layers"]["served"]["trr"]) == set(frr)
    assert body["scope"]["rounds"] == [{"id": golden_round.pk, "name": "Golden round"}]
    assert body["headline"]["population"]["interactions"] == 101


def test_a_period_needs_valid_dates(safety_lead):
    response = _client(safety_lead).get("/api/v1/estimates?start=2026-12-01&end=2026-11-01")
    assert response.status_code == 400
    assert _client(safety_lead).get("/api/v1/estimates?start=bad").status_code == 400


def test_trend_lists_points_per_round_and_model(golden_round, safety_lead):
    body = _client(safety_lead).get("/api/v1/estimates/trend?granularity=round").json()
    assert [(p["period"], p["model_version"]) for p in body["points"]] == [("Golden round", "m1")]
    week = _client(safety_lead).get("/api/v1/estimates/trend?granularity=week").json()
    assert week["points"][0]["period"] == "2026-W45"


def test_an_unknown_or_draft_round_is_404(safety_lead):
    assert _client(safety_lead).get("/api/v1/rounds/999999/estimates").status_code == 404


def test_the_schema_documents_the_figures_each_estimates_endpoint_returns(client, safety_lead):
    client.force_login(safety_lead)
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def response_of(path):
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        return components[ref["schema"]["$ref"].rsplit("/", 1)[1]]

    for path in ("/api/v1/rounds/{id}/estimates", "/api/v1/estimates"):
        figures = response_of(path)["properties"]
        assert {"layers", "scope", "headline", "breakdowns", "disparity", "validation"} <= set(
            figures
        )
    rate = components["RateEstimateOutput"]["properties"]
    assert {"estimate", "lower", "upper", "n", "events", "df", "deff", "flags", "too_few"} <= set(
        rate
    )
    assert rate["estimate"]["nullable"] is True  # no data, never 0%
    assert "groups" in response_of("/api/v1/rounds/{id}/estimates/consistency")["properties"]
    assert "points" in response_of("/api/v1/estimates/trend")["properties"]
