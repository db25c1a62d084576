"""The demo: a published default policy, one user per role and synthetic traffic, idempotently."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Min

from auditcore import roles
from auditcore.demo_data import generate_records, write_jsonl
from auditcore.detection.default_policy import DEFAULT_CATEGORIES, DEFAULT_POLICY_NAME
from auditcore.models import AuditRound, IngestJob, Interaction, Policy, PolicyVersion
from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline
from auditcore.services.policy import policy_create, policy_version_publish
from auditcore.services.replay import corpus_starter_load
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


@dataclass(frozen=True)
class SeedResult:
    policy: PolicyVersion
    users: list[tuple[str, str, str]]
    job: IngestJob
    audit_round: AuditRound | None


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
    return SeedResult(policy=policy, users=users, job=job, audit_round=_demo_round(policy))


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
