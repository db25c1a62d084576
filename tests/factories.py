"""factory_boy factories for the domain's rows, with defaults that make a valid, ordinary row.

Shared things are fetched, not duplicated: a surface or model version by name, the "Central
policy", its version by number (version 1, published, with the Medical category) and a
category by (version, slug), so two factories that need "the policy version" get the same one.

Users with a role go through the user service (role group, staff flag, audit event). A stored
verdict (`VerdictFactory`) is one already locked, as the review service leaves it (its lease is
gone); a reviewer *submitting* a verdict needs a lease first: `tests.support.review_round.
offered_verdict`. Publishing a policy through the services needs two leads:
`tests.support.policy_review.publish_reviewed`.
"""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from auditcore import roles, sampling
from auditcore.consistency import prompt_digest
from auditcore.models import (
    AuditRound,
    Category,
    GateDecision,
    Interaction,
    Label,
    Lease,
    ModelVersion,
    Policy,
    PolicyVersion,
    RoundItem,
    RoundStratum,
    StratumCount,
    Surface,
    Verdict,
)
from auditcore.services.users import user_create

DAY = dt.date(2026, 11, 1)
PASSWORD = "correct horse battery staple"
REASON_CODES = [
    {"code": "general_info", "label": "General information is fine"},
    {"code": "personal_dosing", "label": "Personal dosing advice"},
    {"code": "self_harm_risk", "label": "Risk of self-harm"},
]


class UserFactory(DjangoModelFactory):
    """A user with `role` (one of auditcore.roles.ROLES) made by the user service; role=None
    makes a user with no role at all."""

    class Meta:
        model = get_user_model()

    username = factory.LazyAttributeSequence(lambda o, n: f"{o.role or 'user'}-{n}")
    password = PASSWORD
    role = None

    @classmethod
    def _create(cls, model_class, *args, role=None, password=PASSWORD, **kwargs):
        if role is None:
            return model_class.objects.create_user(password=password, **kwargs)
        return user_create(role=role, password=password, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, role=None, password=PASSWORD, **kwargs):
        """Unsaved, without role or password (bulk loads set one shared hash)."""
        return model_class(**kwargs)


class ReviewerFactory(UserFactory):
    role = roles.REVIEWER


class SafetyLeadFactory(UserFactory):
    role = roles.SAFETY_LEAD


class AdminFactory(UserFactory):
    role = roles.ADMIN


class ViewerFactory(UserFactory):
    role = roles.VIEWER


class SurfaceFactory(DjangoModelFactory):
    class Meta:
        model = Surface
        django_get_or_create = ("name",)

    name = "chat"


class ModelVersionFactory(DjangoModelFactory):
    class Meta:
        model = ModelVersion
        django_get_or_create = ("name",)

    name = "m1"


class PolicyFactory(DjangoModelFactory):
    class Meta:
        model = Policy
        django_get_or_create = ("name",)

    name = "Central policy"


class CategoryFactory(DjangoModelFactory):
    """A category of the default policy version, with nothing in its lists."""

    class Meta:
        model = Category
        django_get_or_create = ("policy_version", "slug")

    policy_version = factory.SubFactory("tests.factories.PolicyVersionFactory")
    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("_", " ").capitalize())


class MedicalCategoryFactory(CategoryFactory):
    """The Medical category, with three reason codes."""

    slug = "medical"
    description = "Health questions."
    help_when = factory.LazyFunction(lambda: ["General health information"])
    decline_when = factory.LazyFunction(lambda: ["Instructions for overdose"])
    reason_codes = factory.LazyFunction(lambda: [dict(code) for code in REASON_CODES])


class PolicyVersionFactory(DjangoModelFactory):
    """Version `number` (1) of the Central policy, published, with its Medical category;
    `medical=None` leaves the category out."""

    class Meta:
        model = PolicyVersion
        django_get_or_create = ("policy", "number")
        skip_postgeneration_save = True

    policy = factory.SubFactory(PolicyFactory)
    number = 1
    status = PolicyVersion.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)
    medical = factory.RelatedFactory(MedicalCategoryFactory, factory_related_name="policy_version")


