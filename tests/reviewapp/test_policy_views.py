"""The policy console pages: who may see them, and what a safety lead sees and can do."""

import pytest
from django.urls import reverse

from auditcore.models import AuditEvent, Category, PolicyVersion
from auditcore.services.policy import policy_create, policy_version_propose
from tests.support.policy_review import proposing_lead, publish_reviewed

pytestmark = pytest.mark.django_db

BARE = {"slug": "medical", "name": "Medical", "decline_when": ["Do not provide medical advice"]}
GOOD = {
    "slug": "finance",
    "name": "Finance",
    "help_when": ["Explaining how a product works"],
    "decline_when": ["Helping hide income that must be reported"],
}


@pytest.fixture
def draft(safety_lead):
    return policy_create(actor=safety_lead, name="Central", categories=[BARE, GOOD])


def _pages(version):
    category = version.categories.first()
    get = [
        reverse("policy:list"),
        reverse("policy:version", args=[version.pk]),
        reverse("policy:edit", args=[version.pk]),
        reverse("policy:publish", args=[version.pk]),
        reverse("policy:diff"),
    ]
    post = [
        reverse("policy:new"),
        reverse("policy:notes", args=[version.pk]),
        reverse("policy:category_add", args=[version.pk]),
        reverse("policy:new_draft", args=[version.pk]),
        reverse("policy:publish", args=[version.pk]),
        reverse("policy:rereview", args=[version.pk]),
        reverse("policy:category_save", args=[category.pk]),
        reverse("policy:category_remove", args=[category.pk]),
    ]
    return get, post


def test_anonymous_users_are_sent_to_login(client, draft):
    get, post = _pages(draft)
    for url in get:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))
    for url in post:
        assert client.post(url).status_code == 302, url


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_users_without_the_role_get_403(client, draft, who, request):
    client.force_login(request.getfixturevalue(who))
    get, post = _pages(draft)
    for url in get:
        assert client.get(url).status_code == 403, url
    for url in post:
        assert client.post(url).status_code == 403, url
    assert draft.categories.count() == 2
    assert PolicyVersion.objects.get().status == "draft"


@pytest.mark.parametrize("who", ["safety_lead", "admin_user"])
def test_safety_leads_and_admins_see_every_page(client, draft, who, request):
    client.force_login(request.getfixturevalue(who))
    get, _ = _pages(draft)
    for url in get[:2] + get[3:]:
        assert client.get(url).status_code == 200, url
    assert client.get(get[2]).status_code == 200


