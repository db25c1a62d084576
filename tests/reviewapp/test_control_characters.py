"""A NUL (or another control character) in any text field of any form is a form error that names
the field, never a server error, and nothing is stored.

Every form the app posts is listed here with a valid submission; each of its text fields in
turn gets a NUL (and, once per form, U+001B) while the others stay valid.
"""

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from auditcore.models import AuditEvent, RoundItem
from auditcore.services import review as review_svc
from auditcore.services.policy import policy_create
from tests.factories import PASSWORD
from tests.support.replay_data import stored_replay
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


@dataclass
class FormCase:
    name: str
    url: str
    data: dict
    text_fields: dict  # field name in the POST -> what the page calls it
    files: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    anonymous: bool = False


@pytest.fixture
def cases(admin_user, reviewer, second_reviewer):
    version = policy_create(
        actor=admin_user,
        name="Central",
        categories=[{"slug": "medical", "name": "Medical", "decline_when": ["Overdose"]}],
    )
    category = version.categories.get()
    p = f"c{category.pk}"
    replay = stored_replay(
        actor=admin_user, corpus_name="corpus", prompt="Hello?", endpoint_name="ep"
    )
    corpus, prompt, endpoint, decision = (
        replay.corpus,
        replay.prompt,
        replay.endpoint,
        replay.decision,
    )
    # An item the admin reviews, and a disputed one for adjudication.
    own = items_of(make_round(items=1))[0]
    review_svc.lease_take_next(reviewer=admin_user)
    disputed = items_of(make_round(items=1, required_reviews=2))[0]
    for who, decision_value in ((reviewer, "help"), (second_reviewer, "decline")):
        offered_verdict(
            reviewer=who,
            item_id=disputed.pk,
            decision=decision_value,
            reason_code="general_info" if decision_value == "help" else "personal_dosing",
        )
    assert RoundItem.objects.get(pk=disputed.pk).status == RoundItem.Status.ADJUDICATION
    verdict = disputed.verdicts.first()
    upload = SimpleUploadedFile("log.jsonl", b"{}\n")
    endpoint_data = {
        "name": "new-ep", "base_url": "https://api.example.com/v1", "model": "gpt",
        "system_prompt": "Be brief.", "temperature": "0", "max_tokens": "10",
        "concurrency": "1", "timeout_s": "5", "api_key": "sk-key",
    }  # fmt: skip
    return [
        FormCase(
            "login",
            reverse("login"),
            {"username": "carol", "password": PASSWORD},
            {"username": "Username", "password": "Password"},
            anonymous=True,
        ),
        FormCase(
            "ingest upload",
            reverse("ingest:upload"),
            {"source": "web", "format": "auto"},
            {"source": "Source"},
            files={"file": upload},
        ),
        FormCase(
            "new policy",
            reverse("policy:new"),
            {"name": "Another", "description": "Text"},
            {"name": "Name", "description": "Description"},
        ),
        FormCase(
            "policy notes",
            reverse("policy:notes", args=[version.pk]),
            {"notes": "Some notes"},
            {"notes": "Notes"},
        ),
        FormCase(
            "category save",
            reverse("policy:category_save", args=[category.pk]),
            {
                f"{p}-slug": "medical",
                f"{p}-name": "Medical",
                f"{p}-description": "Health",
                f"{p}-help_when": "General health information",
                f"{p}-decline_when": "Overdose",
                f"{p}-reason_codes": "dose: Dosage question",
                f"{p}-examples": "help: What is a normal heart rate?",
                f"{p}-keywords": "dose",
            },
            {
                f"{p}-slug": "Slug",
                f"{p}-name": "Name",
                f"{p}-description": "Description",
                f"{p}-help_when": "Help when",
                f"{p}-decline_when": "Decline when",
                f"{p}-reason_codes": "Reason codes",
                f"{p}-examples": "Examples",
                f"{p}-keywords": "Classifier keywords",
            },
            headers={"HX-Request": "true"},
        ),
        FormCase(
            "category add",
            reverse("policy:category_add", args=[version.pk]),
            {"new-slug": "legal", "new-help_when": "Explaining a law", "new-keywords": "law"},
            {"new-slug": "Slug", "new-help_when": "Help when", "new-keywords": "keywords"},
        ),
        FormCase(
            "policy rereview",
            reverse("policy:rereview", args=[version.pk]),
            {"category": "medical"},
            {"category": "category"},
        ),
        FormCase(
            "new round",
            reverse("rounds:new"),
            {"name": "R", "period_start": "2026-11-01", "period_end": "2026-11-02"},
            {"name": "Name"},
        ),
        FormCase(
            "gold write",
            reverse("rounds:gold_write"),
            {"prompt": "Is water wet?", "expected": "help", "category": "medical", "note": "n"},
            {"prompt": "Prompt", "category": "Category", "note": "Note"},
        ),
        FormCase(
            "gold mark",
            reverse("rounds:gold_mark"),
            {"interaction": str(own.interaction_id), "expected": "help", "note": "n"},
            {"note": "Note"},
        ),
        FormCase(
            "new corpus",
            reverse("replay:corpora"),
            {"name": "c2", "description": "d"},
            {"name": "Name", "description": "Description"},
        ),
        FormCase(
            "corpus prompt add",
            reverse("replay:prompt_add", args=[corpus.pk]),
            {"prompt": "Another prompt", "category": "cooking", "expect": "must_help"},
            {"prompt": "Prompt", "category": "Category"},
        ),
        FormCase(
            "corpus prompt edit",
            reverse("replay:prompt_edit", args=[prompt.pk]),
            {"prompt": "Edited prompt", "category": "cooking", "expect": "must_help"},
            {"prompt": "Prompt", "category": "Category"},
        ),
        FormCase(
            "endpoint",
            reverse("replay:endpoints"),
            endpoint_data,
            {
                "name": "Name",
                "base_url": "Base url",
                "model": "Model",
                "system_prompt": "System prompt",
                "api_key": "API key",
            },
        ),
        FormCase(
            "endpoint key",
            reverse("replay:endpoint_key", args=[endpoint.pk]),
            {"api_key": "sk-new"},
            {"api_key": "Api key"},
        ),
        FormCase(
            "gate acceptance",
            reverse("replay:decision_accept", args=[decision.pk]),
            {"reason": "We accept this for a good reason."},
            {"reason": "Reason"},
        ),
        FormCase(
            "api token",
            reverse("profile:token_create"),
            {"name": "ci"},
            {"name": "name"},
        ),
        FormCase(
            "verdict",
            reverse("review:submit", args=[own.pk]),
            {"decision": "help", "reason_code": "general_info", "policy_clause": "1", "note": "n"},
            {"reason_code": "reason_code", "policy_clause": "policy_clause", "note": "note"},
            headers={"HX-Request": "true"},
        ),
        FormCase(
            "adjudication",
            reverse("adjudication:decide", args=[disputed.pk]),
            {"decision": "help", "note": "Final"},
            {"note": "note"},
        ),
        FormCase(
            "verdict correction",
            reverse("adjudication:verdict_correct", args=[disputed.pk, verdict.pk]),
            {"decision": "help", "reason_code": "general_info", "reason": "A typo in the call"},
            {"reason_code": "reason_code", "reason": "reason"},
        ),
        FormCase(
            "observation correction",
            reverse("adjudication:observation_correct", args=[disputed.pk]),
            {"observed_label": "refusal", "reason": "The reviewers disagreed"},
            {"reason": "reason"},
        ),
    ]


def _post(case, admin_user, data):
    client = Client(raise_request_exception=False)
    if not case.anonymous:
        client.force_login(admin_user)
    files = {k: SimpleUploadedFile(v.name, b"{}\n") for k, v in case.files.items()}
    response = client.post(case.url, {**data, **files}, follow=True, headers=case.headers)
    return response, response.content.decode()


def test_every_form_names_the_field_with_a_control_character(cases, admin_user):
    problems = []
    for case in cases:
        for name, label in case.text_fields.items():
            for bad in ("\x00", "\x1b") if name == next(iter(case.text_fields)) else ("\x00",):
                data = {**case.data, name: f"a{bad}b"}
                events = AuditEvent.objects.count()
                response, body = _post(case, admin_user, data)
                where = f"{case.name}: {name} with U+{ord(bad):04X}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                elif f"control character U+{ord(bad):04X}" not in body:
                    problems.append(f"{where}: no error saying so")
                elif label not in body:
                    problems.append(f"{where}: the error does not name {label!r}")
                elif AuditEvent.objects.count() != events:
                    problems.append(f"{where}: something was stored")
    assert problems == []
