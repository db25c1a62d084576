"""The demo: a published default policy, one user per role, synthetic traffic and the demo model's
replay endpoints, idempotently."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Min

from auditcore import roles
from auditcore.demo_data import generate_records, write_jsonl
from auditcore.detection.default_policy import DEFAULT_CATEGORIES, DEFAULT_POLICY_NAME
from auditcore.exceptions import ApplicationError
from auditcore.models import (
    AuditRound,
    Corpus,
    Endpoint,
    IngestJob,
    Interaction,
    Policy,
    PolicyVersion,
)
from auditcore.replay.demo_model import BASELINE, CANDIDATE
from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline
from auditcore.services.policy import policy_create, policy_version_publish
from auditcore.services.replay import (
    DEMO_MODEL_PATH,
    STARTER_CORPUS_NAME,
    corpus_starter_load,
    demo_model_base_url,
    endpoint_base_url_set,
    endpoint_create,
)
from auditcore.services.rounds import (
    round_create,
    round_draw,
    round_draw_request,
    round_quotas_set,
)
from auditcore.services.users import user_create

DEMO_SOURCE = "demo"
DEMO_RECORDS = 3000
# Known on purpose: these accounts exist only in the demo database `make run` creates.
DEMO_USERS = (
    ("reviewer", roles.REVIEWER, "review-demo-2026"),
    ("reviewer2", roles.REVIEWER, "review-demo-2026"),
    ("lead", roles.SAFETY_LEAD, "lead-demo-2026"),
    ("admin", roles.ADMIN, "admin-demo-2026"),
    ("viewer", roles.VIEWER, "viewer-demo-2026"),
)


DEMO_ROUND = "Demo round"
# Oversample what the audit is about: refusals in the high-stakes categories.
DEMO_QUOTAS = {
    ("financial", "refusal"): 12,
    ("medical", "refusal"): 12,
    ("security", "refusal"): 12,
    ("general", "refusal"): 12,
    ("general", "compliance"): 10,
}


# The demo model's two versions as replay endpoints: (endpoint name, model name).
DEMO_ENDPOINTS = (("Demo baseline", BASELINE), ("Demo candidate", CANDIDATE))
# The web server `make run` starts answers a few requests at a time.
DEMO_CONCURRENCY = 4
DEMO_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DemoEndpoints:
    baseline: Endpoint
    candidate: Endpoint
    corpus: Corpus


@dataclass(frozen=True)
class SeedResult:
    policy: PolicyVersion
    users: list[tuple[str, str, str]]
    job: IngestJob
    audit_round: AuditRound | None
    demo_endpoints: DemoEndpoints | None


def _default_policy() -> PolicyVersion:
    published = PolicyVersion.objects.filter(
        policy__name=DEFAULT_POLICY_NAME, status=PolicyVersion.Status.PUBLISHED
    ).first()
    if published is not None:
        return published
    if Policy.objects.filter(name=DEFAULT_POLICY_NAME).exists():
        draft = PolicyVersion.objects.filter(policy__name=DEFAULT_POLICY_NAME).order_by("number")
        return policy_version_publish(actor=None, version=draft.first())
    version = policy_create(
        actor=None,
        name=DEFAULT_POLICY_NAME,
        description="The default help-when / decline-when policy shipped with the demo.",
        categories=DEFAULT_CATEGORIES,
    )
    return policy_version_publish(actor=None, version=version)


def _users() -> list[tuple[str, str, str]]:
    user_model = get_user_model()
    for username, role, password in DEMO_USERS:
        if not user_model.objects.filter(username=username).exists():
            user_create(username=username, role=role, password=password)
    return list(DEMO_USERS)


def demo_seed(*, records: int = DEMO_RECORDS) -> SeedResult:
    """Safe to run again: existing users, policy and interactions are left as they are."""
    policy = _default_policy()
    users = _users()
    folder = Path(settings.DATA_DIR) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-{records}.jsonl"
    if not path.exists():
        write_jsonl(generate_records(records, source_prefix=DEMO_SOURCE), path)
    job = ingest_job_create(
        path=path, source=DEMO_SOURCE, fmt="jsonl", origin=IngestJob.Origin.COMMAND
    )
    job = ingest_job_run_inline(job_id=job.pk)
    corpus_starter_load(actor=None)
    endpoints = demo_endpoints_register(actor=None) if settings.DEMO_MODEL_ENABLED else None
    return SeedResult(
        policy=policy,
        users=users,
        job=job,
        audit_round=_demo_round(policy),
        demo_endpoints=endpoints,
    )


def _demo_endpoint(*, actor: AbstractBaseUser | None, name: str, model: str) -> Endpoint:
    base_url = demo_model_base_url()
    endpoint = Endpoint.objects.filter(name=name).first()
    if endpoint is None:
        return endpoint_create(
            actor=actor,
            name=name,
            base_url=base_url,
            model=model,
            concurrency=DEMO_CONCURRENCY,
            timeout_s=DEMO_TIMEOUT_S,
        )
    if endpoint.model != model or not endpoint.base_url.rstrip("/").endswith(DEMO_MODEL_PATH):
        raise ApplicationError(
            f"An endpoint called {name!r} already exists and is not the demo model; "
            "rename it on the endpoints page to use the demo model.",
            {"code": "name_taken"},
        )
    if endpoint.base_url != base_url:
        # SITE_URL changed (another port): the demo model now answers at the new address.
        return endpoint_base_url_set(actor=actor, endpoint_id=endpoint.pk, base_url=base_url)
    return endpoint


@transaction.atomic
def demo_endpoints_register(*, actor: AbstractBaseUser | None) -> DemoEndpoints:
    """The demo model's baseline and candidate endpoints and the corpus to replay (idempotent).

    Creates the endpoints (or points them at the current SITE_URL) and loads the starter corpus,
    which the demo model's refusals are written for, when it is not there yet.
    """
    if not settings.DEMO_MODEL_ENABLED:
        raise ApplicationError(
            "The demo model is switched off; an administrator turns it on with "
            "DEMO_MODEL_ENABLED=1.",
            {"code": "demo_model_off"},
        )
    baseline, candidate = (
        _demo_endpoint(actor=actor, name=name, model=model) for name, model in DEMO_ENDPOINTS
    )
    corpus = Corpus.objects.filter(name=STARTER_CORPUS_NAME).first()
    if corpus is None:
        corpus_starter_load(actor=actor)
        corpus = Corpus.objects.get(name=STARTER_CORPUS_NAME)
    return DemoEndpoints(baseline=baseline, candidate=candidate, corpus=corpus)


def _demo_round(policy: PolicyVersion) -> AuditRound | None:
    """An open, drawn round over the demo traffic, so reviewers have a queue at once."""
    existing = AuditRound.objects.filter(name=DEMO_ROUND).first()
    if existing is not None:
        return existing
    days = Interaction.objects.filter(source=DEMO_SOURCE).aggregate(
        first=Min("day"), last=Max("day")
    )
    if days["first"] is None:
        return None
    audit_round = round_create(
        actor=None,
        name=DEMO_ROUND,
        policy_version=policy,
        period_start=days["first"],
        period_end=days["last"],
        double_review_share=0.3,
        budget=150,
    )
    round_quotas_set(actor=None, audit_round=audit_round, quotas=DEMO_QUOTAS)
    with transaction.atomic():
        round_draw_request(actor=None, audit_round=audit_round)
    # Drawn here rather than by a worker: the demo may be seeded before any worker starts.
    return round_draw(round_id=audit_round.pk)
