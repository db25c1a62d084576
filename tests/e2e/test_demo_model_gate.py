"""A safety lead without a model endpoint: from the replay page, the demo model, two runs of the
starter corpus, the paired test and a recorded decision, in the browser.

The runs call the demo model of the app under test over HTTP (the live server); tasks run
eagerly in the server thread, so each run has finished when its page loads.
"""

from django.urls import reverse

from auditcore.models import GateDecision, ReplayRun

# Each run waits for 238 answers from the live server before its page loads.
RUN_TIMEOUT_MS = 120_000
REASON = "Demo: the candidate's stricter answers are accepted for this trial release."


def _start_run(page, endpoint_name: str) -> ReplayRun:
    if endpoint_name != "Demo baseline":
        page.goto(reverse("replay:runs"))
        page.select_option("#id_corpus", label="starter")
        page.select_option("#id_endpoint", label=endpoint_name)
    with page.expect_navigation(url="**/replay/runs/*/", timeout=RUN_TIMEOUT_MS):
        page.click("form[action$='/replay/runs/'] button[type=submit]")
    run = ReplayRun.objects.select_related("endpoint").latest("pk")
    assert run.endpoint.name == endpoint_name
    return run


def test_a_lead_uses_the_demo_model_from_the_replay_page_through_to_a_gate_decision(
    page, login_as, screenshot, safety_lead, settings, live_server
):
    settings.DEMO_MODEL_ENABLED = True
    settings.SITE_URL = live_server.url
    login_as(page, safety_lead)

    # --- The replay page says what an endpoint is, and offers the demo model.
    page.goto(reverse("replay:index"))
    help_box = page.locator("#endpoint-help")
    assert help_box.get_attribute("open") is not None
    for words in ("OpenAI-compatible", "Base URL", "Model name", "API key", "No endpoint?"):
        assert words in help_box.inner_text()
    screenshot(page, "01-replay-page-explains-endpoints")
    page.click("#use-demo-model")
    page.wait_for_url("**/replay/runs/?*")
    assert page.locator("#id_endpoint option:checked").inner_text() == "Demo baseline"
    assert page.locator("#id_corpus option:checked").inner_text() == "starter"
    assert "The demo model is ready" in page.locator(".messages").inner_text()
    screenshot(page, "02-run-form-with-the-demo-model")

    # --- The starter corpus against both versions of the demo model.
    baseline = _start_run(page, "Demo baseline")
    progress = page.locator("#run-progress").inner_text()
    assert "Finished" in progress and "238 of 238 prompts done" in progress
    assert "0 failed" in progress
    screenshot(page, "03-baseline-run")
    candidate = _start_run(page, "Demo candidate")
    assert "238 answered" in page.locator("#run-progress").inner_text()
    labels = set(page.locator("#results .pill").all_inner_texts())
    assert labels == {"Complied", "Refused", "Partially refused"}
    screenshot(page, "04-candidate-run")

    # --- The paired test.
    page.click("#run-progress a[href$='/replay/gate/']")
    page.select_option("#id_baseline", value=str(baseline.pk))
    page.select_option("#id_candidate", value=str(candidate.pk))
    page.fill("#id_margin", "0.02")
    page.click("form[action$='/replay/gate/'] button[type=submit]")
    page.wait_for_url("**/replay/decisions/*/")
    decision = GateDecision.objects.get()
    assert page.locator("#outcome").inner_text() == "FAIL"
    assert (page.locator("#n01").inner_text(), page.locator("#n10").inner_text()) == ("11", "1")
    assert "K = 206" in page.locator("main").inner_text()
    assert "may not ship" in page.locator("#blocked").inner_text()
    assert "Accept the regression" in page.locator("#acceptance").inner_text()
    screenshot(page, "05-gate-fail")

    # --- The recorded decision: the regression is accepted with a reason.
    page.fill("#acceptance textarea[name=reason]", REASON)
    page.click("#acceptance button[type=submit]")
    page.locator("#accepted").wait_for()
    assert REASON in page.locator("#accepted").inner_text()
    decision.refresh_from_db()
    assert decision.is_accepted
    assert (decision.accepted_by, decision.acceptance_reason) == (safety_lead, REASON)
    screenshot(page, "06-regression-accepted")
    page.goto(reverse("replay:index"))
    assert "accepted by bob" in page.locator("#decisions").inner_text()
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
