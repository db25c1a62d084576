"""Alerts when a round's figures move against the previous round: stored once, sent to a webhook.

Three kinds, each compared with the previous round of the same template (or of any, when the
round has none): the served false-refusal rate rose beyond the round's interval (its lower bound
is above the previous estimate), a segment newly flagged as refused more, and a cross-surface
inconsistency group (the same prompt helped on one surface and refused on another) that the
previous round's period did not have. The estimator is read in `round_figures` only; the
comparison works on plain `RoundFigures`.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from auditcore.consistency import prompt_digest
from auditcore.lazy import LazyModule
from auditcore.models import Alert, AuditRound
from auditcore.selectors.consistency import surface_consistency
from auditcore.selectors.estimates import round_estimates

logger = logging.getLogger(__name__)

# Rates on fewer reviewed items than this are too unstable to alert on.
MIN_ALERT_N = 10
# A round closed longer ago than this is no longer checked by the schedule.
RECENT_DAYS = 8

httpx = LazyModule("httpx")  # imported by the first webhook sent, not by every worker


@dataclass(frozen=True)
class RateFigure:
    estimate: float
    lower: float
    upper: float
    n: int


@dataclass(frozen=True)
class RoundFigures:
    name: str
    frr: RateFigure | None  # served layer: what users got
    flagged_segments: frozenset[str] = frozenset()
    # prompt digest (hex) -> a description naming the surfaces, never the prompt's text
    inconsistent: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertDraft:
    kind: str
    subject: str
    message: str


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def round_figures(audit_round: AuditRound) -> RoundFigures:
    """What alerts compare, read from the estimates selector's public functions (only here)."""
    estimates = round_estimates(audit_round)
    rate = estimates.headline.layers["served"]["frr"]
    frr = None
    # "Too few reviewed" is not shown as a rate, so it cannot raise an alert either.
    if not rate.too_few and None not in (rate.estimate, rate.lower, rate.upper):
        frr = RateFigure(rate.estimate, rate.lower, rate.upper, rate.n)
    flagged = frozenset(row.segment for row in estimates.disparity if row.flagged)
    inconsistent = {}
    for group in surface_consistency(audit_round.period_start, audit_round.period_end).groups:
        helped = sorted(c.surface for c in group.surfaces if c.helped)
        refused = sorted(c.surface for c in group.surfaces if c.refused)
        inconsistent[prompt_digest(group.prompt).hex()] = (
            f"a prompt ({group.interactions} interactions) was helped on {', '.join(helped)} "
            f"and refused on {', '.join(refused)}"
        )
    return RoundFigures(audit_round.name, frr, flagged, inconsistent)


def compare_figures(current: RoundFigures, previous: RoundFigures) -> list[AlertDraft]:
    """The alerts `current` raises against `previous` (pure: plain figures in, drafts out)."""
    drafts = []
    now, before = current.frr, previous.frr
    if (
        now is not None
        and before is not None
        and min(now.n, before.n) >= MIN_ALERT_N
        and now.lower > before.estimate
    ):
        drafts.append(
            AlertDraft(
                Alert.Kind.FRR_RISE,
                "served.frr",
                f"False-refusal rate (served) rose in {current.name}: {_pct(now.estimate)} "
                f"(95% CI {_pct(now.lower)}–{_pct(now.upper)}, n = {now.n}) against "
                f"{_pct(before.estimate)} in {previous.name}, beyond the interval.",
            )
        )
    for segment in sorted(current.flagged_segments - previous.flagged_segments):
        drafts.append(
            AlertDraft(
                Alert.Kind.DISPARITY,
                f"segment:{segment}"[:300],
                f"New disparity flag in {current.name}: users in segment {segment!r} are refused "
                f"more than others (not flagged in {previous.name}).",
            )
        )
    for digest, description in sorted(current.inconsistent.items()):
        if digest not in previous.inconsistent:
            drafts.append(
                AlertDraft(
                    Alert.Kind.INCONSISTENCY,
                    f"prompt:{digest}",
                    f"New cross-surface inconsistency in {current.name}: {description}.",
                )
            )
    return drafts


def previous_round(audit_round: AuditRound) -> AuditRound | None:
    earlier = AuditRound.objects.filter(
        status__in=[AuditRound.Status.OPEN, AuditRound.Status.CLOSED],
        period_end__lt=audit_round.period_start,
        supplement_of=None,
    ).exclude(pk=audit_round.pk)
    if audit_round.template_id is not None:
        earlier = earlier.filter(template_id=audit_round.template_id)
    return earlier.order_by("-period_end", "-pk").first()


def round_alerts_check(*, audit_round: AuditRound) -> list[Alert]:
    """Raise this round's new alerts (none twice) and send them; returns the alerts raised."""
    previous = previous_round(audit_round)
    if previous is None:
        return []
    drafts = compare_figures(round_figures(audit_round), round_figures(previous))
    raised = []
    for draft in drafts:
        try:
            with transaction.atomic():
                alert, created = Alert.objects.get_or_create(
                    round=audit_round,
                    kind=draft.kind,
                    subject=draft.subject,
                    defaults={"message": draft.message},
                )
        except IntegrityError:
            continue  # a concurrent check raised it first
        if created:
            raised.append(alert)
    alerts_send(alerts=raised)
    return raised


def alerts_check_recent() -> int:
    """The scheduled check: open rounds and those closed lately; unsent alerts are retried."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    rounds = AuditRound.objects.filter(
        Q(status=AuditRound.Status.OPEN) | Q(status=AuditRound.Status.CLOSED, closed_at__gte=since),
        supplement_of=None,
    )
    raised = sum(len(round_alerts_check(audit_round=r)) for r in rounds.order_by("period_start"))
    alerts_send(alerts=list(Alert.objects.filter(sent_at=None, created_at__gte=since)))
    return raised


def _slack_escape(text: str) -> str:
    # Slack reads <...> as links and mentions; names of segments and surfaces come from traffic.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alerts_send(*, alerts: list[Alert]) -> None:
    """POST each unsent alert to ALERT_WEBHOOK_URL as Slack-compatible {"text": ...}."""
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        return
    for alert in alerts:
        if alert.sent_at is not None:
            continue
        try:
            response = httpx.post(
                url,
                json={"text": _slack_escape(f"Refusal Audit: {alert.message}")},
                timeout=settings.ALERT_WEBHOOK_TIMEOUT,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:1000]
            Alert.objects.filter(pk=alert.pk).update(send_error=error)
            logger.warning("alert %s not sent: %s", alert.pk, error)
            continue
        alert.sent_at = timezone.now()
        Alert.objects.filter(pk=alert.pk).update(sent_at=alert.sent_at, send_error="")


@transaction.atomic
def alert_dismiss(*, alert: Alert) -> Alert:
    alert.dismissed = True
    alert.save(update_fields=["dismissed"])
    return alert
