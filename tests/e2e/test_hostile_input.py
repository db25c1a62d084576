"""Hostile prompts and responses, ingested through the real ingest path, render inert everywhere.

Every payload, if it ran, would set window.__pwned, change document.title or open a dialog; the
test loads each page that shows the text in Chromium, checks none of that happened, and that
the text is visible as text.
"""

import json

from django.urls import reverse
from django.utils import timezone

from auditcore.models import IngestJob, Interaction, RoundItem
from auditcore.services import review as svc
from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline
from tests.factories import RoundItemFactory
from tests.support.review_round import make_round, offered_verdict

PAYLOADS = [
    "<script>window.__pwned='script';document.title='PWNED'</script>",
    '"><img src=x onerror="window.__pwned=\'attr\'">',
    "'><svg onload=alert('svg')>",
    '<a href="javascript:window.__pwned=\'js-url\'" id="evil-link">click me</a>',
    "<!-- open comment --><script>alert('comment')</script>",
    "--></textarea></pre><script>alert('breakout')</script>",
    '<div hx-get="/logout/" hx-trigger="load" hx-swap="outerHTML">htmx bait</div>',
    "{{ 7|add:7 }} {% csrf_token %} ${7*7}",
    "\u202eevil\u202c right-to-left override and \u200b\u200d\ufeff zero-width",
    "NUL\x00 BEL\x07 ESC\x1b[31m red\x1b[0m VT\x0b FF\x0c DEL\x7f",
    "<iframe src=\"javascript:alert('frame')\"></iframe>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'meta\')">',
]
HOSTILE = "\n".join(PAYLOADS)
VISIBLE = "<script>window.__pwned='script';document.title='PWNED'</script>"
# Under the 200,000 character cap per text; the 1 MB one is refused and quarantined.
LONG = "<b>bold?</b>" * 16_000
ONE_MB = "<script>alert('mb')</script>" * 37_500


def _record(i: int, prompt: str, response: str) -> str:
    return json.dumps(
        {
            "id": f"hostile-{i}",
            "timestamp": "2026-11-01T10:00:00Z",
            "surface": "web",
            "model": "acme-chat",
            "response": response,
            "messages": [
                {"role": "user", "content": PAYLOADS[0]},
                {"role": "assistant", "content": PAYLOADS[1]},
                {"role": "user", "content": prompt},
            ],
            "user": {"id": f"u{i}", "segment": "<script>alert('segment')</script>"},
        }
    )


def _ingest(tmp_path, user) -> IngestJob:
    path = tmp_path / "hostile.jsonl"
    lines = [
        _record(0, f"Prompt: {HOSTILE}", f"Response: {HOSTILE}"),
        _record(1, f"Long {LONG}", f"Long response {LONG}"),
        _record(2, ONE_MB, "ok"),
        '{"id": "broken-<script>alert(\'quarantine\')</script>", "prompt": ',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    job = ingest_job_create(
        path=path, source="hostile", origin=IngestJob.Origin.UPLOAD, filename="<b>x</b>.jsonl"
    )
    job = ingest_job_run_inline(job_id=job.pk)
    assert job.status == IngestJob.Status.SUCCEEDED
    assert (job.inserted, job.rejected) == (2, 2)
    return job


def _round_of(interactions):
    """A round (two reviews per item) over the ingested interactions."""
    audit_round = make_round(items=0, required_reviews=2)
    stratum = audit_round.strata.first()
    for i, interaction in enumerate(interactions):
        RoundItemFactory(
            round=audit_round,
            interaction=interaction,
            stratum=stratum,
            inclusion_probability=0.5,
            required_reviews=2,
            queue_order=float(i),
        )
    return audit_round


def _assert_inert(page, where: str) -> None:
    pwned = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
    assert pwned is None, f"{where}: a payload ran ({pwned})"
    assert "PWNED" not in page.title(), where
    assert page.dialogs == [], f"{where}: dialogs {page.dialogs}"
    assert page.errors == [], f"{where}: script errors {page.errors}"
    assert page.locator("#evil-link").count() == 0, f"{where}: a link was built from text"
    assert page.locator("img[src=x], svg, iframe, meta[http-equiv]").count() == 0, where
    # The session survives: the htmx bait (hx-get /logout/ on load) did not run.
    assert "/login/" not in page.url, f"{where}: logged out"


def test_hostile_text_is_stored_and_rendered_inert_on_every_page(
    page, login_as, screenshot, reviewer, second_reviewer, safety_lead, tmp_path
):
    job = _ingest(tmp_path, safety_lead)
    stored = Interaction.objects.get(source="hostile", external_id="hostile-0")
    assert VISIBLE in stored.prompt and "\u202e" in stored.prompt and "\u200b" in stored.prompt
    assert "\x00" not in stored.prompt and "\ufffd" in stored.prompt  # NUL kept as U+FFFD
    interactions = list(Interaction.objects.filter(source="hostile").order_by("external_id"))
    audit_round = _round_of(interactions)
    item = audit_round.items.get(interaction=stored)
    # anna and alice disagree on the hostile item, so it reaches adjudication.
    svc.lease_take_next(reviewer=second_reviewer)
    offered_verdict(reviewer=second_reviewer, item_id=item.pk, decision="decline")

    # The reviewer: the queue shows the prompt, the reveal the response.
    login_as(page, reviewer)
    page.goto(reverse("review:queue"))
    _assert_inert(page, "review queue")
    prompt = page.locator("#review-pane .review-main > .text-block").inner_text()
    assert VISIBLE in prompt and "{{ 7|add:7 }}" in prompt
    # Direction overrides and zero-width characters show as markers instead of flipping text.
    assert "\u202e" not in prompt and "\u200b" not in prompt
    assert "⟨U+202E⟩evil⟨U+202C⟩" in prompt and "⟨U+200B⟩⟨U+200D⟩⟨U+FEFF⟩" in prompt
    assert page.locator("#review-pane .review-main > .text-block .ctl-marker").first.is_visible()
    screenshot(page, "review-queue")
    page.keyboard.press("h")
    page.keyboard.press("Enter")
    page.locator("[data-review-state=reveal]").wait_for()
    _assert_inert(page, "reveal")
    assert VISIBLE in page.locator(".reveal").inner_text()
    screenshot(page, "reveal")
    page.keyboard.press("c")
    page.locator("[data-review-state=item]").wait_for()
    _assert_inert(page, "long item")
    # The long one is cut for display, with the whole text folded away.
    assert page.locator("#review-pane details.fold").count() >= 1
    screenshot(page, "long-item")

    # The safety lead: the adjudication page, the round, the ingest job and its quarantine.
    login_as(page, safety_lead)
    item.refresh_from_db()
    assert item.status == RoundItem.Status.ADJUDICATION
    pages = [
        ("adjudication-queue", reverse("adjudication:queue")),
        ("adjudication-item", reverse("adjudication:item", args=[item.pk])),
        ("round", reverse("rounds:detail", args=[audit_round.pk])),
        ("ingest-job", reverse("ingest:job", args=[job.pk])),
        ("ingest-list", reverse("ingest:list")),
    ]
    for name, url in pages:
        response = page.goto(url)
        assert response.status < 400, f"{name}: {response.status}"
        page.wait_for_load_state("networkidle")
        _assert_inert(page, name)
        screenshot(page, name)
        if name == "adjudication-item":
            assert VISIBLE in page.locator("main").inner_text()
            assert "⟨U+202E⟩evil" in page.locator("main").inner_text()
        if name == "ingest-job":
            assert "alert('quarantine')" in page.locator("main").inner_text()
    assert timezone.now()  # the walk ended without a payload running