def test_the_list_shows_versions_with_lint_flag_counts(client, safety_lead, draft):
    client.force_login(safety_lead)
    response = client.get(reverse("policy:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Central v1" in body
    assert '<span class="flag">2</span>' in body  # bare prohibition + unconditioned rule
    assert "Create the policy" not in body


def test_a_safety_lead_creates_the_policy(client, safety_lead):
    client.force_login(safety_lead)
    response = client.get(reverse("policy:list"))
    assert "Create the policy" in response.content.decode()
    response = client.post(reverse("policy:new"), {"name": "Central"})
    version = PolicyVersion.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("policy:edit", args=[version.pk])


def test_the_version_page_shows_cards_with_flags_inline(client, safety_lead, draft):
    client.force_login(safety_lead)
    body = client.get(reverse("policy:version", args=[draft.pk])).content.decode()
    assert "Do not provide medical advice" in body
    assert "bare prohibition" in body
    assert 'id="category-finance"' in body


def test_editing_a_category_saves_lines_and_reports_flags(client, safety_lead, draft):
    client.force_login(safety_lead)
    medical = draft.categories.get(slug="medical")
    p = f"c{medical.pk}"
    response = client.post(
        reverse("policy:category_save", args=[medical.pk]),
        {
            f"{p}-slug": "medical",
            f"{p}-name": "Medical",
            f"{p}-help_when": "General health information\n\n  Explaining a diagnosis  ",
            f"{p}-decline_when": "Dosages that would exceed the safe maximum",
            f"{p}-reason_codes": "dose: Dosage question",
            f"{p}-examples": "help: What is a normal heart rate?",
            f"{p}-keywords": "dose\nmedication",
            f"{p}-high_stakes": "on",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    medical.refresh_from_db()
    assert medical.help_when == ["General health information", "Explaining a diagnosis"]
    assert medical.reason_codes == [{"code": "dose", "label": "Dosage question"}]
    assert medical.examples == [{"expected": "help", "prompt": "What is a normal heart rate?"}]
    assert medical.high_stakes is True
    body = response.content.decode()
    assert "Saved." in body
    assert "<html" not in body  # only the category fragment
    assert AuditEvent.objects.filter(action="policy.category_update").exists()


def test_a_bad_example_line_is_a_form_error(client, safety_lead, draft):
    client.force_login(safety_lead)
    medical = draft.categories.get(slug="medical")
    p = f"c{medical.pk}"
    response = client.post(
        reverse("policy:category_save", args=[medical.pk]),
        {f"{p}-slug": "medical", f"{p}-examples": "maybe: something"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "start each example with help: or decline:" in response.content.decode()


def test_add_and_remove_a_category(client, safety_lead, draft):
    client.force_login(safety_lead)
    response = client.post(
        reverse("policy:category_add", args=[draft.pk]),
        {"new-slug": "legal", "new-help_when": "Explaining what a law says"},
    )
    assert response.status_code == 302
    legal = Category.objects.get(policy_version=draft, slug="legal")
    client.post(reverse("policy:category_remove", args=[legal.pk]))
    assert not Category.objects.filter(pk=legal.pk).exists()


def test_publish_shows_the_flags_first_then_freezes(client, safety_lead, draft):
    policy_version_propose(actor=proposing_lead(), version=draft)
    client.force_login(safety_lead)
    body = client.get(reverse("policy:publish", args=[draft.pk])).content.decode()
    assert "2 lint flags" in body
    assert "Do not provide medical advice" in body
    response = client.post(reverse("policy:publish", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_published
    # A published version has no edit page and refuses edits.
    assert client.get(reverse("policy:edit", args=[draft.pk])).status_code == 302
    medical = draft.categories.get(slug="medical")
    response = client.post(
        reverse("policy:category_save", args=[medical.pk]),
        {f"c{medical.pk}-slug": "medical", f"c{medical.pk}-name": "Changed"},
    )
    assert response.status_code == 400
    medical.refresh_from_db()
    assert medical.name == "Medical"


def test_new_draft_and_diff(client, safety_lead, draft):
    v1 = publish_reviewed(draft, safety_lead)
    client.force_login(safety_lead)
    response = client.post(reverse("policy:new_draft", args=[v1.pk]))
    v2 = PolicyVersion.objects.get(number=2)
    assert response.url == reverse("policy:edit", args=[v2.pk])
    medical = v2.categories.get(slug="medical")
    client.post(
        reverse("policy:category_save", args=[medical.pk]),
        {
            f"c{medical.pk}-slug": "medical",
            f"c{medical.pk}-name": "Medical",
            f"c{medical.pk}-help_when": "General health information",
        },
    )
    body = client.get(reverse("policy:diff"), {"a": v1.pk, "b": v2.pk}).content.decode()
    assert "+ <bdi>General health information</bdi>" in body
    assert 'class="card diff-changed"' in body
    assert 'class="card diff-unchanged"' in body
    # The form is the whole category: leaving decline_when empty removed the rule.
    assert "− <bdi>Do not provide medical advice</bdi>" in body


def test_creating_the_policy_can_start_from_the_default_categories(client, safety_lead):
    from auditcore.detection.default_policy import DEFAULT_CATEGORIES

    client.force_login(safety_lead)
    client.post(reverse("policy:new"), {"name": "Central", "seed": "1"})
    version = PolicyVersion.objects.get()
    assert version.categories.count() == len(DEFAULT_CATEGORIES)


def test_the_list_pins_its_query_count(client, safety_lead, draft, django_assert_num_queries):
    from auditcore.services.policy import policy_version_draft_from

    for _ in range(3):
        policy_version_draft_from(actor=safety_lead, source=draft)
    client.force_login(safety_lead)
    # session, user, roles, versions, categories, policy exists
    with django_assert_num_queries(6):
        response = client.get(reverse("policy:list"))
    assert "Central v4" in response.content.decode()


def test_the_edit_page_says_how_keywords_match(client, safety_lead, draft):
    client.force_login(safety_lead)
    body = client.get(reverse("policy:edit", args=[draft.pk])).content.decode()
    # Once per category form and once for the new-category form.
    assert body.count("Each matches at the start of a word") == draft.categories.count() + 1
    assert "match &#x27;dangerous&#x27; too" in body
