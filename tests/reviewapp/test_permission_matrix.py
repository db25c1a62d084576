"""Every URL and API endpoint × anonymous, outsider, reviewer, viewer, safety lead, admin.

The URLs come from the resolver, so a page added later is covered; its expectation comes from
RULES (first matching name prefix). A URL no rule matches fails the test: a new page must say
who may see it.
"""

import pytest
from django.test import Client

from tests.support.routes import ROUTES, patterns

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "reviewer", "viewer", "safety_lead", "admin")
LOGGED_IN = frozenset({"outsider", "reviewer", "viewer", "safety_lead", "admin"})
REVIEW = frozenset({"reviewer", "admin"})
SAFETY = frozenset({"safety_lead", "admin"})
# The viewer's row: the dashboard, its trends and the gate decisions, read-only.
RESULTS = frozenset({"viewer", "safety_lead", "admin"})
ADMIN = frozenset({"admin"})
EVERYONE = frozenset(ROLES)


class Rule:
    def __init__(self, allowed: frozenset, api: bool = False, note: str = "") -> None:
        self.allowed = allowed
        self.api = api  # DRF: anonymous gets 401/403, not a login redirect
        self.note = note


# First matching prefix of the URL name (namespace included) wins. Exact names end with "$".
RULES: list[tuple[str, Rule]] = [
    ("healthz$", Rule(EVERYONE, note="monitoring probe")),
    ("login$", Rule(EVERYONE)),
    ("logout$", Rule(EVERYONE)),
    ("admin_login$", Rule(EVERYONE, note="the throttled login page in front of the admin")),
    ("home$", Rule(LOGGED_IN, note="each role sees its own links")),
    ("profile:", Rule(LOGGED_IN, note="one's own API tokens")),
    ("review:", Rule(REVIEW)),
    ("adjudication:", Rule(SAFETY)),
    ("agreement$", Rule(SAFETY)),
    ("browse:index$", Rule(SAFETY)),
    ("browse:interaction$", Rule(SAFETY, note="shows the model's response and verdicts")),
    ("policy:", Rule(SAFETY)),
    ("rounds:", Rule(SAFETY)),
    ("ingest:", Rule(SAFETY)),
    ("replay:index$", Rule(RESULTS, note="the gate decisions")),
    ("replay:decision$", Rule(RESULTS, note="a gate decision; accepting it is a lead's")),
    ("replay:", Rule(SAFETY)),
    ("dashboard:interaction$", Rule(SAFETY, note="shows the model's response")),
    ("demo_model:", Rule(EVERYONE, note="the demo model's API; a 404 unless DEMO_MODEL_ENABLED")),
    ("dashboard", Rule(RESULTS)),
    ("insights:", Rule(SAFETY)),
    ("exports", Rule(ADMIN)),
    ("export", Rule(ADMIN)),
    # The public API (reviewapp/api/urls.py).
    ("api:schema$", Rule(EVERYONE, api=True, note="the OpenAPI document")),
    ("api:docs$", Rule(LOGGED_IN, api=True)),
    ("api:review_", Rule(REVIEW, api=True)),
    ("api:export", Rule(ADMIN, api=True)),
    ("api:round_estimates", Rule(RESULTS, api=True)),
    ("api:round_consistency", Rule(RESULTS, api=True)),
    ("api:estimates", Rule(RESULTS, api=True)),
    ("api:gate_decision", Rule(RESULTS, api=True)),
    ("api:", Rule(SAFETY, api=True)),
    # Django's admin site: staff only, checked by Django itself (admin:index below).
    ("admin:", Rule(ADMIN, note="django admin")),
]


def rule_for(name: str) -> Rule | None:
    for prefix, rule in RULES:
        if prefix.endswith("$"):
            if name == prefix[:-1]:
                return rule
        elif name.startswith(prefix):
            return rule
    return None


def test_every_url_has_an_expectation():
    missing = [name for _, name in patterns() if rule_for(name) is None]
    assert not missing, f"URL names without a permission expectation in RULES: {missing}"


def test_the_matrix_covers_the_known_areas():
    names = {name for name, _ in ROUTES}
    for name in ("review:queue", "policy:list", "rounds:draw", "ingest:upload", "replay:gate"):
        assert name in names
    assert len(ROUTES) > 40


@pytest.fixture
def user_for(django_user_model):
    from auditcore import roles
    from tests.factories import UserFactory

    role_of = {
        "outsider": None,
        "reviewer": roles.REVIEWER,
        "viewer": roles.VIEWER,
        "safety_lead": roles.SAFETY_LEAD,
        "admin": roles.ADMIN,
    }

    def make(role: str):
        if role == "anonymous":
            return None
        return UserFactory(username=f"matrix-{role}", role=role_of[role])

    return make


def _request(client: Client, path: str):
    """GET, or an empty POST where the view takes only POST (405 on GET)."""
    response = client.get(path)
    method = "GET"
    if response.status_code == 405:
        response = client.post(path)
        method = "POST"
    return method, response


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "path"), ROUTES, ids=[n for n, _ in ROUTES])
def test_permission(name, path, role, user_for, settings):
    rule = rule_for(name)
    assert rule is not None, f"{name} has no expectation in RULES"
    user = user_for(role)
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    if name == "logout":
        # Logging out is open to anyone and ends the session: POST only.
        assert client.post(path).status_code == 302
        return
    method, response = _request(client, path)
    status = response.status_code
    where = f"{method} {path} ({name}) as {role}: {status}"
    assert status < 500, where

    if name.startswith("admin:"):
        # Django's admin decides by is_staff; only the admin role may be staff.
        if role == "admin":
            return
        assert status in (302, 403) or b"id_username" in response.content, where
        return
    if role in rule.allowed:
        assert status != 403, where
        if status == 302:
            assert "/login/" not in response["Location"], where
        return
    if role == "anonymous":
        if rule.api:
            assert status in (401, 403), where
        else:
            assert status == 302 and response["Location"].startswith(f"/login/?next={path}"), where
        return
    assert status == 403, where
