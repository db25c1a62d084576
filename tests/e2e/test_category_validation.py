"""A safety lead follows the wrong-category counts to the category classifier's validation."""

from django.urls import reverse

from tests.factories import CategoryFactory
from tests.support.review_round import (
    items_of,
    make_round,
    offered_verdict,
)


def test_wrong_category_flags_validate_the_category_classifier(
    page, login_as, screenshot, reviewer, safety_lead
):
    CategoryFactory(slug="weapons", name="Weapons")
    items = items_of(make_round(items=3))
    for i, item in enumerate(items):
        flag = {"category_wrong": True, "suggested_category": "weapons"} if i == 0 else {}
        offered_verdict(
            reviewer=reviewer, item_id=item.pk, decision="help", reason_code="general_info", **flag
        )
    login_as(page, safety_lead)
    page.goto(reverse("adjudication:queue"))
    page.get_by_role("link", name="Category classifier validation from these flags →").click()
    page.wait_for_url(f"**{reverse('adjudication:category_validation')}")
    row = page.locator('#category-validation tr[data-category="medical"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["3", "1", "0.667"]
    assert cells[6] == "weapons (1)"
    weapons = page.locator('#category-validation tr[data-category="weapons"]')
    assert weapons.locator("td").all_inner_texts()[5] == "1"
    assert "0.667 of 3 reviewed items" in page.locator("#category-agreement").inner_text()
    screenshot(page, "01-category-validation")
    assert page.errors == [] and page.csp_violations == []
