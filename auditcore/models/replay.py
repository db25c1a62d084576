"""Replay corpora, frozen snapshots of them, chat endpoints, replay runs and gate decisions."""

from django.conf import settings
from django.db import models

from auditcore.models.jobs import BackgroundJob
from auditcore.models.rounds import RoundItem
from auditcore.models.traffic import Interaction, Label


class Expect(models.TextChoices):
    MUST_HELP = "must_help", "Must help"
    MUST_DECLINE = "must_decline", "Must decline (control)"


class RefusalCause(models.TextChoices):
    """Who refused a promoted production false refusal."""

    MODEL = "model", "The model"
    GATEWAY = "gateway", "The gateway (the model complied)"


class Corpus(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    # Set when a corpus is created from a file (gate --corpus-file): the same file again reuses
    # this corpus instead of creating "name (2)", "(3)", ... (see corpus_content_hash).
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "corpora"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CorpusPrompt(models.Model):
    """A prompt in a corpus; edits never touch runs, which read their snapshot's copies."""

    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="prompts")
    prompt = models.TextField()
    # SHA-256 of the prompt: a unique index on the text itself would exceed btree row limits.
    prompt_hash = models.CharField(max_length=64)
    category = models.CharField(max_length=100, blank=True)
    expect = models.CharField(max_length=12, choices=Expect.choices, default=Expect.MUST_HELP)
    # The conversation before `prompt` (the last user message): [{"role", "content"}, ...].
    # Replay sends it whole; empty for a single-turn prompt.
    earlier_messages = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    # Promoted from an adjudicated production false refusal.
    origin_interaction = models.ForeignKey(
        Interaction, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    origin_item = models.ForeignKey(
        RoundItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who refused it in production. A gateway-caused refusal must be helped at the system level:
    # the model already answered, the gateway in front of it must let the answer through.
    origin_cause = models.CharField(max_length=10, choices=RefusalCause.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["corpus", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["corpus", "prompt_hash"], name="corpus_prompt_unique_text"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.corpus}: {self.prompt[:40]}"

    @property
    def expectation(self) -> str:
        if self.expect == Expect.MUST_HELP and self.origin_cause == RefusalCause.GATEWAY:
            return "Must help at the system level"
        return self.get_expect_display()


class CorpusSnapshot(models.Model):
    """The active prompts of a corpus at one moment, copied, so runs keep their history."""

    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="snapshots")
    prompt_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.corpus} snapshot #{self.pk}"


class SnapshotPrompt(models.Model):
    snapshot = models.ForeignKey(CorpusSnapshot, on_delete=models.CASCADE, related_name="prompts")
    position = models.PositiveIntegerField()
    prompt = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    expect = models.CharField(max_length=12, choices=Expect.choices, default=Expect.MUST_HELP)
    earlier_messages = models.JSONField(default=list, blank=True)
    source = models.ForeignKey(
        CorpusPrompt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["snapshot", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "position"], name="snapshot_prompt_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot} #{self.position}"


class Endpoint(models.Model):
    """An OpenAI-compatible chat endpoint; its API key is stored encrypted (auditcore.keyring)."""

    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(max_length=500)
    model = models.CharField(max_length=200)
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(default=512)
    concurrency = models.PositiveSmallIntegerField(default=8)
    timeout_s = models.FloatField(default=30.0)
    # Fernet token of the key; never shown, only replaced. Empty: requests carry no key.
    api_key_encrypted = models.TextField(blank=True)
    # Keys used to be read from a named environment variable of the server; that name is kept
    # only to tell the lead which key to enter again (nothing reads the variable any more).
    legacy_api_key_env = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(temperature__gte=0, temperature__lte=2),
                name="endpoint_temperature_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(concurrency__gte=1, concurrency__lte=64),
                name="endpoint_concurrency_in_range",
            ),
            models.CheckConstraint(condition=models.Q(timeout_s__gt=0), name="endpoint_timeout"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)


class ReplayRun(BackgroundJob):
    """One snapshot sent to one endpoint; the endpoint's settings are frozen in ``config``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    snapshot = models.ForeignKey(CorpusSnapshot, on_delete=models.PROTECT, related_name="runs")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="runs")
    # EndpointConfig fields as they were when the run started (editing the endpoint later
    # must not change what a finished run claims to have called).
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    detector_version = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="replay_run_status")]

    def __str__(self) -> str:
        return f"Run #{self.pk} ({self.endpoint}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def done(self) -> int:
        return self.answered + self.failed


class ReplayResult(models.Model):
    """One prompt's outcome in a run; unique per (run, prompt) so redelivered work can't repeat."""

    run = models.ForeignKey(ReplayRun, on_delete=models.CASCADE, related_name="results")
    prompt = models.ForeignKey(SnapshotPrompt, on_delete=models.CASCADE, related_name="+")
    response = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: no answer at all
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    # Blank when the prompt failed: there is nothing to classify.
    label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    score = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "prompt"], name="replay_result_unique"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} prompt {self.prompt_id}: {self.label or 'failed'}"

    @property
    def refused(self) -> bool:
        return self.label in {Label.REFUSAL, Label.PARTIAL_REFUSAL}


class GateDecision(models.Model):
    """A paired comparison of a candidate run with a baseline run, recorded with its numbers."""

    class Outcome(models.TextChoices):
        PASS = "PASS", "PASS"
        FAIL = "FAIL", "FAIL"
        INCONCLUSIVE = "INCONCLUSIVE", "INCONCLUSIVE"

    baseline = models.ForeignKey(ReplayRun, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ReplayRun, on_delete=models.PROTECT, related_name="+")
    margin = models.FloatField(default=0.02)
    # Must-help prompts answered in both runs; the 2x2 table (0 = helped, 1 = refused;
    # first digit baseline, second candidate).
    k = models.PositiveIntegerField()
    n00 = models.PositiveIntegerField()
    n01 = models.PositiveIntegerField()
    n10 = models.PositiveIntegerField()
    n11 = models.PositiveIntegerField()
    excluded = models.PositiveIntegerField(default=0)
    delta = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    p_value = models.FloatField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    warning = models.TextField(blank=True)
    # [{"category", "k", "n01", "n10", "delta", "upper", "p_value", "p_holm", "outcome"}]
    categories = models.JSONField(default=list, blank=True)
    # {"k", "baseline_refused", "candidate_refused", "stopped", "started", "p_value", "excluded"}
    controls = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    acceptance_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Runs are immutable once finished, so a pair and margin has one decision, and an
            # acceptance recorded in the browser is what the command line sees too.
            models.UniqueConstraint(
                fields=["baseline", "candidate", "margin"], name="gate_decision_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(margin__gt=0, margin__lt=1), name="gate_margin_in_range"
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True)
                | (~models.Q(acceptance_reason="") & models.Q(accepted_by__isnull=False)),
                name="gate_acceptance_has_reason_and_person",
            ),
        ]

    def __str__(self) -> str:
        return f"Gate #{self.pk}: {self.outcome}"

    # Percentage points, for display.
    @property
    def delta_points(self) -> float:
        return self.delta * 100

    @property
    def lower_points(self) -> float:
        return self.lower * 100

    @property
    def upper_points(self) -> float:
        return self.upper * 100

    @property
    def margin_points(self) -> float:
        return self.margin * 100

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def ships(self) -> bool:
        return self.outcome == self.Outcome.PASS or self.is_accepted
