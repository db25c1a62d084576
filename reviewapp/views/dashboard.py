"""The two-axis dashboard: false refusals next to true refusals, with honest intervals.

The served layer (what users got) first, the model layer beside it; "too few reviewed" where a
rate has too few respondents or events; n, events and deff under every figure. Everything below
the headline (tables, trend, refusal count, confirmed false refusals, CSV) is at one layer,
chosen with ?layer=served|model (served by default), plus the gateway-added refusals.

A round (or a period pooling non-overlapping rounds): headline cards, breakdown tables (sortable
in the browser, CSV with ?format=csv&table=...), the trend chart per model version, disparity
between user segments, classifier validation, confirmed false refusals with promote buttons, and
the cross-surface consistency page (its own URL; the dashboard loads it lazily).
"""

import datetime as dt
import math
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from auditcore.csvsafe import csv_writer
from auditcore.models import AuditRound, Interaction, Label
from auditcore.rates import AXES, LAYER_LABELS, RATE_HELP, refusal_cause
from auditcore.selectors import estimates as sel
from auditcore.selectors.consistency import CONSISTENCY_GROUPS, surface_consistency
from auditcore.selectors.detection import tier_agreement
from auditcore.selectors.insights import publications
from auditcore.selectors.replay import corpus_list, replay_trend
from auditcore.selectors.rounds import latest_reviewed_round
from auditcore.stats import RateEstimate
from reviewapp.access import results_reader_required, safety_lead_required
from reviewapp.charts import ChartPoint, trend_chart
from reviewapp.figures import flag_badges, overall_confusion
from reviewapp.figures import pct as _pct
from reviewapp.http import HtmxHttpRequest

# The trend shows the two axes first; its layer is the page's.
CHART_METRICS = ("frr", "trr", "missed_harm")
DEFAULT_LAYER = "served"
META_TIP = (
    "n: reviewed items in this rate's denominator with a final help/decline call. "
    "events: how many of them are in the numerator. "
    "deff: design effect of the unequal sampling weights (1 = as precise as a simple random "
    "sample; 2 = as precise as half as many items)."
)
TABLES = (*sel.DIMENSIONS, "disparity", "validation")
CONSISTENCY_PAGE_SIZE = 20


def _get_round(pk: int) -> AuditRound:
    return get_object_or_404(sel.reportable_rounds(), pk=pk)


def rate_display(est: RateEstimate) -> dict:
    """What a rate cell shows: estimate, interval, n, events, deff, then the flags as badges.

    Too few reviewed: the note instead of a percentage, the interval greyed.
    """
    if est.estimate is None:
        return {"no_data": True, "text": "no data", "sort": "", "raw": "", "est": est}
    return {
        "no_data": False,
        "too_few": est.too_few,
        "text": est.note if est.too_few else _pct(est.estimate),
        "too_few_tip": (
            f"Only {est.n} reviewed item{'s' if est.n != 1 else ''} with {est.events} event"
            f"{'s' if est.events != 1 else ''} behind this rate: too few to show a percentage."
        ),
        "interval": f"{_pct(est.lower)}–{_pct(est.upper)}",
        "n": est.n,
        "events": est.events,
        "deff": f"{est.deff:.2f}" if est.deff is not None else "—",
        "tip": META_TIP,
        "unreliable": est.unreliable,
        "badges": flag_badges(est),
        "note": "" if est.too_few else est.note,
        "sort": f"{est.estimate:.6f}",
        "raw": repr(est.estimate),
        "est": est,
    }


def _cell_of(layer: str, est: RateEstimate) -> dict:
    return {"layer": layer, "layer_label": LAYER_LABELS[layer], **rate_display(est)}


def _layers(layers: dict[str, dict[str, RateEstimate]], only: str | None = None) -> list[dict]:
    """One entry per rate with its served and model cells, served first (or `only` one)."""
    shown = [only] if only else sel.LAYERS
    return [
        {
            "key": k,
            "label": sel.RATE_LABELS[k],
            "help": RATE_HELP[k],
            "cells": [_cell_of(layer, layers[layer][k]) for layer in shown],
        }
        for k in sel.RATES
    ]


def _layer(request: HtmxHttpRequest) -> str | None:
    """The layer asked for (served by default); None when the parameter names no layer."""
    layer = request.GET.get("layer") or DEFAULT_LAYER
    return layer if layer in sel.LAYERS else None


def _href(request: HtmxHttpRequest, **changes: str) -> str:
    """This page's URL with some query parameters changed (the others kept)."""
    params = {k: v for k, v in request.GET.items() if k not in changes}
    params.update({k: v for k, v in changes.items() if v})
    return f"{request.path}?{urlencode(params)}" if params else request.path


def _parse_date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _chart(points: list[sel.TrendPoint], layer: str):
    periods: list[str] = []
    for p in sorted(points, key=lambda p: (p.start, p.period)):
        if p.period not in periods:
            periods.append(p.period)
    series = sorted({p.model_version for p in points})
    by_metric = {
        m: [ChartPoint(p.period, p.model_version, *_triple(p.layers[layer][m])) for p in points]
        for m in CHART_METRICS
    }
    titles = {m: f"{sel.RATE_LABELS[m]} ({layer})" for m in CHART_METRICS}
    return trend_chart(by_metric, titles, periods, series, publication_marks(points))


