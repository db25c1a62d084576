"""A safety lead confirms or overturns the classifier's label of a discordant gate response."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from auditcore import roles
from auditcore.exceptions import NOT_FOUND, ApplicationError
from auditcore.models import Expect, GateDecision, GateLabelReview
from auditcore.models.traffic import Label
from auditcore.selectors.replay import discordant_pairs
from auditcore.services.audit import audit_event_record


@transaction.atomic
def gate_label_review(
    *, actor: AbstractBaseUser, decision_id: int, result_id: int, label: str
) -> GateLabelReview:
    """Record the label a safety lead gives one response of a discordant must-help prompt."""
    if not roles.is_safety_lead(actor):
        raise ApplicationError("Only a safety lead may check the labels behind a gate decision.")
    if label not in Label.values:
        raise ApplicationError(
            f"label: must be one of {', '.join(Label.values)}", extra={"field": "label"}
        )
    decision = GateDecision.objects.select_for_update().filter(pk=decision_id).first()
    if decision is None:
        raise ApplicationError(f"no gate decision {decision_id}", extra={"code": NOT_FOUND})
    if decision.is_accepted:
        raise ApplicationError(
            "decision: already accepted; its labels can no longer change", {"field": "decision"}
        )
    result = next(
        (
            r
            for pair in discordant_pairs(decision, Expect.MUST_HELP)
            for r in (pair.baseline, pair.candidate)
            if r.pk == result_id
        ),
        None,
    )
    if result is None:
        raise ApplicationError(
            f"result: {result_id} is not a response of a discordant prompt of this decision",
            extra={"field": "result"},
        )
    review, _ = GateLabelReview.objects.update_or_create(
        decision=decision,
        result=result,
        defaults={"label": label, "classifier_label": result.label, "reviewed_by": actor},
    )
    review.full_clean()
    audit_event_record(
        actor=actor,
        action="gate_label.review",
        obj=decision,
        before={"result": result.pk, "label": result.label},
        after={"result": result.pk, "label": label},
    )
    return review
