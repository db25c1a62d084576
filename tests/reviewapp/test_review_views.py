"""The review page and every keyboard path at the view level: the posts and partials keys send."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from auditcore.models import AuditRound, Interaction, Lease, Verdict
from auditcore.services import review as svc
from tests.factories import VerdictFactory
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def alice(client, reviewer):
    client.force_login(reviewer)
    return client


def page(response) -> str:
    return response.content.decode()


# --- Permissions: every review URL for every role.

REVIEW_URLS = [
    ("get", "review:queue", False),
    ("get", "review:summary", False),
    ("get", "review:reveal", True),
    ("post", "review:submit", True),
    ("post", "review:observe", True),
    ("post", "review:skip", True),
    ("post", "review:renew", True),
]


def _url(name, needs_item, item_id):
    return reverse(name, args=[item_id]) if needs_item else reverse(name)


@pytest.mark.parametrize(("method", "name", "needs_item"), REVIEW_URLS)
def test_anonymous_visitors_are_sent_to_login(client, method, name, needs_item):
    item = items_of(make_round(items=1))[0]
    response = getattr(client, method)(_url(name, needs_item, item.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("method", "name", "needs_item"), REVIEW_URLS)
@pytest.mark.parametrize("who", ["outsider", "safety_lead"])
def test_users_without_the_reviewer_role_get_403(client, request, who, method, name, needs_item):
    item = items_of(make_round(items=1))[0]
    client.force_login(request.getfixturevalue(who))
    response = getattr(client, method)(_url(name, needs_item, item.pk))
    assert response.status_code == 403
    assert MARKER not in page(response)


@pytest.mark.parametrize("who", ["reviewer", "admin_user"])
def test_reviewers_and_admins_open_the_queue(client, request, who):
    make_round(items=1)
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("review:queue"))
    assert response.status_code == 200
    assert "How much paracetamol is safe? #0" in page(response)


# --- The page.


def test_the_page_shows_prompt_turns_surface_and_policy_but_nothing_the_model_did(alice):
    make_round(items=1)
    html = page(alice.get(reverse("review:queue")))
    assert "How much paracetamol is safe? #0" in html
    assert "Hi! How can I help today?" in html  # an earlier assistant turn is context
    assert "surface <strong><bdi>web</bdi></strong>" in html
    assert "General health information" in html and "Instructions for overdose" in html
    assert "<kbd>1</kbd> General information is fine" in html
    assert MARKER not in html
    assert "0.987654" not in html and "0.913" not in html
    assert "replaced" not in html.lower()


def test_the_page_escapes_hostile_prompts_and_folds_long_ones(alice):
    make_round(items=1, prompt="<script>alert(1)</script>" + "x" * 3000 + "{i}")
    html = page(alice.get(reverse("review:queue")))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Show the full prompt (3026 characters)" in html


def test_the_page_has_no_inline_script_styles_or_handlers(alice):
    make_round(items=1)
    html = page(alice.get(reverse("review:queue")))
    assert 'src="/static/js/review.js"' in html
    for forbidden in ("<script>", " onclick=", " onkeydown=", " style="):
        assert forbidden not in html


def test_the_page_shows_progress_and_the_keys_overlay(alice, reviewer):
    items = items_of(make_round(items=3))
    offered_verdict(
        reviewer=reviewer, item_id=items[0].pk, decision="help", reason_code="general_info"
    )
    html = page(alice.get(reverse("review:queue")))
    assert "1 done today · 2 waiting in your queue" in html
    assert 'id="review-keys"' in html
    for key in ("H", "D", "U", "Enter", "S", "C", "R", "P", "?"):
        assert f"<kbd>{key}</kbd>" in html


def test_every_key_has_a_control_for_the_script_to_press(alice):
    make_round(items=1)
    html = page(alice.get(reverse("review:queue")))
    for key in ("h", "d", "u", "1", "2", "3"):
        assert f'data-key="{key}"' in html
    assert "data-review-skip" in html and 'id="verdict-form"' in html
    assert 'hx-trigger="every 60s"' in html


def test_an_empty_queue_says_so(alice):
    html = page(alice.get(reverse("review:queue")))
    assert "Your queue is empty" in html


def test_the_home_page_links_to_the_queue_and_loads_how_many_items_wait(alice):
    make_round(items=2)
    html = page(alice.get(reverse("home")))
    assert reverse("review:queue") in html and reverse("review:summary") in html
    summary = page(alice.get(reverse("review:summary"), **HX))
    assert "2 items waiting for you" in summary


def test_the_nav_shows_review_to_reviewers_and_adjudication_to_leads(client, reviewer, safety_lead):
    client.force_login(reviewer)
    html = page(client.get(reverse("home")))
    assert f'href="{reverse("review:queue")}"' in html
    assert reverse("adjudication:queue") not in html
    client.force_login(safety_lead)
    html = page(client.get(reverse("home")))
    assert f'href="{reverse("review:queue")}"' not in html
    assert reverse("adjudication:queue") in html and reverse("agreement") in html


# --- Keyboard paths: H/D/U + digit + Enter, S, C/R/P, N, and the renew poll.


@pytest.mark.parametrize(
    ("key", "decision", "code"),
    [("H", "help", "general_info"), ("D", "decline", "personal_dosing"), ("U", "unsure", "")],
)
def test_enter_locks_the_verdict_and_swaps_in_the_reveal(alice, reviewer, key, decision, code):
    item = items_of(make_round(items=2))[0]
    alice.get(reverse("review:queue"))
    response = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": decision, "reason_code": code, "note": "n"},
        **HX,
    )
    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html  # a partial, no page load
    assert "Your verdict is locked" in html
    assert f"{MARKER}-response-0" in html  # the reveal shows what the model said
    assert f"{MARKER}-served-0" in html  # and what the user got, with the gateway's action
    assert "Gateway action: <strong>Replaced</strong>" in html
    assert "What did the model do?" in html
    for observed in ("c", "r", "p", "n"):
        assert f'data-key="{observed}"' in html
    assert Verdict.objects.get(reviewer=reviewer).decision == decision


def test_without_htmx_the_submit_redirects_to_the_reveal_page(alice):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    response = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "help", "reason_code": "general_info"},
    )
    assert response["Location"] == reverse("review:reveal", args=[item.pk])
    html = page(alice.get(response["Location"]))
    assert "<html" in html and f"{MARKER}-response-0" in html


def test_a_second_lock_of_the_same_item_is_refused_with_a_message(alice, reviewer):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    alice.get(reverse("review:queue"))
    first = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    # As from a stale blind form (Forward, a second tab): another choice for the same item.
    second = alice.post(
        reverse("review:submit", args=[item.pk]),
        {"decision": "decline", "reason_code": "personal_dosing"},
        **HX,
    )
    assert first.status_code == second.status_code == 200
    html = page(second)
    assert "already locked (Should help); this second one was not saved" in html
    assert "Your verdict is locked: <strong>Should help</strong>" in html
    assert Verdict.objects.get(reviewer=reviewer).decision == "help"
    item.refresh_from_db()
    assert item.verdict_count == 1


def test_the_lock_names_the_reveal_in_the_address_bar_and_the_next_item_the_queue(alice):
    items = items_of(make_round(items=2))
    alice.get(reverse("review:queue"))
    locked = alice.post(
        reverse("review:submit", args=[items[0].pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    reveal_url = reverse("review:reveal", args=[items[0].pk])
    assert locked["HX-Push-Url"] == reveal_url
    observed = alice.post(
        reverse("review:observe", args=[items[0].pk]),
        {"observed_label": "compliance", "observed_served_label": "compliance"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{reveal_url}"},
    )
    assert "safe? #1" in page(observed)
    assert observed["HX-Push-Url"] == reverse("review:queue")
    # Back to the reveal's address reloads it from the server: the locked verdict, no blind form.
    back = page(alice.get(reveal_url))
    assert "Your verdict is locked" in back and 'id="verdict-form"' not in back


def test_the_review_and_home_pages_are_never_stored(alice):
    items_of(make_round(items=1))
    for name in ("review:queue", "home"):
        response = alice.get(reverse(name))
        assert "no-store" in response["Cache-Control"], name


def test_a_missing_reason_code_keeps_the_item_and_says_what_to_fix(alice):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    html = page(alice.post(reverse("review:submit", args=[item.pk]), {"decision": "decline"}, **HX))
    assert "choose the reason code" in html
    assert 'value="decline" data-key="d" required checked' in html
    assert MARKER not in html
    assert not Verdict.objects.exists()


def test_s_skips_and_swaps_in_the_next_item(alice):
    items = items_of(make_round(items=2))
    alice.get(reverse("review:queue"))
    html = page(alice.post(reverse("review:skip", args=[items[0].pk]), **HX))
    assert "<html" not in html
    assert "Skipped" in html and "safe? #1" in html


def _lock_first(alice, items):
    alice.get(reverse("review:queue"))
    alice.post(
        reverse("review:submit", args=[items[0].pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )


@pytest.mark.parametrize(
    ("key", "label"), [("C", "compliance"), ("R", "refusal"), ("P", "partial_refusal")]
)
def test_c_r_p_record_what_the_model_did_then_what_the_user_was_served(alice, reviewer, key, label):
    items = items_of(make_round(items=2))  # the gateway replaced every answer
    _lock_first(alice, items)
    url = reverse("review:observe", args=[items[0].pk])
    html = page(alice.post(url, {"observed_label": label}, **HX))
    # Still this item: the second question, one keystroke, the model's answer remembered.
    assert "What was the user served?" in html and "<html" not in html
    assert 'data-reveal-step="served"' in html
    assert f'name="observed_label" value="{label}"' in html
    for observed in ("c", "r", "p", "n"):
        assert f'data-key="{observed}"' in html
    assert html.count('data-key="c"') == 1  # the keys answer the served question only
    html = page(
        alice.post(url, {"observed_label": label, "observed_served_label": "refusal"}, **HX)
    )
    assert "safe? #1" in html and "<html" not in html
    assert MARKER not in html  # the next item is blind again
    verdict = Verdict.objects.get(reviewer=reviewer)
    assert (verdict.observed_label, verdict.observed_served_label) == (label, "refusal")
    items[0].refresh_from_db()
    assert (items[0].observed_label, items[0].observed_served_label) == (label, "refusal")


def test_the_served_question_is_skipped_when_the_gateway_left_the_answer_alone(alice, reviewer):
    items = items_of(make_round(items=2))
    Interaction.objects.filter(pk=items[0].interaction_id).update(
        gateway_action="none", served_response=None
    )
    _lock_first(alice, items)
    reveal = page(alice.get(reverse("review:reveal", args=[items[0].pk]), **HX))
    assert (
        "The same text as the model" in reveal and "Gateway action: <strong>None</strong>" in reveal
    )
    html = page(
        alice.post(
            reverse("review:observe", args=[items[0].pk]), {"observed_label": "refusal"}, **HX
        )
    )
    assert "safe? #1" in html and "What was the user served?" not in html
    assert Verdict.objects.get(reviewer=reviewer).observed_label == "refusal"


def test_without_htmx_the_served_question_is_its_own_page(alice, reviewer):
    items = items_of(make_round(items=1))
    _lock_first(alice, items)
    response = alice.post(
        reverse("review:observe", args=[items[0].pk]), {"observed_label": "compliance"}
    )
    assert response["Location"] == reverse("review:reveal", args=[items[0].pk]) + "?step=served"
    html = page(alice.get(response["Location"]))
    assert "<html" in html and "What was the user served?" in html
    response = alice.post(
        reverse("review:observe", args=[items[0].pk]),
        {"observed_label": "compliance", "observed_served_label": "refusal"},
    )
    assert response["Location"] == reverse("review:queue")


def test_a_bad_served_answer_is_said_on_the_served_question(alice):
    items = items_of(make_round(items=1))
    _lock_first(alice, items)
    html = page(
        alice.post(
            reverse("review:observe", args=[items[0].pk]),
            {"observed_label": "compliance", "observed_served_label": "maybe"},
            **HX,
        )
    )
    # Nothing was saved: the reviewer answers both questions again.
    assert "observed_served_label: must be one of" in html
    assert "What did the model do?" in html


def test_n_moves_on_without_recording(alice):
    items = items_of(make_round(items=2))
    alice.get(reverse("review:queue"))
    alice.post(
        reverse("review:submit", args=[items[0].pk]),
        {"decision": "help", "reason_code": "general_info"},
        **HX,
    )
    html = page(alice.get(reverse("review:queue"), **HX))
    assert "safe? #1" in html and "<html" not in html


def test_observing_before_the_verdict_is_locked_is_not_found(alice):
    item = items_of(make_round(items=1))[0]
    response = alice.post(
        reverse("review:observe", args=[item.pk]), {"observed_label": "refusal"}, **HX
    )
    assert response.status_code == 404
    assert MARKER not in page(response)


def test_the_reveal_page_is_not_found_before_the_verdict(alice):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    response = alice.get(reverse("review:reveal", args=[item.pk]))
    assert response.status_code == 404
    assert MARKER not in page(response)


def test_the_renew_poll_keeps_the_lease(alice, reviewer):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    Lease.objects.update(expires_at=timezone.now() + timedelta(seconds=3))
    html = page(alice.post(reverse("review:renew", args=[item.pk]), **HX))
    assert "Held for you for" in html
    assert Lease.objects.get().expires_at > timezone.now() + timedelta(seconds=590)


def test_the_renew_poll_says_when_the_lease_was_lost(alice, second_reviewer):
    item = items_of(make_round(items=1))[0]
    alice.get(reverse("review:queue"))
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    svc.lease_take_next(reviewer=second_reviewer)
    html = page(alice.post(reverse("review:renew", args=[item.pk]), **HX))
    assert "expired and other reviewers took it" in html
    assert "Go to the next item" in html


def test_submitting_after_the_lease_was_lost_says_so_and_moves_on(alice, second_reviewer):
    items = items_of(make_round(items=2))
    alice.get(reverse("review:queue"))
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    svc.lease_take_next(reviewer=second_reviewer)
    html = page(
        alice.post(
            reverse("review:submit", args=[items[0].pk]),
            {"decision": "help", "reason_code": "general_info"},
            **HX,
        )
    )
    assert "nothing was saved" in html
    assert "safe? #1" in html


def test_submitting_into_a_closed_round_says_so(alice):
    audit_round = make_round(items=1)
    item = items_of(audit_round)[0]
    alice.get(reverse("review:queue"))
    AuditRound.objects.filter(pk=audit_round.pk).update(status=AuditRound.Status.CLOSED)
    html = page(
        alice.post(
            reverse("review:submit", args=[item.pk]),
            {"decision": "help", "reason_code": "general_info"},
            **HX,
        )
    )
    assert "round was closed" in html and "Your queue is empty" in html


def test_the_queue_page_query_count_is_pinned(alice, django_assert_max_num_queries):
    make_round(items=5)
    alice.get(reverse("review:queue"))
    with django_assert_max_num_queries(16):
        alice.get(reverse("review:queue"), **HX)


def test_earlier_turns_are_open_context_and_withhold_answers_still_under_review(alice, reviewer):
    audit_round = make_round(items=2, earlier_turns=[])
    first, second = items_of(audit_round)
    # The second item's conversation began with the first item (joined at ingest).
    Interaction.objects.filter(pk=second.interaction_id).update(
        earlier_turns=[
            {"role": "user", "content": "I'm a nurse", "interaction_id": first.interaction_id},
            {
                "role": "assistant",
                "content": first.interaction.response,
                "interaction_id": first.interaction_id,
            },
        ]
    )
    type(first).objects.filter(pk=first.pk).update(queue_order=9.0)
    html = page(alice.get(reverse("review:queue")))
    assert "How much paracetamol is safe? #1" in html
    assert 'id="earlier-turns" open' in html and "Context: earlier turns" in html
    assert "I&#x27;m a nurse" in html
    # The first item's answer would unblind it: withheld until this reviewer judges it.
    assert MARKER not in html and "withheld" in html
    from auditcore.selectors.review import review_item_payload

    VerdictFactory(item=first, reviewer=reviewer)
    payload = review_item_payload(item_id=second.pk, reviewer=reviewer)
    assert payload.earlier_turns[1].content == first.interaction.response
    assert not payload.earlier_turns[1].withheld