class InteractionFactory(DjangoModelFactory):
    """A refused medical prompt on `DAY`, keyed into its stratum like ingest keys it."""

    class Meta:
        model = Interaction

    source = "test"
    external_id = factory.Sequence(lambda n: f"i{n}")
    occurred_at = factory.LazyFunction(timezone.now)
    day = DAY
    surface = factory.SubFactory(SurfaceFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    prompt = factory.Sequence(lambda n: f"Interaction prompt {n}")
    prompt_digest = factory.LazyAttribute(lambda o: prompt_digest(o.prompt))
    response = "I can't help with that."
    category = "medical"
    response_label = Label.REFUSAL
    served_label = factory.SelfAttribute("response_label")
    detector_version = "test"
    u = 0.5
    priority_key = factory.SelfAttribute("u")
    stratum_key = factory.LazyAttribute(
        lambda o: sampling.stratum_key(o.day, o.category, o.response_label, o.model_version.name)
    )


class AuditRoundFactory(DjangoModelFactory):
    """An open round of one day (`DAY`) under the default policy version."""

    class Meta:
        model = AuditRound

    name = factory.Sequence(lambda n: f"Round {n}")
    policy_version = factory.SubFactory(PolicyVersionFactory)
    period_start = DAY
    period_end = factory.SelfAttribute("period_start")
    salt = factory.Sequence(lambda n: f"salt-{n}")
    status = AuditRound.Status.OPEN


class RoundStratumFactory(DjangoModelFactory):
    class Meta:
        model = RoundStratum

    round = factory.SubFactory(AuditRoundFactory)
    day = factory.SelfAttribute("round.period_start")
    category = "medical"
    outcome = Label.REFUSAL
    model_version = factory.SubFactory(ModelVersionFactory)
    stratum_key = factory.LazyAttribute(
        lambda o: sampling.stratum_key(o.day, o.category, o.outcome, o.model_version.name)
    )
    population = 100
    planned = 1
    sampled = factory.SelfAttribute("planned")
    salt = factory.SelfAttribute("round.salt")


class RoundItemFactory(DjangoModelFactory):
    """A pending item of a round (weight 1/π) under the round's policy version."""

    class Meta:
        model = RoundItem

    round = factory.SubFactory(AuditRoundFactory)
    interaction = factory.SubFactory(InteractionFactory)
    stratum = None
    inclusion_probability = 1.0
    weight = factory.LazyAttribute(lambda o: 1 / o.inclusion_probability)
    policy_version = factory.SelfAttribute("round.policy_version")
    queue_order = factory.Sequence(float)


class LeaseFactory(DjangoModelFactory):
    """The item offered to the reviewer for ten minutes, as their queue would."""

    class Meta:
        model = Lease
        django_get_or_create = ("item", "reviewer")

    item = factory.SubFactory(RoundItemFactory)
    reviewer = factory.SubFactory(ReviewerFactory)
    taken_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.taken_at + dt.timedelta(minutes=10))


class VerdictFactory(DjangoModelFactory):
    """A verdict as stored once locked (the review service has removed its lease)."""

    class Meta:
        model = Verdict

    item = factory.SubFactory(RoundItemFactory)
    reviewer = factory.SubFactory(ReviewerFactory)
    decision = "help"
    policy_version = factory.SelfAttribute("item.policy_version")
    locked_at = factory.LazyFunction(timezone.now)


class StratumCountFactory(DjangoModelFactory):
    """Ingest's count of one stratum (by day, surface, model, category, outcome, gateway)."""

    class Meta:
        model = StratumCount
        # The cell's unique key: one row per cell, added to.
        django_get_or_create = StratumCount._meta.constraints[0].fields

    day = DAY
    surface = factory.SubFactory(SurfaceFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    category = "medical"
    outcome = Label.REFUSAL
    gateway_changed = False


class GateDecisionFactory(DjangoModelFactory):
    """A FAIL recorded between two runs (one run compared with itself unless told)."""

    class Meta:
        model = GateDecision

    baseline = None
    candidate = factory.SelfAttribute("baseline")
    k = 1
    n00, n01, n10, n11 = 0, 1, 0, 0
    delta, lower, upper, p_value = 1, 0, 1, 0.5
    outcome = GateDecision.Outcome.FAIL
