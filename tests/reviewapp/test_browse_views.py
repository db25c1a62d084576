"""The leads' browser over all stored interactions: search over prompts (PostgreSQL full text,
substring on SQLite), filters at both layers and on the drawn items, sorting and pages, links
to the items and verdicts and back; leads only."""

import pytest
from django.db import connection
from django.urls import reverse

from auditcore.models import Interaction, Label, RoundItem
from auditcore.selectors.browse import PAGE_SIZE, BrowseFilters, browse_interactions
from auditcore.services.ingest import ingest_records_push
from auditcore.services.search_index import interactions_search_index
from tests.support.review_round import items_of, make_round, offered_verdict
from tests.support.traffic import stored_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(client, safety_lead):
    client.force_login(safety_lead)
    return client


def _ids(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('<tr data-interaction-id="')[1:]]


def _interaction_ids(audit_round) -> list[int]:
    return [item.interaction_id for item in items_of(audit_round)]


def test_it_lists_interactions_that_were_never_drawn(lead):
    audit_round = make_round(items=2)
    loose = stored_interaction("How do I spot a phishing email?")
    html = lead.get(reverse("browse:index")).content.decode()
    assert sorted(_ids(html)) == sorted([loose.pk, *_interaction_ids(audit_round)])
    assert "3 interactions" in html
    html = lead.get(reverse("browse:index"), {"status": "undrawn"}).content.decode()
    assert _ids(html) == [loose.pk]
    assert "not drawn" in html


def test_search_finds_prompts_by_word(lead):
    doses = make_round(items=2)
    bombs = make_round(items=1, prompt="How do I build a pipe bomb? #{i}")
    loose = stored_interaction("Where can I buy a bomb detector for my shop?")
    html = lead.get(reverse("browse:index"), {"q": "bomb"}).content.decode()
    assert sorted(_ids(html)) == sorted([*_interaction_ids(bombs), loose.pk])
    assert "2 interactions" in html
    html = lead.get(reverse("browse:index"), {"q": "paracetamol"}).content.decode()
    assert sorted(_ids(html)) == sorted(_interaction_ids(doses))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full text is PostgreSQL's")
def test_search_on_postgresql_is_full_text(lead):
    """Words in any order and exclusions, as a search box reads them; and the index is used."""
    wanted = stored_interaction("Is this email from my bank a phishing attempt?")
    stored_interaction("My bank email asks for my password")
    html = lead.get(reverse("browse:index"), {"q": "phishing bank"}).content.decode()
    assert _ids(html) == [wanted.pk]
    html = lead.get(reverse("browse:index"), {"q": "bank -phishing"}).content.decode()
    assert wanted.pk not in _ids(html) and len(_ids(html)) == 1


def test_a_just_ingested_prompt_is_found_before_and_after_its_search_vector_is_filled(lead):
    """Ingest leaves the vector out (PostgreSQL computes none on insert); search reads the
    prompts not yet indexed, and the indexer's vectors find the same rows."""
    record = {
        "id": "r1",
        "timestamp": "2026-11-20T12:00:00Z",
        "surface": "web",
        "model": "acme-1",
        "response": "I can't help with that.",
    }
    pushed = [
        {**record, "id": "r1", "prompt": "Is this email from my bank a phishing attempt?"},
        {**record, "id": "r2", "prompt": "My bank email asks for my password"},
    ]
    ingest_records_push(records=pushed, source="api")
    wanted = Interaction.objects.get(external_id="r1")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM auditcore_interaction WHERE prompt_search IS NULL")
            assert cursor.fetchone()[0] == 2
    query = {"q": "phishing bank"} if connection.vendor == "postgresql" else {"q": "phishing"}
    html = lead.get(reverse("browse:index"), query).content.decode()
    assert _ids(html) == [wanted.pk]
    if connection.vendor == "postgresql":
        assert "2 recently stored interactions are still being indexed" in html
    assert interactions_search_index() == (2 if connection.vendor == "postgresql" else 0)
    html = lead.get(reverse("browse:index"), query).content.decode()
    assert _ids(html) == [wanted.pk]
    assert "still being indexed" not in html
    assert interactions_search_index() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full text is PostgreSQL's")
def test_search_on_postgresql_can_read_the_gin_index_without_statistics():
    """The query's condition is the indexed stored vector, so the planner can answer it from
    the GIN index on a table nobody has analysed; to_tsvector is computed only for the rows not
    yet indexed, found through their partial index. (On a table this small a scan is cheaper,
    so scans are priced out to see the indexes are usable.)"""
    for i in range(20):
        stored_interaction(f"Is this a phishing text {i}?" if i % 10 == 0 else f"Boil an egg {i}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_stats WHERE tablename = 'auditcore_interaction'")
        assert cursor.fetchone()[0] == 0, "the table must have no planner statistics"
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    found = browse_interactions(BrowseFilters(q="phishing"))
    assert found.count() == 2
    plan = found[:PAGE_SIZE].explain()
    assert "Bitmap Index Scan on interaction_prompt_search " in plan
    assert "Bitmap Index Scan on interaction_prompt_search_pending" in plan
    assert plan.count("to_tsvector") == 1
    assert "(prompt_search IS NULL) AND (to_tsvector(" in plan


