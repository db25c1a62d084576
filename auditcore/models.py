"""The audit's data: traffic, policy, ingest jobs and the audit log."""

from django.conf import settings
from django.db import models


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


class Surface(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Policy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "number"], name="policy_version_number_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(published_at__isnull=False),
                name="policy_version_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Category(models.Model):
    """A policy category written as help-when / decline-when conditions."""

    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.CASCADE, related_name="categories"
    )
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    help_when = models.JSONField(default=list, blank=True)
    decline_when = models.JSONField(default=list, blank=True)
    # [{"code": "...", "label": "..."}]
    reason_codes = models.JSONField(default=list, blank=True)
    # [{"prompt": "...", "expected": "help" | "decline"}]
    examples = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    high_stakes = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["policy_version", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "slug"], name="category_slug_unique_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy_version})"


class IngestJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Origin(models.TextChoices):
        COMMAND = "command", "Command line"
        UPLOAD = "upload", "Browser upload"
        API = "api", "API push"

    source = models.CharField(max_length=100)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    format = models.CharField(max_length=10, default="auto")
    filename = models.CharField(max_length=255, blank=True)
    file_path = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_bytes = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Ingest #{self.pk} ({self.source}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def progress(self) -> float:
        """Share of the input read, in [0, 1]."""
        if self.is_finished:
            return 1.0
        if not self.total_bytes:
            return 0.0
        return min(1.0, self.bytes_done / self.total_bytes)


class QuarantinedRecord(models.Model):
    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="quarantined")
    line = models.PositiveIntegerField()
    field = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "line"]
        constraints = [
            # A resumed chunk must not quarantine the same line twice.
            models.UniqueConstraint(fields=["job", "line"], name="quarantine_line_unique_per_job"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} line {self.line}: {self.reason}"


class Interaction(models.Model):
    """One assistant turn from production, PII-redacted, classified and keyed for sampling."""

    source = models.CharField(max_length=100)
    external_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    day = models.DateField()
    surface = models.ForeignKey(Surface, on_delete=models.PROTECT, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    conversation_id = models.CharField(max_length=200, blank=True)
    turn = models.PositiveIntegerField(default=1)
    prompt = models.TextField()
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
    category = models.SlugField(max_length=50)
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
        IngestJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
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
        ]
        indexes = [
            # The draw reads the smallest priority keys of a stratum.
            models.Index(fields=["stratum_key", "priority_key"], name="interaction_draw"),
            # Dashboards and round scoping filter by period, surface and model version.
            models.Index(fields=["day", "surface", "model_version"], name="interaction_day_scope"),
            models.Index(fields=["conversation_id", "turn"], name="interaction_conversation"),
            models.Index(fields=["ingest_job"], name="interaction_ingest_job"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class AuditEvent(models.Model):
    """Who changed a label, a policy or a round, and what it was before and after."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_event_object")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class StratumCount(models.Model):
    """Population counts per day × surface × model version × category × outcome.

    Kept current by ingest so that previews and estimates never count the big table.
    """

    day = models.DateField()
    surface = models.ForeignKey(Surface, on_delete=models.PROTECT, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    category = models.SlugField(max_length=50)
    outcome = models.CharField(max_length=16, choices=Label.choices)
    count = models.PositiveBigIntegerField(default=0)
    # Sums of the impact weight and its square, for the size measure's design effect.
    impact_sum = models.FloatField(default=0.0)
    impact_sq_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "surface", "model_version", "category", "outcome"],
                name="stratum_count_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category}/{self.outcome}: {self.count}"
