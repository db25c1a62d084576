"""The profile page: create an API token (secret shown once), list and revoke tokens."""

import pytest
from django.urls import reverse

from auditcore.models import ApiToken
from auditcore.services.tokens import api_token_create

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("profile:index"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert client.post(reverse("profile:token_create"), {"name": "x"}).status_code == 302
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("who", ["reviewer", "safety_lead", "admin_user", "outsider"])
def test_every_logged_in_user_has_a_profile_page_linked_from_the_header(client, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.get(reverse("profile:index"))
    assert response.status_code == 200
    assert f'href="{reverse("profile:index")}"' in response.content.decode()


def test_a_new_token_is_shown_once_and_then_works(client, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("profile:token_create"), {"name": "my script"})
    html = response.content.decode()
    token = ApiToken.objects.get(user=reviewer)
    secret = html.split('<code class="token-secret">')[1].split("</code>")[0]
    assert secret.startswith(token.prefix)
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    # Shown once: the page lists the token afterwards, never its secret.
    again = client.get(reverse("profile:index")).content.decode()
    assert "my script" in again and secret not in again
    api = client.get("/api/v1/review/next", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 200


def test_an_empty_name_is_refused(client, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("profile:token_create"), {"name": "  "})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_and_the_page_says_so(client, reviewer):
    token, key = api_token_create(user=reviewer, name="old")
    client.force_login(reviewer)
    response = client.post(reverse("profile:token_revoke", args=[token.pk]), HTTP_HX_REQUEST="true")
    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert not token.is_active
    client.logout()
    assert client.get("/api/v1/review/next", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_nobody_can_revoke_or_see_another_users_token(client, reviewer, admin_user):
    token, _ = api_token_create(user=reviewer, name="alice's secret script")
    client.force_login(admin_user)
    assert "alice&#x27;s secret script" not in client.get(reverse("profile:index")).content.decode()
    response = client.post(reverse("profile:token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.is_active
