"""Every API endpoint, found from the URL resolver, answers every role like the matching page."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from auditcore.services.tokens import api_token_create

pytestmark = pytest.mark.django_db

# Who may use each endpoint (by URL name). A new endpoint must be added here, or the test fails.
AUTHENTICATED, REVIEWER, SAFETY_LEAD, ADMIN = "authenticated", "reviewer", "safety_lead", "admin"
REQUIRED = {
    "api:schema": AUTHENTICATED,
    "api:docs": AUTHENTICATED,
    "api:review_next": REVIEWER,
    "api:review_verdict": REVIEWER,
    "api:review_reveal": REVIEWER,
    "api:review_observed": REVIEWER,
    "api:exports": ADMIN,
    "api:export": ADMIN,
    "api:export_file": ADMIN,
}
# Everything else under /api/ is a safety lead's (policy, rounds, ingest, replay, estimates...).
DEFAULT = SAFETY_LEAD
ALLOWED = {
    AUTHENTICATED: {"reviewer", "safety_lead", "admin", "outsider"},
    REVIEWER: {"reviewer", "admin"},
    SAFETY_LEAD: {"safety_lead", "admin"},
    ADMIN: {"admin"},
}
PARAM = re.compile(r"<(?:\w+:)?\w+>")


def api_endpoints():
    """(path, name, methods) for every route under /api/."""

    def walk(resolver, prefix, namespace=""):
        for entry in resolver.url_patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
                yield from walk(entry, route, ns)
            elif isinstance(entry, URLPattern) and route.startswith("api/"):
                view = getattr(entry.callback, "cls", None) or getattr(
                    entry.callback, "view_class", None
                )
                methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
                yield "/" + PARAM.sub("1", route), namespace + entry.name, methods

    return list(walk(get_resolver(), ""))


def test_the_walk_finds_the_api():
    names = {name for _, name, _ in api_endpoints()}
    assert {"api:interactions", "api:rounds", "api:review_next", "api:exports"} <= names
    assert len(names) >= 30


@pytest.fixture
def users(reviewer, safety_lead, admin_user, outsider):
    return {"reviewer": reviewer, "safety_lead": safety_lead, "admin": admin_user,
            "outsider": outsider}  # fmt: skip


def _call(client, method, path, **extra):
    return getattr(client, method)(path, content_type="application/json", **extra)


@pytest.mark.parametrize("auth", ["session", "token"])
def test_every_endpoint_answers_each_role_as_its_page_would(users, auth):
    checked = 0
    for path, name, methods in api_endpoints():
        allowed = ALLOWED[REQUIRED.get(name, DEFAULT)]
        for method in methods:
            anonymous = _call(Client(), method, path)
            assert anonymous.status_code in (401, 403), f"anonymous {method} {path}"
            for role, user in users.items():
                client = Client()
                extra = {}
                if auth == "session":
                    client.force_login(user)
                else:
                    _, key = api_token_create(user=user, name=f"t-{checked}")
                    extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
                response = _call(client, method, path, **extra)
                if role in allowed:
                    assert response.status_code not in (401, 403), (
                        f"{role} {method} {path}: {response.status_code}"
                    )
                    assert response.status_code < 500
                else:
                    assert response.status_code == 403, f"{role} {method} {path}"
                    if path.startswith("/api/v1/"):
                        assert set(response.json()) == {"message", "extra"}
                checked += 1
    assert checked > 100


def test_anonymous_gets_401_with_the_common_error_body(client):
    response = client.get("/api/v1/rounds")
    assert response.status_code == 401
    assert response.json()["message"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_repeated_bad_tokens_are_throttled(client, settings):
    for _ in range(20):
        assert client.get("/api/v1/rounds", HTTP_AUTHORIZATION="Bearer ra_wrong").status_code == 401
    response = client.get("/api/v1/rounds", HTTP_AUTHORIZATION="Bearer ra_wrong")
    assert response.status_code == 429
    assert set(response.json()) == {"message", "extra"}