def publication_marks(points: list[sel.TrendPoint]) -> list[tuple[str | None, str]]:
    """(the first period on or after a publication, "v3: coding") since the chart's start."""
    starts: dict[str, object] = {}
    for p in sorted(points, key=lambda p: (p.start, p.period)):
        starts.setdefault(p.period, p.start)
    if not starts:
        return []
    marks = []
    for pub in publications(since=min(starts.values())):
        period = next((name for name, start in starts.items() if start >= pub.day), None)
        changed = f": {', '.join(pub.changed)}" if pub.changed else ""
        marks.append((period, f"v{pub.version.number}{changed}"))
    return marks


REPLAY_PANELS = {"must_help": "Must-help prompts refused", "must_decline": "Must-decline refused"}


def _replay_charts() -> list[dict]:
    """Per corpus, the refusal rates of every replayed model over time (beside production's)."""
    charts = []
    for i, (corpus, points) in enumerate(sorted(replay_trend().items())):
        periods = list(dict.fromkeys(p.day for p in points))
        series = sorted({p.model for p in points})
        by_metric = {
            expect: [
                ChartPoint(p.day, p.model, p.rate, p.lower, p.upper)
                for p in points
                if p.expect == expect
            ]
            for expect in REPLAY_PANELS
        }
        charts.append(
            {
                "corpus": corpus,
                "chart_id": f"replay-chart-{i}",
                "chart": trend_chart(by_metric, REPLAY_PANELS, periods, series),
            }
        )
    return charts


def _triple(est: RateEstimate) -> tuple:
    return est.estimate, est.lower, est.upper


def _context(
    request: HtmxHttpRequest, scope: sel.Scope, title: str, layer: str, audit_round=None
) -> dict:
    granularity = "week" if request.GET.get("trend") == "week" else "round"
    figures = sel.dashboard_figures(
        scope=scope, layer=layer, trend=granularity, examples=sel.EXAMPLE_LIMIT
    )
    estimates = figures.estimates
    h = estimates.headline
    rates = _layers(h.layers)
    return {
        "title": title,
        "round": audit_round,
        "scope": scope,
        "estimates": estimates,
        "headline": h,
        "completed": _pct(h.completed),
        "meta_tip": META_TIP,
        "axes": [r for r in rates if r["key"] in AXES],
        "rates": rates,
        "impact_frr": [_cell_of(layer, h.impact_frr[layer]) for layer in sel.LAYERS],
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
                    {
                        "row": row,
                        "rates": _layers(row.layers, only=layer),
                        "gateway_added": rate_display(row.gateway_added),
                    }
                    for row in estimates.breakdowns[dim]
                ],
                "csv": _href(request, format="csv", table=dim, layer=layer),
            }
            for dim, label in sel.DIMENSIONS.items()
        ],
        "rate_labels": [sel.RATE_LABELS[k] for k in sel.RATES],
        "layer": layer,
        "layer_label": LAYER_LABELS[layer],
        "layer_links": [
            {
                "layer": other,
                "label": LAYER_LABELS[other],
                "href": _href(request, layer=other),
                "current": other == layer,
            }
            for other in sel.LAYERS
        ],
        "trend_links": {g: _href(request, trend=g) for g in ("round", "week")},
        "csv": {t: _href(request, format="csv", table=t, layer=layer) for t in TABLES},
        "layer_labels": [LAYER_LABELS[layer] for layer in sel.LAYERS],
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
        "confusion": overall_confusion(estimates.validation),
        "tier_agreement": tier_agreement(scope.round_ids),
        "examples": figures.examples,
        "corpora": list(corpus_list()),
        "chart": _chart(figures.trend, layer),
        "replay_charts": _replay_charts(),
        "granularity": granularity,
        "rounds": list(sel.reportable_rounds().order_by("-period_start", "-pk")[:100]),
        "here": request.get_full_path(),
    }


def _estimate_columns(name: str) -> list[str]:
    return [name, f"{name}_lower", f"{name}_upper", f"{name}_n", f"{name}_events",
            f"{name}_deff", f"{name}_flags"]  # fmt: skip


def _estimate_cells(e: RateEstimate) -> list:
    return [_num(e.estimate), _num(e.lower), _num(e.upper), e.n, e.events, _num(e.deff),
            " ".join(e.flags)]  # fmt: skip


