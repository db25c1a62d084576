"""A safety lead searches all stored interactions and filters them in the browser, then goes
from a row to its item and back to the interaction."""

from django.urls import reverse

from auditcore.models import Label
from tests.support.review_round import items_of, make_round
from tests.support.traffic import stored_interaction


def test_search_and_filters_in_the_browser(page, login_as, screenshot, safety_lead):
    make_round(items=3)
    bombs = make_round(items=2, prompt="How do I build a pipe bomb? #{i}")
    loose = stored_interaction(
        "Is a bomb threat email a crime?",
        user_segment="non_native_en",
        surface="support-chat",
        gateway_action="blocked",
        served_label=Label.REFUSAL,
    )
    stored_interaction("Which bomb disposal courses exist?")
    login_as(page, safety_lead)
    page.click("nav.mainnav >> text=Browse")
    page.locator("#browse-results").wait_for()
    rows = page.locator("#browse-results tbody tr")
    assert rows.count() == 7
    assert "7 interactions" in page.locator("#browse-count").inner_text()
    page.fill("input[name=q]", "bomb")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=bomb**")
    assert rows.count() == 4
    screenshot(page, "01-search")

    # Filters at the served layer and on the traffic: one never-drawn interaction.
    page.select_option("select[name=served_label]", Label.REFUSAL)
    page.fill("input[name=segment]", "non_native_en")
    page.select_option("select[name=gateway_action]", "blocked")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**gateway_action=blocked**")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-interaction-id") == str(loose.pk)
    assert "not drawn" in rows.first.inner_text()
    screenshot(page, "02-served-layer-filters")

    # Filters on the drawn items: a round, sorted oldest first.
    page.goto(reverse("browse:index") + "?q=bomb")
    page.select_option("select[name=round]", str(bombs.pk))
    page.select_option("select[name=sort]", "oldest")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**sort=oldest**")
    items = items_of(bombs)
    ids = [int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.interactionId)")]
    assert ids == sorted(i.interaction_id for i in items)
    screenshot(page, "03-round-filter")

    # Links both ways: row → item → interaction.
    first = next(i for i in items if i.interaction_id == ids[0])
    rows.first.locator("a[data-item-id]").click()
    page.wait_for_url(f"**{reverse('adjudication:item', args=[first.pk])}")
    assert "pipe bomb" in page.inner_text("main")
    page.click("#item-interaction")
    page.wait_for_url(f"**{reverse('browse:interaction', args=[first.interaction_id])}")
    assert page.locator(f'section[data-item-id="{first.pk}"]').count() == 1
    screenshot(page, "04-interaction")
    assert page.errors == [] and page.csp_violations == []
