"""The browser fixtures work: Chromium starts, a user logs in, a screenshot is written."""

from django.urls import reverse


def test_a_reviewer_logs_in_and_sees_the_home_page(page, login_as, screenshot, reviewer):
    login_as(page, reviewer)
    assert page.url.rstrip("/").endswith(reverse("home").rstrip("/")) or page.url.endswith("/")
    assert page.locator("header .who").inner_text() == "alice"
    assert screenshot(page, "home").is_file()
    assert page.errors == [] and page.dialogs == [] and page.csp_violations == []
