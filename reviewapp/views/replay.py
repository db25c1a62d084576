"""Replay in the browser: corpora, endpoints, runs with progress, and gate decisions."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from auditcore import roles, tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import Corpus, CorpusPrompt, Expect, GateDecision, ReplayRun
from auditcore.models.traffic import Label
from auditcore.selectors import replay as sel
from auditcore.selectors.gate_review import gate_evidence
from auditcore.services import replay as svc
from auditcore.services.demo import demo_endpoints_register
from auditcore.services.gate_review import gate_label_review
from auditcore.stats import detectable_regression_points
from reviewapp.access import results_reader_required, safety_lead_required
from reviewapp.background import needs_workers
from reviewapp.charts import interval_chart
from reviewapp.forms import (
    AcceptForm,
    CorpusForm,
    EndpointForm,
    EndpointKeyForm,
    GateForm,
    ImportForm,
    LabelReviewForm,
    PromoteForm,
    PromptForm,
    RunStartForm,
    apply_error,
)
from reviewapp.http import HtmxHttpRequest, not_found_as_404

RESULTS_ON_PAGE = 500
PROMPTS_ON_PAGE = 1000


# --- Access helpers ------------------------------------------------------------------------


def _get_corpus(pk: int) -> Corpus:
    return get_object_or_404(Corpus, pk=pk)


def _get_prompt(pk: int) -> CorpusPrompt:
    return get_object_or_404(CorpusPrompt.objects.select_related("corpus"), pk=pk)


def _get_run(pk: int) -> ReplayRun:
    return get_object_or_404(
        ReplayRun.objects.select_related("endpoint", "snapshot__corpus", "created_by"), pk=pk
    )


def _get_decision(pk: int) -> GateDecision:
    return get_object_or_404(
        GateDecision.objects.select_related(
            "baseline__endpoint",
            "candidate__endpoint",
            "baseline__snapshot__corpus",
            "accepted_by",
            "created_by",
        ),
        pk=pk,
    )


def _endpoint_help() -> dict:
    """What the endpoint explanation (_endpoint_help.html) needs."""
    return {
        "has_endpoints": sel.endpoint_list().exists(),
        "demo_model_enabled": settings.DEMO_MODEL_ENABLED,
    }


# --- Overview ------------------------------------------------------------------------------


@require_GET
@results_reader_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    context = {"decisions": sel.decision_list()[:50], "runs": sel.run_list()[:10]}
    if roles.is_safety_lead(request.user):
        context |= _endpoint_help()
    return render(request, "reviewapp/replay/index.html", context)


# --- Corpora -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@safety_lead_required
def corpora(request: HtmxHttpRequest) -> HttpResponse:
    form = CorpusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            corpus = svc.corpus_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Corpus {corpus.name} created.")
            return redirect("replay:corpus", pk=corpus.pk)
    status = 400 if request.method == "POST" else 200
    context = {"corpora": sel.corpus_list(), "form": form}
    return render(request, "reviewapp/replay/corpora.html", context, status=status)


def _corpus_page(
    request: HtmxHttpRequest,
    corpus: Corpus,
    prompt_form: PromptForm | None = None,
    import_form: ImportForm | None = None,
    import_summary: svc.CorpusImportSummary | None = None,
    status: int = 200,
) -> HttpResponse:
    must_help = corpus.prompts.filter(active=True, expect=Expect.MUST_HELP).count()
    context = {
        "corpus": corpus,
        "must_help": must_help,
        "detectable_points": detectable_regression_points(must_help),
        "prompts": sel.corpus_prompts(corpus)[:PROMPTS_ON_PAGE],
        "prompt_count": corpus.prompts.count(),
        "prompts_limit": PROMPTS_ON_PAGE,
        "prompt_form": prompt_form or PromptForm(),
        "import_form": import_form or ImportForm(),
        "import_summary": import_summary,
    }
    return render(request, "reviewapp/replay/corpus.html", context, status=status)


@require_GET
@safety_lead_required
def corpus_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _corpus_page(request, _get_corpus(pk))


@require_POST
@safety_lead_required
def corpus_prompt_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    corpus = _get_corpus(pk)
    form = PromptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            svc.corpus_prompt_add(
                actor=request.user,
                corpus_id=corpus.pk,
                prompt=data["prompt"],
                category=data["category"],
                expect=data["expect"],
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Prompt added.")
            return redirect("replay:corpus", pk=corpus.pk)
    return _corpus_page(request, corpus, prompt_form=form, status=400)


@require_POST
@safety_lead_required
def corpus_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    corpus = _get_corpus(pk)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _corpus_page(request, corpus, import_form=form, status=400)
    try:
        summary = svc.corpus_import(
            actor=request.user,
            corpus_id=corpus.pk,
            stream=form.cleaned_data["file"],
            format=form.cleaned_data["format"],
        )
    except ApplicationError as exc:
        apply_error(form, exc)
        return _corpus_page(request, corpus, import_form=form, status=400)
    return _corpus_page(request, corpus, import_summary=summary)


@require_GET
@safety_lead_required
def corpus_export(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    corpus = _get_corpus(pk)
    fmt = request.GET.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        return HttpResponse("format must be csv or jsonl", status=400, content_type="text/plain")
    content_type = "text/csv" if fmt == "csv" else "application/jsonl"
    response = HttpResponse(
        sel.corpus_export(corpus, fmt), content_type=f"{content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="corpus-{corpus.pk}.{fmt}"'
    return response


@require_http_methods(["GET", "POST"])
@safety_lead_required
def corpus_prompt_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _get_prompt(pk)
    initial = {
        "prompt": item.prompt,
        "category": item.category,
        "expect": item.expect,
        "active": item.active,
    }
    form = PromptForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            svc.corpus_prompt_update(actor=request.user, prompt_id=item.pk, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, "Prompt saved. Earlier runs keep the text they replayed.")
            return redirect("replay:corpus", pk=item.corpus_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "reviewapp/replay/prompt_edit.html", {"item": item, "form": form}, status=status
    )


@require_POST
@safety_lead_required
def corpus_prompt_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = _get_prompt(pk)
    svc.corpus_prompt_set_active(actor=request.user, prompt_id=item.pk, active=not item.active)
    return redirect("replay:corpus", pk=item.corpus_id)


@require_POST
@safety_lead_required
def promote(request: HtmxHttpRequest) -> HttpResponse:
    """Add an adjudicated false refusal to a corpus (the adjudication and dashboard buttons)."""
    form = PromoteForm(request.POST)
    if not form.is_valid():
        return HttpResponse("item_id and corpus_id are required", status=400)
    try:
        added = svc.corpus_prompt_promote(
            actor=request.user,
            item_id=form.cleaned_data["item_id"],
            corpus_id=form.cleaned_data["corpus_id"],
        )
    except ApplicationError as exc:
        not_found_as_404(exc)
        if request.htmx:
            return render(
                request, "reviewapp/replay/_promoted.html", {"error": exc.message}, status=400
            )
        messages.error(request, exc.message)
        added = None
    if request.htmx and added is not None:
        return render(request, "reviewapp/replay/_promoted.html", {"added": added})
    if added is not None:
        messages.success(request, f"Prompt added to the corpus {added.corpus.name}.")
    target = form.cleaned_data.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    if added is not None:
        return redirect("replay:corpus", pk=added.corpus_id)
    return redirect("replay:corpora")


# --- Endpoints -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@safety_lead_required
def endpoints(request: HtmxHttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = svc.endpoint_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Endpoint {endpoint.name} saved.")
            return redirect("replay:endpoints")
    status = 400 if request.method == "POST" else 200
    return _endpoints_page(request, form=form, status=status)


def _endpoints_page(
    request: HtmxHttpRequest,
    *,
    form: EndpointForm | None = None,
    key_form: EndpointKeyForm | None = None,
    key_endpoint_id: int | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "endpoints": sel.endpoint_list(),
        "form": form or EndpointForm(),
        "key_form": key_form or EndpointKeyForm(),
        "key_endpoint_id": key_endpoint_id,
        **_endpoint_help(),
    }
    return render(request, "reviewapp/replay/endpoints.html", context, status=status)


@require_POST
@safety_lead_required
def endpoint_key(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(sel.endpoint_list(), pk=pk)
    form = EndpointKeyForm(request.POST)
    if form.is_valid():
        try:
            svc.endpoint_key_set(
                actor=request.user, endpoint_id=endpoint.pk, api_key=form.cleaned_data["api_key"]
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            done = "stored" if form.cleaned_data["api_key"] else "removed"
            messages.success(request, f"The API key of {endpoint.name} was {done}.")
            return redirect("replay:endpoints")
    return _endpoints_page(request, key_form=form, key_endpoint_id=endpoint.pk, status=400)


@require_POST
@safety_lead_required
def demo_model_use(request: HtmxHttpRequest) -> HttpResponse:
    """One click to the run form with the demo model's endpoints and the starter corpus."""
    try:
        demo = demo_endpoints_register(actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("replay:endpoints")
    messages.success(
        request,
        f"The demo model is ready: replay the corpus {demo.corpus.name} against "
        f"{demo.baseline.name}, then against {demo.candidate.name}, then compare the two runs "
        "on the Gate page.",
    )
    query = urlencode({"corpus": demo.corpus.pk, "endpoint": demo.baseline.pk})
    return redirect(f"{reverse('replay:runs')}?{query}")


# --- Runs ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@safety_lead_required
@needs_workers
def runs(request: HtmxHttpRequest) -> HttpResponse:
    form = RunStartForm(request.POST or None, initial=request.GET or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = svc.replay_run_create(
                actor=request.user,
                corpus_id=form.cleaned_data["corpus"].pk,
                endpoint_id=form.cleaned_data["endpoint"].pk,
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            tasks.replay_run_enqueue(run.pk)
            messages.success(request, f"Run #{run.pk} queued.")
            return redirect("replay:run", pk=run.pk)
    status = 400 if request.method == "POST" else 200
    context = {"runs": sel.run_list()[:200], "form": form, **_endpoint_help()}
    return render(request, "reviewapp/replay/runs.html", context, status=status)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    context = {"run": run, "progress": sel.run_progress(run)}
    if request.htmx:
        return render(request, "reviewapp/replay/run.html#progress", context)
    context |= {
        "results": sel.run_results(run)[:RESULTS_ON_PAGE],
        "results_limit": RESULTS_ON_PAGE,
        "decisions": sel.decisions_for_run(run),
    }
    return render(request, "reviewapp/replay/run.html", context)


# --- The gate ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@safety_lead_required
def gate(request: HtmxHttpRequest) -> HttpResponse:
    form = GateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            decision = svc.gate_decision_create(
                actor=request.user,
                baseline_run_id=form.cleaned_data["baseline"].pk,
                candidate_run_id=form.cleaned_data["candidate"].pk,
                margin=form.cleaned_data["margin"],
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            return redirect("replay:decision", pk=decision.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "reviewapp/replay/gate.html", {"form": form}, status=status)


def _decision_context(decision: GateDecision, accept_form: AcceptForm | None = None) -> dict:
    return {
        "decision": decision,
        "chart": interval_chart(
            lower=decision.lower, upper=decision.upper, margin=decision.margin, delta=decision.delta
        ),
        "discordant": sel.discordant_pairs(decision),
        "evidence": gate_evidence(decision),
        "labels": Label.choices,
        "discordant_controls": sel.discordant_pairs(decision, Expect.MUST_DECLINE),
        "accept_form": accept_form or AcceptForm(),
    }


@require_GET
@results_reader_required
def decision_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    decision = _get_decision(pk)
    return render(request, "reviewapp/replay/decision.html", _decision_context(decision))


@require_POST
@safety_lead_required
@vary_on_headers("HX-Request")
def decision_accept(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    decision = _get_decision(pk)
    if not roles.is_safety_lead(request.user):
        raise PermissionDenied
    form = AcceptForm(request.POST)
    if form.is_valid():
        try:
            svc.gate_decision_accept(
                actor=request.user, decision_id=decision.pk, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            url = reverse("replay:decision", args=[decision.pk])
            if request.htmx:
                return HttpResponseClientRedirect(url)
            messages.success(request, "The regression is accepted and recorded.")
            return redirect(url)
    template = "reviewapp/replay/decision.html"
    if request.htmx:
        template += "#acceptance"
    return render(request, template, _decision_context(decision, form), status=400)


@require_POST
@safety_lead_required
@vary_on_headers("HX-Request")
def decision_label_review(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Confirm or overturn the classifier's label of one discordant response."""
    decision = _get_decision(pk)
    form = LabelReviewForm(request.POST)
    error = None
    if form.is_valid():
        try:
            gate_label_review(
                actor=request.user,
                decision_id=decision.pk,
                result_id=form.cleaned_data["result"],
                label=form.cleaned_data["label"],
            )
        except ApplicationError as exc:
            not_found_as_404(exc)
            error = exc.message
    else:
        error = "; ".join(f"{field}: {errors[0]}" for field, errors in form.errors.items())
    if request.htmx:
        context = _decision_context(decision) | {"label_review_error": error}
        template = "reviewapp/replay/decision.html#evidence"
        return render(request, template, context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    return redirect("replay:decision", pk=decision.pk)
