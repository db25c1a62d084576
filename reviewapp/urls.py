"""URL routes of the web layer and the API, all declared here with `path()` and converters."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp.views import adjudication as adjudication_views
from reviewapp.views import browse as browse_views
from reviewapp.views import category_validation as category_validation_views
from reviewapp.views import dashboard as dashboard_views
from reviewapp.views import demo_model as demo_model_views
from reviewapp.views import exports as exports_views
from reviewapp.views import health, home, ingest
from reviewapp.views import insights as insights_views
from reviewapp.views import policy as policy_views
from reviewapp.views import profile as profile_views
from reviewapp.views import replay as replay_views
from reviewapp.views import review as review_views
from reviewapp.views import rounds as rounds_views
from reviewapp.views.auth import ThrottledLoginView

ingest_urls = [
    path("", ingest.job_list, name="list"),
    path("upload", ingest.upload, name="upload"),
    path("sample.jsonl", ingest.sample_file, name="sample"),
    path("<int:pk>/", ingest.job_detail, name="job"),
    path("<int:pk>/quarantine.csv", ingest.quarantine_csv, name="quarantine_csv"),
]

policy_urls = [
    path("", policy_views.policy_list, name="list"),
    path("new", policy_views.policy_new, name="new"),
    path("diff", policy_views.version_diff, name="diff"),
    path("v/<int:pk>/", policy_views.version_detail, name="version"),
    path("v/<int:pk>/edit", policy_views.version_edit, name="edit"),
    path("v/<int:pk>/notes", policy_views.version_notes, name="notes"),
    path("v/<int:pk>/categories/add", policy_views.category_add, name="category_add"),
    path("v/<int:pk>/draft", policy_views.version_new_draft, name="new_draft"),
    path("v/<int:pk>/publish", policy_views.version_publish, name="publish"),
    path("v/<int:pk>/propose", policy_views.version_propose, name="propose"),
    path("v/<int:pk>/rereview", policy_views.version_rereview, name="rereview"),
    path("v/<int:pk>/recategorise", policy_views.version_recategorise, name="recategorise"),
    path("recategorise/<int:pk>/", policy_views.recategorise_job, name="recategorise_job"),
    path("categories/<int:pk>/save", policy_views.category_save, name="category_save"),
    path("categories/<int:pk>/remove", policy_views.category_remove, name="category_remove"),
]

rounds_urls = [
    path("", rounds_views.rounds_list, name="list"),
    path("new", rounds_views.round_new, name="new"),
    path("last-week", rounds_views.round_last_week, name="last_week"),
    path("alerts/<int:pk>/dismiss", rounds_views.alert_dismiss_view, name="alert_dismiss"),
    path("gold/", rounds_views.gold_list, name="gold"),
    path("gold/write", rounds_views.gold_write, name="gold_write"),
    path("gold/mark", rounds_views.gold_mark, name="gold_mark"),
    path("gold/<int:pk>/retire", rounds_views.gold_retire, name="gold_retire"),
    path("<int:pk>/", rounds_views.round_detail, name="detail"),
    path("<int:pk>/quotas", rounds_views.round_quotas, name="quotas"),
    path("<int:pk>/draw", rounds_views.round_draw, name="draw"),
    path("<int:pk>/progress", rounds_views.round_progress, name="progress"),
    path("<int:pk>/close", rounds_views.round_finish, name="close"),
    path("<int:pk>/reviewers", rounds_views.round_reviewers, name="reviewers"),
]

replay_urls = [
    path("", replay_views.index, name="index"),
    path("corpora/", replay_views.corpora, name="corpora"),
    path("corpora/<int:pk>/", replay_views.corpus_detail, name="corpus"),
    path("corpora/<int:pk>/prompts/add", replay_views.corpus_prompt_add, name="prompt_add"),
    path("corpora/<int:pk>/import", replay_views.corpus_import, name="corpus_import"),
    path("corpora/<int:pk>/export", replay_views.corpus_export, name="corpus_export"),
    path("prompts/<int:pk>/edit", replay_views.corpus_prompt_edit, name="prompt_edit"),
    path("prompts/<int:pk>/toggle", replay_views.corpus_prompt_toggle, name="prompt_toggle"),
    path("promote", replay_views.promote, name="promote"),
    path("endpoints/", replay_views.endpoints, name="endpoints"),
    path("endpoints/<int:pk>/key", replay_views.endpoint_key, name="endpoint_key"),
    path("demo-model", replay_views.demo_model_use, name="demo_model_use"),
    path("runs/", replay_views.runs, name="runs"),
    path("runs/<int:pk>/", replay_views.run_detail, name="run"),
    path("gate/", replay_views.gate, name="gate"),
    path("decisions/<int:pk>/", replay_views.decision_detail, name="decision"),
    path("decisions/<int:pk>/accept", replay_views.decision_accept, name="decision_accept"),
    path(
        "decisions/<int:pk>/labels",
        replay_views.decision_label_review,
        name="decision_label_review",
    ),
]

demo_model_urls = [
    path("chat/completions", demo_model_views.chat_completions, name="chat_completions"),
    path("models", demo_model_views.model_list, name="models"),
]

dashboard_urls = [
    path("", dashboard_views.dashboard_index, name="index"),
    path("rounds/<int:pk>/", dashboard_views.dashboard_round, name="round"),
    path("rounds/<int:pk>/consistency", dashboard_views.dashboard_consistency, name="consistency"),
    path("interactions/<int:pk>", dashboard_views.dashboard_interaction, name="interaction"),
]

insights_urls = [
    path("", insights_views.insights_index, name="index"),
    path("draft", insights_views.insights_draft, name="draft"),
    path("rewrites/<int:pk>/", insights_views.insights_rewrites, name="rewrites"),
    path("rewrites/<int:pk>/replay", insights_views.insights_replay, name="replay"),
]

exports_urls = [
    path("", exports_views.export_list, name="list"),
    path("start", exports_views.export_start, name="start"),
    path("<int:pk>/", exports_views.export_detail, name="detail"),
    path("<int:pk>/download/<str:token>", exports_views.export_download, name="download"),
]

profile_urls = [
    path("", profile_views.profile, name="index"),
    path("tokens", profile_views.token_create, name="token_create"),
    path("tokens/<int:pk>/revoke", profile_views.token_revoke, name="token_revoke"),
]

review_urls = [
    path("", review_views.review_queue, name="queue"),
    path("summary", review_views.review_summary, name="summary"),
    path("recent", review_views.review_recent, name="recent"),
    path("items/<int:item_id>/undo", review_views.review_undo, name="undo"),
    path("items/<int:item_id>/comments", review_views.review_comment, name="comment"),
    path("items/<int:item_id>/verdict", review_views.review_submit, name="submit"),
    path("items/<int:item_id>/reveal", review_views.review_reveal, name="reveal"),
    path("items/<int:item_id>/observed", review_views.review_observe, name="observe"),
    path("items/<int:item_id>/skip", review_views.review_skip, name="skip"),
    path("items/<int:item_id>/renew", review_views.review_renew, name="renew"),
]

adjudication_urls = [
    path("", adjudication_views.adjudication_list, name="queue"),
    path(
        "category-validation",
        category_validation_views.category_validation,
        name="category_validation",
    ),
    path("items/<int:item_id>", adjudication_views.adjudication_detail, name="item"),
    path("items/<int:item_id>/decide", adjudication_views.adjudication_decide, name="decide"),
    path(
        "items/<int:item_id>/verdicts/<int:verdict_id>/correct",
        adjudication_views.verdict_correct,
        name="verdict_correct",
    ),
    path("items/<int:item_id>/comments", adjudication_views.adjudication_comment, name="comment"),
    path(
        "items/<int:item_id>/observation",
        adjudication_views.observation_correct,
        name="observation_correct",
    ),
]

browse_urls = [
    path("", browse_views.browse, name="index"),
    path("interactions/<int:pk>", browse_views.browse_interaction, name="interaction"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # The login throttle sits in front of both login pages (reviewapp/views/auth.py).
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("admin/login/", ThrottledLoginView.as_view(), name="admin_login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("ingest/", include((ingest_urls, "ingest"))),
    path("policy/", include((policy_urls, "policy"))),
    path("rounds/", include((rounds_urls, "rounds"))),
    path("replay/", include((replay_urls, "replay"))),
    # The built-in demo model (404 unless DEMO_MODEL_ENABLED): reviewapp/views/demo_model.py.
    path("demo-model/v1/", include((demo_model_urls, "demo_model"))),
    path("dashboard/", include((dashboard_urls, "dashboard"))),
    path("insights/", include((insights_urls, "insights"))),
    # The public API (/api/v1/...), its schema and docs: reviewapp/api/urls.py.
    path("api/", include("reviewapp.api.urls", namespace="api")),
    path("exports/", include((exports_urls, "exports"))),
    path("profile/", include((profile_urls, "profile"))),
    path("review/", include((review_urls, "review"))),
    path("adjudication/", include((adjudication_urls, "adjudication"))),
    path("agreement/", adjudication_views.agreement, name="agreement"),
    path("browse/", include((browse_urls, "browse"))),
    path("admin/", admin.site.urls),
]
