"""The audit's data; each area keeps its models in its own module."""

from auditcore.models.alerts import Alert
from auditcore.models.audit import AuditEvent
from auditcore.models.exports import ExportFormat, ExportJob
from auditcore.models.gate_review import GateLabelReview
from auditcore.models.ingest import IngestChunk, IngestJob, QuarantinedRecord
from auditcore.models.policy import Category, Policy, PolicyVersion
from auditcore.models.recategorise import RecategoriseJob
from auditcore.models.replay import (
    Corpus,
    CorpusPrompt,
    CorpusSnapshot,
    Endpoint,
    Expect,
    GateDecision,
    RefusalCause,
    ReplayResult,
    ReplayRun,
    SnapshotPrompt,
)
from auditcore.models.review import Adjudication, ItemComment, JudgedItem, Lease, Verdict
from auditcore.models.rounds import (
    AuditRound,
    Decision,
    GoldItem,
    RoundItem,
    RoundQuota,
    RoundStratum,
    RoundTemplate,
    SizeMeasure,
)
from auditcore.models.security import LoginThrottle
from auditcore.models.tokens import ApiToken
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
    "Alert",
    "ApiToken",
    "AuditEvent",
    "AuditRound",
    "Category",
    "Corpus",
    "CorpusPrompt",
    "CorpusSnapshot",
    "Decision",
    "Endpoint",
    "Expect",
    "ExportFormat",
    "ExportJob",
    "GateDecision",
    "GateLabelReview",
    "GatewayAction",
    "GoldItem",
    "IngestChunk",
    "IngestJob",
    "Interaction",
    "ItemComment",
    "JudgedItem",
    "Label",
    "Lease",
    "LoginThrottle",
    "ModelVersion",
    "Policy",
    "PolicyVersion",
    "QuarantinedRecord",
    "RecategoriseJob",
    "RefusalCause",
    "ReplayResult",
    "ReplayRun",
    "RoundItem",
    "RoundQuota",
    "RoundStratum",
    "RoundTemplate",
    "SizeMeasure",
    "SnapshotPrompt",
    "StratumCount",
    "Surface",
    "Verdict",
]
