"""Audit rounds: scope, quotas, the strata drawn and the items sampled, with design weights."""

from django.conf import settings
from django.db import models

from auditcore.models.policy import Policy, PolicyVersion
from auditcore.models.traffic import Interaction, Label, ModelVersion, Surface


class SizeMeasure(models.TextChoices):
    UNIFORM = "uniform", "Uniform"
    IMPACT = "impact", "User impact"
    SQRT_IMPACT = "sqrt_impact", "Square root of impact"
    SESSION = "session", "Session importance"


class Decision(models.TextChoices):
    """What a well-calibrated assistant should have done."""

    HELP = "help", "Should help"
    DECLINE = "decline", "Should decline"
    UNSURE = "unsure", "Unsure"


class RoundTemplate(models.Model):
    """The standing settings of a recurring round: each week a round over the week before."""

    name = models.CharField(max_length=100, unique=True)
    # Rounds review under this policy's newest published version at the time they open.
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="+")
    surfaces = models.ManyToManyField(Surface, blank=True, related_name="+")
    model_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="+")
    # {"category/outcome": minimum items}, the standing floors.
    quotas = models.JSONField(default=dict, blank=True)
    budget = models.PositiveIntegerField(default=250)
    double_review_share = models.FloatField(default=0.2)
    gold_rate = models.FloatField(default=0.0)
    size_measure = models.CharField(
        max_length=12, choices=SizeMeasure.choices, default=SizeMeasure.UNIFORM
    )
    # The scheduled check opens last week's round on this weekday (0 = Monday) or the first
    # check after it, so a missed day catches up.
    weekday = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="round_template_weekday"
            ),
            models.CheckConstraint(
                condition=models.Q(double_review_share__gte=0, double_review_share__lte=1),
                name="round_template_double_review_share",
            ),
            models.CheckConstraint(
                condition=models.Q(gold_rate__gte=0, gold_rate__lt=1),
                name="round_template_gold_rate",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AuditRound(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        DRAWING = "drawing", "Drawing"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200, unique=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    # Empty means every surface / model version in the period.
    surfaces = models.ManyToManyField(Surface, blank=True, related_name="+")
    model_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="+")
    # The reviewers a lead assigned to the round; empty means every reviewer.
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_rounds"
    )
    size_measure = models.CharField(
        max_length=12, choices=SizeMeasure.choices, default=SizeMeasure.UNIFORM
    )
    double_review_share = models.FloatField(default=0.2)
    gold_rate = models.FloatField(default=0.0)
    budget = models.PositiveIntegerField(default=0)
    salt = models.CharField(max_length=64)
    # The stratification chosen at the first draw (auditcore.sampling.ALL_DIMS names), kept so
    # that growing the round extends the same strata; NULL until drawn.
    strata_dims = models.JSONField(null=True, blank=True)
    # A second-phase draw from this round's unsampled remainder: same frame, salt and strata.
    supplement_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="supplements"
    )
    template = models.ForeignKey(
        RoundTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="rounds"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    draw_progress = models.FloatField(default=0.0)
    draw_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="round_period_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(double_review_share__gte=0, double_review_share__lte=1),
                name="round_double_review_share_is_a_share",
            ),
            models.CheckConstraint(
                condition=models.Q(gold_rate__gte=0, gold_rate__lt=1),
                name="round_gold_rate_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RoundQuota(models.Model):
    """A safety lead's floor: at least this many items of a category with this model outcome."""

    round = models.ForeignKey(AuditRound, on_delete=models.CASCADE, related_name="quotas")
    category = models.SlugField(max_length=50)
    outcome = models.CharField(max_length=16, choices=Label.choices)
    min_items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "category", "outcome"], name="round_quota_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.round}: {self.category}/{self.outcome} ≥ {self.min_items}"


class RoundStratum(models.Model):
    """One stratum as drawn. N, n, τ and the salt are stored and never recomputed."""

    round = models.ForeignKey(AuditRound, on_delete=models.CASCADE, related_name="strata")
    # Dimensions the round collapsed are NULL (day, model version, surface, served) or "" (category,
    # outcome): the stratum pools their values.
    stratum_key = models.CharField(max_length=400)
    day = models.DateField(null=True, blank=True)
    category = models.SlugField(max_length=50, blank=True)
    outcome = models.CharField(max_length=16, choices=Label.choices, blank=True)
    # True: the gateway changed the answer; False: served as the model answered.
    gateway_changed = models.BooleanField(null=True, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    surface = models.ForeignKey(
        Surface, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    population = models.PositiveBigIntegerField()
    planned = models.PositiveIntegerField()
    sampled = models.PositiveIntegerField(default=0)
    # The (n+1)-th smallest priority key; NULL when the whole stratum was taken (π = 1).
    tau = models.FloatField(null=True, blank=True)
    salt = models.CharField(max_length=64)
    drawn = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "stratum_key"], name="round_stratum_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.round}: {self.stratum_key} ({self.sampled}/{self.population})"


class RoundItem(models.Model):
    """A sampled interaction (or a gold item) in a round, with its inclusion probability."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for verdicts"
        ADJUDICATION = "adjudication", "Needs adjudication"
        DONE = "done", "Final"

    round = models.ForeignKey(AuditRound, on_delete=models.CASCADE, related_name="items")
    interaction = models.ForeignKey(Interaction, on_delete=models.PROTECT, related_name="+")
    stratum = models.ForeignKey(
        RoundStratum, on_delete=models.CASCADE, null=True, blank=True, related_name="items"
    )
    inclusion_probability = models.FloatField(default=1.0)
    weight = models.FloatField(default=1.0)
    required_reviews = models.PositiveSmallIntegerField(default=1)
    verdict_count = models.PositiveSmallIntegerField(default=0)
    is_gold = models.BooleanField(default=False)
    gold_decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    # The policy version the verdicts should be made under (moves on re-review).
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    final_decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    # What the model did and what the user was served, as reviewers observed them after the
    # lock: set when the observations agree, or by a safety lead (observation_corrected_at,
    # with an AuditEvent). Blank: nobody observed it, or the observations disagree
    # (observation_disputed) and no lead has settled them; estimates then use the classifier.
    observed_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    observed_served_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    observation_disputed = models.BooleanField(default=False)
    observation_corrected_at = models.DateTimeField(null=True, blank=True)
    # Shuffles queue order so reviewers do not see strata in sequence.
    queue_order = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "interaction"], name="round_item_unique"),
            models.CheckConstraint(
                condition=models.Q(inclusion_probability__gt=0, inclusion_probability__lte=1),
                name="round_item_probability_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["round", "status", "queue_order"], name="round_item_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.round} item {self.pk}"


class GoldItem(models.Model):
    """An item with a known right answer, mixed blind into review queues to check reviewers."""

    interaction = models.OneToOneField(
        Interaction, on_delete=models.PROTECT, related_name="gold_item"
    )
    expected = models.CharField(
        max_length=10,
        choices=[(Decision.HELP, "Should help"), (Decision.DECLINE, "Should decline")],
    )
    note = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"gold {self.expected} for interaction {self.interaction_id}"
