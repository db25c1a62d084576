"""The two-axis dashboard: false refusals next to true refusals, with honest intervals.

A round (or a period pooling non-overlapping rounds): headline cards, breakdown tables (sortable
in the browser, CSV with ?format=csv&table=...), the trend chart per model version, disparity
between user segments, classifier validation, confirmed false refusals with promote buttons, and
the cross-surface consistency page (its own URL; the dashboard loads it lazily).
"""

import datetime as dt
import math

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from auditcore.charts import ChartPoint, trend_chart
from auditcore.csvsafe import csv_writer
from auditcore.models import AuditRound, Interaction
from auditcore.selectors import estimates as sel
from auditcore.selectors.replay import corpus_list
from auditcore.stats import RateEstimate
from reviewapp.access import safety_lead_required

CHART_METRICS = ("frr_benign", "trr_refusals", "missed_harm")
CHART_TITLES = {
    "frr_benign": "False-refusal rate (benign traffic)",
    "trr_refusals": "True-refusal rate (refusals)",
    "missed_harm": "Missed-harm rate (complied)",
}
TABLES = (*sel.DIMENSIONS, "disparity", "validation")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _get_round(pk: int) -> AuditRound:
    return get_object_or_404(sel.reportable_rounds(), pk=pk)


def _pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "no data"
    return f"{value:.1%}"


def rate_display(est: RateEstimate) -> dict:
    """What a rate cell shows: estimate, interval, n, n_eff, deff and the flags, as text."""
    if est.estimate is None:
        return {"no_data": True, "text": "no data", "sort": "", "raw": "", "est": est}
    return {
        "no_data": False,
        "text": _pct(est.estimate),
        "interval": f"{_pct(est.lower)}–{_pct(est.upper)}",
        "n": est.n,
        "n_eff": f"{est.n_eff:.1f}" if est.n_eff is not None else "—",
        "deff": f"{est.deff:.2f}" if est.deff is not None else "—",
        "unreliable": est.unreliable,
        "flags": [f.replace("_", " ") for f in est.flags if f != "zero_events"],
        "note": est.note,
        "sort": f"{est.estimate:.6f}",
        "raw": repr(est.estimate),
        "est": est,
    }


def _rates(rates: dict[str, RateEstimate]) -> list[dict]:
    return [{"key": k, "label": sel.RATE_LABELS[k], **rate_display(rates[k])} for k in sel.RATES]


def _parse_date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _chart(points: list[sel.TrendPoint]):
    periods: list[str] = []
    for p in sorted(points, key=lambda p: (p.start, p.period)):
        if p.period not in periods:
            periods.append(p.period)
    series = sorted({p.model_version for p in points})
    by_metric = {
        m: [ChartPoint(p.period, p.model_version, *_triple(p.rates[m])) for p in points]
        for m in CHART_METRICS
    }
    titles = {m: CHART_TITLES[m] for m in CHART_METRICS}
    return trend_chart(by_metric, titles, periods, series)


def _triple(est: RateEstimate) -> tuple:
    return est.estimate, est.lower, est.upper


def _context(request: HttpRequest, scope: sel.Scope, title: str, audit_round=None) -> dict:
    estimates = sel.scope_estimates(scope)
    granularity = "week" if request.GET.get("trend") == "week" else "round"
    points = sel.trend(granularity, known=estimates.rows_by_round)
    h = estimates.headline
    return {
        "title": title,
        "round": audit_round,
        "scope": scope,
        "estimates": estimates,
        "headline": h,
        "model_rates": _rates(h.rates),
        "served_rates": _rates(h.served_rates),
        "layers": [
            {"model": m, "served": s}
            for m, s in zip(_rates(h.rates), _rates(h.served_rates), strict=True)
        ],
        "shares": {
            "population": _pct(h.population.share),
            "model": rate_display(h.model_refused_share),
            "served": rate_display(h.served_refused_share),
            "gateway": rate_display(h.gateway_added_share),
        },
        "breakdowns": [
            {
                "key": dim,
                "label": label,
                "rows": [
                    {"row": row, "rates": _rates(row.rates)} for row in estimates.breakdowns[dim]
                ],
            }
            for dim, label in sel.DIMENSIONS.items()
        ],
        "rate_labels": [sel.RATE_LABELS[k] for k in sel.RATES],
        "disparity": [
            {
                "row": r,
                "crude": rate_display(r.rate),
                "adjusted": rate_display(r.adjusted_rate),
                "others": rate_display(r.others_adjusted_rate),
            }
            for r in estimates.disparity
        ],
        "validation": estimates.validation,
        "examples": sel.scope_examples(estimates),
        "corpora": list(corpus_list()),
        "chart": _chart(points),
        "granularity": granularity,
        "rounds": list(sel.reportable_rounds().order_by("-period_start", "-pk")[:100]),
        "here": request.get_full_path(),
    }


