"""Production traffic: surfaces, model versions, interactions and their per-stratum counts."""

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact

from auditcore.consistency import DIGEST_BYTES
from auditcore.models.ingest import IngestJob


class Label(models.TextChoices):
    """What the model (or the system, after the gateway) did with a request."""

    COMPLIANCE = "compliance", "Complied"
    REFUSAL = "refusal", "Refused"
    PARTIAL_REFUSAL = "partial_refusal", "Partially refused"


class GatewayAction(models.TextChoices):
    NONE = "none", "None"
    BLOCKED = "blocked", "Blocked"
    REPLACED = "replaced", "Replaced"
    MODIFIED = "modified", "Modified"


class SeenName(models.Model):
    """A name ingest creates on first sight (a surface, a model version)."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The ingest job that first saw it, so a job page can list what it introduced.
    first_job = models.ForeignKey(
        IngestJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Surface(SeenName):
    pass


class ModelVersion(SeenName):
    pass


class Interaction(models.Model):
    """One assistant turn from production, PII-redacted, classified and keyed for sampling."""

    source = models.CharField(max_length=100)
    external_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    day = models.DateField()
    # Bulk ingest writes millions of rows: the writer resolves these ids itself in the same
    # transaction, and Django's collector still enforces PROTECT and SET_NULL on delete. Database
    # FK constraints would add three deferred trigger checks per inserted row (a large share of
    # the write's cost: bench/README.md), and single-column indexes on these few distinct
    # values serve no query; `interaction_day_scope` and `interaction_ingest_job` do.
    surface = models.ForeignKey(
        Surface, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    conversation_id = models.CharField(max_length=200, blank=True)
    turn = models.PositiveIntegerField(default=1)
    prompt = models.TextField()
    # auditcore.consistency.prompt_digest(prompt): equal for "the same prompt" (equal normalised
    # text), so the consistency report groups a period by it without reading every prompt.
    prompt_digest = models.BinaryField(max_length=DIGEST_BYTES, editable=False)
    earlier_turns = models.JSONField(default=list, blank=True)
    response = models.TextField()
    # NULL means no gateway touched the response; "" would be a served empty answer.
    served_response = models.TextField(null=True, blank=True)  # noqa: DJ001
    gateway_action = models.CharField(
        max_length=10, choices=GatewayAction.choices, default=GatewayAction.NONE
    )
    user_ref = models.CharField(max_length=64, blank=True)
    user_segment = models.CharField(max_length=64, default="unknown")
    impact_weight = models.FloatField(default=1.0)
    # How much the session mattered (the record's session_importance, >= 0): a size measure for
    # the draw and the weight of the impact-weighted false-refusal rate.
    # db_default: bulk writers that name their columns keep working without it.
    session_importance = models.FloatField(default=1.0, db_default=1.0)
    category = models.SlugField(max_length=50, db_index=False)
    category_score = models.FloatField(default=0.0)
    response_label = models.CharField(max_length=16, choices=Label.choices)
    response_score = models.FloatField(default=0.0)
    served_label = models.CharField(max_length=16, choices=Label.choices)
    detector_version = models.CharField(max_length=40)
    # Sampling: u in (0, 1] from a keyed hash of the record's key, k = u / x.
    u = models.FloatField()
    priority_key = models.FloatField()
    stratum_key = models.CharField(max_length=200)
    ingest_job = models.ForeignKey(
        IngestJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    redaction_count = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="interaction_idempotency_key"
            ),
            models.CheckConstraint(
                condition=models.Q(impact_weight__gt=0), name="interaction_impact_weight_positive"
            ),
            models.CheckConstraint(
                condition=Exact(Length("prompt_digest"), DIGEST_BYTES),
                name="interaction_prompt_digest_length",
            ),
        ]
        indexes = [
            # The draw reads the smallest priority keys of a stratum.
            models.Index(fields=["stratum_key", "priority_key"], name="interaction_draw"),
            # Dashboards and round scoping filter by period, surface and model version.
            models.Index(fields=["day", "surface", "model_version"], name="interaction_day_scope"),
            models.Index(fields=["ingest_job"], name="interaction_ingest_job"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class StratumCount(models.Model):
    """Population counts per day × surface × model version × category × outcome.

    Kept current by ingest so that previews and estimates never count the big table.
    """

    day = models.DateField()
    surface = models.ForeignKey(Surface, on_delete=models.PROTECT, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    category = models.SlugField(max_length=50)
    outcome = models.CharField(max_length=16, choices=Label.choices)
    # Whether a gateway changed what the model answered (gateway_action other than "none"): the
    # served outcome strata split on, so gateway blocks over compliant answers are oversampled.
    gateway_changed = models.BooleanField(default=False)
    count = models.PositiveBigIntegerField(default=0)
    # Sums of the impact weight and its square, for the size measure's design effect.
    impact_sum = models.FloatField(default=0.0)
    impact_sq_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "surface",
                    "model_version",
                    "category",
                    "outcome",
                    "gateway_changed",
                ],
                name="stratum_count_cell_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category}/{self.outcome}: {self.count}"
