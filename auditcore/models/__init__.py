"""The audit's data; each area keeps its models in its own module."""

from auditcore.models.audit import AuditEvent
from auditcore.models.ingest import IngestJob, QuarantinedRecord
from auditcore.models.policy import Category, Policy, PolicyVersion
from auditcore.models.traffic import (
    GatewayAction,
    Interaction,
    Label,
    ModelVersion,
    StratumCount,
    Surface,
)

__all__ = [
    "AuditEvent",
    "Category",
    "GatewayAction",
    "IngestJob",
    "Interaction",
    "Label",
    "ModelVersion",
    "Policy",
    "PolicyVersion",
    "QuarantinedRecord",
    "StratumCount",
    "Surface",
]
