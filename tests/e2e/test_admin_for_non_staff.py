"""/admin/ for a reviewer: the app's 403 page, not a redirect loop."""


def test_admin_for_a_reviewer_is_the_apps_403_page(page, login_as, screenshot, reviewer):
    login_as(page, reviewer)
    response = page.goto("/admin/")
    assert response.status == 403
    assert page.url.endswith("/admin/")  # answered in place, no redirect
    assert "Your role does not give access to this page" in page.inner_text("main")
    screenshot(page, "01-admin-403")
    page.click("text=Back to the home page")
    page.wait_for_url("**/")
    assert page.errors == []
