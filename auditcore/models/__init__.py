"""The audit's data; each area keeps its models in its own module."""

from auditcore.models.audit import AuditEvent
from auditcore.models.ingest import IngestJob, QuarantinedRecord
from auditcore.models.policy import Category, Policy, PolicyVersion
from auditcore.models.review import Adjudication, Lease, Verdict
from auditcore.models.rounds import (
    AuditRound,
    Decision,
    RoundItem,
    RoundQuota,
    RoundStratum,
    SizeMeasure,
)
from auditcore.models.traffic import (
    GatewayAction,
    Interaction,
    Label,
    ModelVersion,
    StratumCount,
    Surface,
)

__all__ = [
    "Adjudication",
    "AuditEvent",
    "AuditRound",
    "Category",
    "Decision",
    "GatewayAction",
    "IngestJob",
    "Interaction",
    "Label",
    "Lease",
    "ModelVersion",
    "Policy",
    "PolicyVersion",
    "QuarantinedRecord",
    "RoundItem",
    "RoundQuota",
    "RoundStratum",
    "SizeMeasure",
    "StratumCount",
    "Surface",
    "Verdict",
]