def test_filters_by_segment_labels_at_both_layers_gateway_and_surface(lead):
    plain = stored_interaction("Plain question", user_segment="non_native_en")
    blocked = stored_interaction(
        "Blocked question",
        surface="support-chat",
        gateway_action="blocked",
        served_label=Label.REFUSAL,
    )
    refused = stored_interaction(
        "Refused question", response_label=Label.REFUSAL, served_label=Label.REFUSAL
    )
    get = lambda **q: _ids(lead.get(reverse("browse:index"), q).content.decode())  # noqa: E731
    assert get(segment="non_native_en") == [plain.pk]
    assert get(served_label=Label.REFUSAL, sort="oldest") == [blocked.pk, refused.pk]
    assert get(response_label=Label.REFUSAL) == [refused.pk]
    assert get(gateway_action="blocked") == [blocked.pk]
    assert get(surface="support-chat") == [blocked.pk]


def test_filters_on_the_drawn_items(lead, reviewer, second_reviewer):
    first = make_round(items=2, required_reviews=2)
    make_round(items=2)
    stored_interaction("Never drawn")
    disputed = items_of(first)[0]
    offered_verdict(
        reviewer=reviewer, item_id=disputed.pk, decision="help", reason_code="general_info"
    )
    offered_verdict(
        reviewer=second_reviewer,
        item_id=disputed.pk,
        decision="decline",
        reason_code="personal_dosing",
    )
    html = lead.get(reverse("browse:index"), {"round": first.pk}).content.decode()
    assert sorted(_ids(html)) == sorted(_interaction_ids(first))
    html = lead.get(
        reverse("browse:index"), {"status": RoundItem.Status.ADJUDICATION}
    ).content.decode()
    assert _ids(html) == [disputed.interaction_id]
    html = lead.get(reverse("browse:index"), {"disagreement": "on"}).content.decode()
    assert _ids(html) == [disputed.interaction_id]
    html = lead.get(reverse("browse:index"), {"reviewer": second_reviewer.pk}).content.decode()
    assert _ids(html) == [disputed.interaction_id]
    # From the row to its item (and its verdicts) and to the interaction's page.
    assert reverse("adjudication:item", args=[disputed.pk]) in html
    assert reverse("browse:interaction", args=[disputed.interaction_id]) in html


def test_the_interaction_page_shows_its_items_and_verdicts_and_links_back(lead, reviewer):
    audit_round = make_round(items=1)
    item = items_of(audit_round)[0]
    offered_verdict(reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info")
    html = lead.get(reverse("browse:interaction", args=[item.interaction_id])).content.decode()
    assert f'data-item-id="{item.pk}"' in html
    assert reverse("adjudication:item", args=[item.pk]) in html
    assert reverse("rounds:detail", args=[audit_round.pk]) in html
    assert "Should help" in html and reviewer.get_username() in html
    # And back: the item's page links to its interaction.
    html = lead.get(reverse("adjudication:item", args=[item.pk])).content.decode()
    assert reverse("browse:interaction", args=[item.interaction_id]) in html
    assert lead.get(reverse("browse:interaction", args=[999999])).status_code == 404


def test_sorting_and_pages_keep_the_filters(lead):
    audit_round = make_round(items=55)
    html = lead.get(
        reverse("browse:index"), {"round": audit_round.pk, "sort": "oldest"}
    ).content.decode()
    ids = sorted(_interaction_ids(audit_round))
    assert _ids(html) == ids[:50]
    assert "page 1 of 2" in html
    assert f"?round={audit_round.pk}&amp;sort=oldest&amp;page=2" in html
    second = lead.get(
        reverse("browse:index"), {"round": audit_round.pk, "sort": "oldest", "page": 2}
    ).content.decode()
    assert _ids(second) == ids[50:]
    newest = lead.get(reverse("browse:index"), {"round": audit_round.pk}).content.decode()
    assert _ids(newest) == ids[::-1][:50]


def test_a_page_of_results_costs_a_fixed_number_of_queries(
    lead, django_assert_num_queries, reviewer
):
    make_round(items=30)
    for i in range(20):
        stored_interaction(f"Loose prompt {i}")
    # Session and user, the count, the page, the items drawn from its rows (one query for all
    # 30), the form's choices (surfaces, rounds, reviewers) and the navigation.
    with django_assert_num_queries(9):
        response = lead.get(reverse("browse:index"))
    assert len(_ids(response.content.decode())) == 50
    assert Interaction.objects.count() == 50


def test_a_bad_filter_names_the_field(lead):
    make_round(items=1)
    html = lead.get(reverse("browse:index"), {"status": "bogus"}).content.decode()
    assert "status: Select a valid choice" in html


def test_browse_is_for_safety_leads(client, reviewer):
    interaction = stored_interaction("A prompt")
    for url in (reverse("browse:index"), reverse("browse:interaction", args=[interaction.pk])):
        client.logout()
        assert client.get(url).status_code == 302
        client.force_login(reviewer)
        assert client.get(url).status_code == 403