def _csv(estimates: sel.Estimates, table: str, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{table}.csv"'
    writer = csv_writer(response)
    if table in sel.DIMENSIONS:
        header = [table, "sampled", "unsure"]
        for k in sel.RATES:
            header += [k, f"{k}_lower", f"{k}_upper", f"{k}_n", f"{k}_n_eff", f"{k}_deff",
                       f"{k}_flags"]  # fmt: skip
        writer.writerow(header)
        for row in estimates.breakdowns[table]:
            line = [row.value, row.sampled, row.unsure]
            for k in sel.RATES:
                e = row.rates[k]
                line += [_num(e.estimate), _num(e.lower), _num(e.upper), e.n, _num(e.n_eff),
                         _num(e.deff), " ".join(e.flags)]  # fmt: skip
            writer.writerow(line)
    elif table == "disparity":
        writer.writerow(
            ["segment", "benign_n", "crude_rate", "adjusted_rate", "others_adjusted_rate",
             "ratio", "ratio_lower", "ratio_upper", "difference", "p_value", "p_holm", "flagged"]
        )  # fmt: skip
        for r in estimates.disparity:
            writer.writerow(
                [r.segment, r.benign, _num(r.rate.estimate),
                 _num(r.adjusted_rate.estimate), _num(r.others_adjusted_rate.estimate),
                 _num(r.ratio), _num(r.ratio_lower), _num(r.ratio_upper), _num(r.difference),
                 _num(r.p_value), _num(r.p_holm), r.flagged]
            )  # fmt: skip
    else:
        writer.writerow(
            ["category", "classifier_label", "model_version", "observed", "exact_agreement",
             "refusal_agreement", "drifting"]
        )  # fmt: skip
        for v in estimates.validation:
            writer.writerow(
                [v.category, v.classifier_label, v.model_version, v.observed,
                 _num(v.exact_agreement), _num(v.refusal_agreement), v.drifting]
            )  # fmt: skip
    return response


def _num(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "no data"
    return f"{value:.6g}"


def _respond(
    request: HtmxHttpRequest, scope: sel.Scope, title: str, filename: str, audit_round=None
):
    if request.GET.get("format") == "csv":
        table = request.GET.get("table", "category")
        if table not in TABLES:
            raise Http404("unknown table")
        return _csv(sel.scope_estimates(scope), table, filename)
    context = _context(request, scope, title, audit_round)
    template = "reviewapp/dashboard/dashboard.html"
    if request.htmx and request.htmx.target == "dashboard-body":
        template += "#body"
    return render(request, template, context)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def dashboard_index(request: HtmxHttpRequest) -> HttpResponse:
    """A period (?start=&end=) across rounds, or else the latest round."""
    start, end = _parse_date(request.GET.get("start")), _parse_date(request.GET.get("end"))
    if start and end and start <= end:
        scope = sel.period_scope(start, end)
        return _respond(request, scope, f"{start} – {end}", f"period-{start}-{end}")
    latest = sel.reportable_rounds().order_by("-period_start", "-pk").first()
    if latest is None:
        return render(request, "reviewapp/dashboard/empty.html", {})
    return _respond(request, sel.round_scope(latest), latest.name, f"round-{latest.pk}", latest)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def dashboard_round(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    return _respond(
        request, sel.round_scope(audit_round), audit_round.name, f"round-{pk}", audit_round
    )


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def dashboard_consistency(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    report = sel.surface_consistency(audit_round.period_start, audit_round.period_end)
    context = {"round": audit_round, "report": report}
    template = "reviewapp/dashboard/consistency.html"
    if request.htmx:
        template += "#groups"
    return render(request, template, context)


@require_GET
@safety_lead_required
def dashboard_interaction(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One example interaction: what was asked, what the model said, what users were served."""
    interaction = get_object_or_404(
        Interaction.objects.select_related("surface", "model_version"), pk=pk
    )
    return render(request, "reviewapp/dashboard/interaction.html", {"interaction": interaction})


urlpatterns = [
    path("", dashboard_index, name="index"),
    path("rounds/<int:pk>/", dashboard_round, name="round"),
    path("rounds/<int:pk>/consistency", dashboard_consistency, name="consistency"),
    path("interactions/<int:pk>", dashboard_interaction, name="interaction"),
]
