"""Routes of the public API under /api/v1/, its OpenAPI schema and its documentation page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from reviewapp.api import estimates, exports, insights, policy, replay, review, rounds, traffic
from reviewapp.api.docs import ApiDocsView

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    path("v1/interactions", traffic.InteractionsApi.as_view(), name="interactions"),
    path(
        "v1/interactions/<int:pk>",
        traffic.InteractionDetailApi.as_view(),
        name="interaction",
    ),
    path("v1/ingest-jobs", traffic.IngestJobListApi.as_view(), name="ingest_jobs"),
    path("v1/ingest-jobs/<int:pk>", traffic.IngestJobDetailApi.as_view(), name="ingest_job"),
    path("v1/policy-versions", policy.PolicyVersionListApi.as_view(), name="policy_versions"),
    path(
        "v1/policy-versions/<int:pk>",
        policy.PolicyVersionDetailApi.as_view(),
        name="policy_version",
    ),
    path(
        "v1/policy-versions/<int:pk>/categories",
        policy.CategoryListApi.as_view(),
        name="policy_categories",
    ),
    path("v1/rounds", rounds.RoundListApi.as_view(), name="rounds"),
    path("v1/rounds/<int:pk>", rounds.RoundDetailApi.as_view(), name="round"),
    path("v1/rounds/<int:pk>/preview", rounds.RoundPreviewApi.as_view(), name="round_preview"),
    path("v1/rounds/<int:pk>/draw", rounds.RoundDrawApi.as_view(), name="round_draw"),
    path("v1/review/next", review.ReviewNextApi.as_view(), name="review_next"),
    path(
        "v1/review/items/<int:item_id>/verdict",
        review.VerdictSubmitApi.as_view(),
        name="review_verdict",
    ),
    path("v1/review/items/<int:item_id>/reveal", review.RevealApi.as_view(), name="review_reveal"),
    path(
        "v1/review/items/<int:item_id>/observed",
        review.ObservedApi.as_view(),
        name="review_observed",
    ),
    path("v1/adjudications", review.AdjudicationQueueApi.as_view(), name="adjudications"),
    path(
        "v1/adjudications/items/<int:item_id>",
        review.AdjudicationRecordApi.as_view(),
        name="adjudication_record",
    ),
    path("v1/corpora", replay.CorpusListApi.as_view(), name="corpora"),
    path("v1/corpora/<int:pk>", replay.CorpusDetailApi.as_view(), name="corpus"),
    path(
        "v1/corpora/<int:pk>/prompts",
        replay.CorpusPromptListApi.as_view(),
        name="corpus_prompts",
    ),
    path("v1/replay-runs", replay.ReplayRunListApi.as_view(), name="replay_runs"),
    path("v1/replay-runs/<int:pk>", replay.ReplayRunDetailApi.as_view(), name="replay_run"),
    path("v1/gate-decisions", replay.GateDecisionListApi.as_view(), name="gate_decisions"),
    path(
        "v1/gate-decisions/<int:pk>",
        replay.GateDecisionDetailApi.as_view(),
        name="gate_decision",
    ),
    path("v1/exports", exports.ExportsApi.as_view(), name="exports"),
    path("v1/exports/<int:pk>", exports.ExportDetailApi.as_view(), name="export"),
    path("v1/exports/<int:pk>/file", exports.ExportFileApi.as_view(), name="export_file"),
    # The dashboard's figures (issue 7): reviewapp/api/estimates.py.
    path(
        "v1/rounds/<int:pk>/estimates",
        estimates.RoundEstimatesApi.as_view(),
        name="round_estimates",
    ),
    path(
        "v1/rounds/<int:pk>/estimates/consistency",
        estimates.RoundConsistencyApi.as_view(),
        name="round_consistency",
    ),
    path("v1/estimates", estimates.PeriodEstimatesApi.as_view(), name="estimates"),
    path("v1/estimates/trend", estimates.TrendApi.as_view(), name="estimates_trend"),
    # Policy insights (issue 23): reviewapp/api/insights.py.
    path(
        "v1/insights/trigger-words",
        insights.TriggerWordsApi.as_view(),
        name="insights_trigger_words",
    ),
    path("v1/insights/costs", insights.PolicyCostsApi.as_view(), name="insights_costs"),
]