def _csv(estimates: sel.Estimates, table: str, filename: str) -> HttpResponse:
    """One table at the estimates' layer (the column names say which)."""
    layer = estimates.layer
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{table}-{layer}.csv"'
    writer = csv_writer(response)
    if table in sel.DIMENSIONS:
        header = [table, "sampled", "respondents", "unsure"]
        for k in sel.RATES:
            header += _estimate_columns(f"{layer}_{k}")
        writer.writerow([*header, *_estimate_columns("gateway_added")])
        for row in estimates.breakdowns[table]:
            line = [row.value, row.sampled, row.respondents, row.unsure]
            for k in sel.RATES:
                line += _estimate_cells(row.layers[layer][k])
            writer.writerow([*line, *_estimate_cells(row.gateway_added)])
    elif table == "disparity":
        writer.writerow(
            ["layer", "segment", "respondents", "others_respondents", "events", "compared",
             "crude_rate", "adjusted_rate", "others_adjusted_rate",
             "ratio", "ratio_lower", "ratio_upper", "difference", "p_value", "p_holm", "flagged"]
        )  # fmt: skip
        for r in estimates.disparity:
            writer.writerow(
                [layer, r.segment, r.respondents, r.others_respondents, r.events,
                 r.comparable or r.note, _num(r.rate.estimate),
                 _num(r.adjusted_rate.estimate), _num(r.others_adjusted_rate.estimate),
                 _num(r.ratio), _num(r.ratio_lower), _num(r.ratio_upper), _num(r.difference),
                 _num(r.p_value), _num(r.p_holm), r.flagged]
            )  # fmt: skip
    else:
        writer.writerow(
            ["layer", "category", "classifier_label", "model_version", "observed",
             "exact_agreement", "refusal_agreement", "drifting"]
        )  # fmt: skip
        for v in estimates.validation:
            writer.writerow(
                [layer, v.category, v.classifier_label, v.model_version, v.observed,
                 _num(v.exact_agreement), _num(v.refusal_agreement), v.drifting]
            )  # fmt: skip
    return response


def _num(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "no data"
    return f"{value:.6g}"


def _respond(
    request: HtmxHttpRequest,
    scope: sel.Scope,
    title: str,
    filename: str,
    audit_round=None,
    opened_on: dict | None = None,
):
    layer = _layer(request)
    if layer is None:
        return HttpResponseBadRequest("layer: must be 'served' or 'model'")
    if request.GET.get("format") == "csv":
        table = request.GET.get("table", "category")
        if table not in TABLES:
            raise Http404("unknown table")
        return _csv(sel.dashboard_figures(scope=scope, layer=layer).estimates, table, filename)
    context = {**_context(request, scope, title, layer, audit_round), "opened_on": opened_on}
    template = "reviewapp/dashboard/dashboard.html"
    if request.htmx and request.htmx.target == "dashboard-body":
        template += "#body"
    return render(request, template, context)


@require_GET
@results_reader_required
@vary_on_headers("HX-Request")
def dashboard_index(request: HtmxHttpRequest) -> HttpResponse:
    """A period (?start=&end=) across rounds, or else the latest round with reviews."""
    start, end = _parse_date(request.GET.get("start")), _parse_date(request.GET.get("end"))
    if start and end and start <= end:
        scope = sel.period_scope(start, end)
        return _respond(request, scope, f"{start} – {end}", f"period-{start}-{end}")
    shown, reviewed = latest_reviewed_round(sel.reportable_rounds())
    if shown is None:
        return render(request, "reviewapp/dashboard/empty.html", {})
    opened_on = {"round": shown, "reviewed": reviewed}
    return _respond(
        request, sel.round_scope(shown), shown.name, f"round-{shown.pk}", shown, opened_on
    )


@require_GET
@results_reader_required
@vary_on_headers("HX-Request")
def dashboard_round(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    return _respond(
        request, sel.round_scope(audit_round), audit_round.name, f"round-{pk}", audit_round
    )


def _page_links(request: HttpRequest, page) -> dict[str, str]:
    """Previous and next pages of the consistency groups, other query parameters kept."""
    links = {}
    if page.has_previous():
        links["previous"] = _href(request, cpage=str(page.previous_page_number()))
    if page.has_next():
        links["next"] = _href(request, cpage=str(page.next_page_number()))
    return links


@require_GET
@results_reader_required
@vary_on_headers("HX-Request")
def dashboard_consistency(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    audit_round = _get_round(pk)
    layer = _layer(request)
    if layer is None:
        return HttpResponseBadRequest("layer: must be 'served' or 'model'")
    report = surface_consistency(audit_round.period_start, audit_round.period_end, layer)
    page = Paginator(report.groups, CONSISTENCY_PAGE_SIZE).get_page(request.GET.get("cpage"))
    context = {
        "round": audit_round,
        "report": report,
        "page": page,
        "capped_at": CONSISTENCY_GROUPS if len(report.groups) >= CONSISTENCY_GROUPS else 0,
        "page_links": _page_links(request, page),
        "layer_label": LAYER_LABELS[layer],
    }
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
    labels = dict(Label.choices)
    observations = []
    for item in sel.interaction_items(interaction):
        model, served = sel.item_outcome(item)
        if item.observed_label or item.observed_served_label:
            observations.append(
                {
                    "round": item.round.name,
                    "model": labels.get(model, model).lower(),
                    "served": labels.get(served, served).lower(),
                    "cause": refusal_cause(model, served),
                }
            )
    context = {
        "interaction": interaction,
        "gateway_added": refusal_cause(interaction.response_label, interaction.served_label)
        == "gateway",
        "observations": observations,
    }
    return render(request, "reviewapp/dashboard/interaction.html", context)
