"""Every role lands on a home page that shows what it can do; anonymous users must log in."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_reviewer_sees_the_review_area_but_not_the_lead_or_admin_areas(client, reviewer):
    client.force_login(reviewer)
    page = client.get(reverse("home")).content.decode()
    assert "<h2>Review</h2>" in page
    assert "Policy, rounds and results" not in page
    assert "Administration" not in page


def test_a_safety_lead_sees_policy_and_results_but_not_review_or_admin(client, safety_lead):
    client.force_login(safety_lead)
    page = client.get(reverse("home")).content.decode()
    assert "Policy, rounds and results" in page
    assert "<h2>Review</h2>" not in page
    assert "Administration" not in page


def test_an_admin_sees_every_area(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("home")).content.decode()
    for heading in ("<h2>Review</h2>", "Policy, rounds and results", "Administration"):
        assert heading in page


def test_a_user_without_a_role_is_told_to_ask_for_one(client, outsider):
    client.force_login(outsider)
    page = client.get(reverse("home")).content.decode()
    assert "Your account has no role" in page


def test_login_with_the_right_password_lands_on_home(client, reviewer):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_with_a_wrong_password_says_so(client, reviewer):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_ends_the_session(client, reviewer):
    client.force_login(reviewer)
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("who", ["reviewer", "safety_lead", "outsider"])
def test_only_admins_reach_the_django_admin(client, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("admin:index"))
    # The app's 403 page, not a redirect to a login they already passed.
    assert response.status_code == 403
    assert "Your role does not give access to this page" in response.content.decode()


def test_an_admin_reaches_the_django_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("admin:index")).status_code == 200


def test_pages_forbid_inline_script(client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
