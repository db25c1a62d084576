"""The policy console: versions, category editing for drafts, lint flags, publishing, diffs."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from auditcore.exceptions import ApplicationError
from auditcore.models import Category, Policy, PolicyVersion, RecategoriseJob
from auditcore.selectors.policy import (
    changed_category_slugs,
    current_policy_version,
    policy_version_diff,
    policy_version_flags,
    policy_version_rows,
    previous_published_version,
)
from auditcore.selectors.recategorise import (
    default_period,
    recategorise_counts,
    recategorise_jobs_of,
)
from auditcore.selectors.rounds import rereview_preview
from auditcore.services.policy import (
    category_create,
    category_delete,
    category_update,
    policy_change_summary,
    policy_create,
    policy_version_draft_from,
    policy_version_propose,
    policy_version_publish,
    policy_version_update,
)
from auditcore.services.recategorise import recategorise_job_create
from auditcore.services.rounds import round_items_rereview
from auditcore.tasks import recategorise_job_enqueue
from reviewapp.access import safety_lead_required
from reviewapp.background import needs_workers
from reviewapp.forms import (
    CategoryForm,
    DiffForm,
    PolicyCreateForm,
    PolicyNotesForm,
    RecategoriseForm,
    RereviewForm,
    apply_error,
    form_errors_text,
)
from reviewapp.http import HtmxHttpRequest, not_found_as_404


def _get_version(pk: int) -> PolicyVersion:
    return get_object_or_404(PolicyVersion.objects.select_related("policy", "created_by"), pk=pk)


def _get_category(pk: int) -> Category:
    return get_object_or_404(Category.objects.select_related("policy_version__policy"), pk=pk)


def _flags_by_slug(version: PolicyVersion) -> dict[str, list]:
    flags: dict[str, list] = {}
    for flag in policy_version_flags(version):
        flags.setdefault(flag.slug, []).append(flag)
    return flags


@require_GET
@safety_lead_required
def policy_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "rows": policy_version_rows(),
        "create_form": PolicyCreateForm(),
        "has_policy": Policy.objects.exists(),
    }
    return render(request, "reviewapp/policy/list.html", context)


def _default_categories() -> list[dict]:
    try:
        from auditcore.detection.default_policy import DEFAULT_CATEGORIES
    except ImportError:  # the default policy module is optional
        return []
    return [dict(c) for c in DEFAULT_CATEGORIES]


@require_POST
@safety_lead_required
def policy_new(request: HtmxHttpRequest) -> HttpResponse:
    form = PolicyCreateForm(request.POST)
    if form.is_valid():
        try:
            version = policy_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                categories=_default_categories() if request.POST.get("seed") else (),
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            return redirect("policy:edit", pk=version.pk)
    context = {"rows": policy_version_rows(), "create_form": form, "has_policy": True}
    return render(request, "reviewapp/policy/list.html", context, status=400)


@require_GET
@safety_lead_required
def version_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    flags = _flags_by_slug(version)
    categories = [(c, flags.get(c.slug, [])) for c in version.categories.all()]
    context = {
        "version": version,
        "categories": categories,
        "flag_count": sum(len(f) for f in flags.values()),
        "previous": previous_published_version(version),
        "changed": changed_category_slugs(version) if version.is_published else [],
    }
    if version.is_published and current_policy_version() == version:
        context.update(_recategorise_context(version))
    return render(request, "reviewapp/policy/version.html", context)


def _recategorise_context(version: PolicyVersion) -> dict:
    """The offer to re-categorise stored traffic, for the current version only."""
    start, end = default_period()
    total, drawn = recategorise_counts(start, end)
    return {
        "recategorise_form": RecategoriseForm(initial={"period_start": start, "period_end": end}),
        "recategorise_total": total,
        "recategorise_drawn": drawn,
        "recategorise_jobs": recategorise_jobs_of(version)[:5],
    }


def _edit_context(version: PolicyVersion, forms_by_pk=None, new_form=None) -> dict:
    flags = _flags_by_slug(version)
    forms_by_pk = forms_by_pk or {}
    entries = []
    for category in version.categories.all():
        form = forms_by_pk.get(category.pk) or CategoryForm(
            initial=category.as_dict(), prefix=f"c{category.pk}"
        )
        entries.append((category, form, flags.get(category.slug, [])))
    return {
        "version": version,
        "entries": entries,
        "new_form": new_form or CategoryForm(prefix="new"),
        "notes_form": PolicyNotesForm(initial={"notes": version.notes}),
    }


@require_GET
@safety_lead_required
def version_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    if version.is_published:
        messages.info(request, f"{version} is published; start a new draft to change it.")
        return redirect("policy:version", pk=version.pk)
    return render(request, "reviewapp/policy/edit.html", _edit_context(version))


@require_POST
@safety_lead_required
def version_notes(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    form = PolicyNotesForm(request.POST)
    if form.is_valid():
        try:
            policy_version_update(
                actor=request.user, version=version, notes=form.cleaned_data["notes"]
            )
        except ApplicationError as exc:
            not_found_as_404(exc)
            messages.error(request, exc.message)
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("policy:edit", pk=version.pk)


@require_POST
@safety_lead_required
@vary_on_headers("HX-Request")
def category_save(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    category = _get_category(pk)
    version = category.policy_version
    form = CategoryForm(request.POST, prefix=f"c{category.pk}")
    saved = False
    if form.is_valid():
        try:
            category = category_update(
                actor=request.user, category=category, data=form.cleaned_data
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            saved = True
            form = CategoryForm(initial=category.as_dict(), prefix=f"c{category.pk}")
    status = 200 if saved else 400
    if request.htmx:
        flags = _flags_by_slug(version).get(category.slug, [])
        context = {
            "category": category,
            "form": form,
            "flags": flags,
            "saved": saved,
            "version": version,
        }
        return render(request, "reviewapp/policy/edit.html#category", context, status=status)
    if saved:
        messages.success(request, f"Saved {category.slug}.")
        return redirect("policy:edit", pk=version.pk)
    context = _edit_context(version, forms_by_pk={category.pk: form})
    return render(request, "reviewapp/policy/edit.html", context, status=status)


@require_POST
@safety_lead_required
def category_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    form = CategoryForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            category_create(actor=request.user, version=version, data=form.cleaned_data)
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Added {form.cleaned_data['slug']}.")
            return redirect("policy:edit", pk=version.pk)
    return render(
        request, "reviewapp/policy/edit.html", _edit_context(version, new_form=form), status=400
    )


@require_POST
@safety_lead_required
def category_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    category = _get_category(pk)
    version = category.policy_version
    try:
        category_delete(actor=request.user, category=category)
    except ApplicationError as exc:
        not_found_as_404(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed {category.slug}.")
    target = reverse("policy:edit", args=[version.pk])
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_POST
@safety_lead_required
def version_new_draft(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    draft = policy_version_draft_from(actor=request.user, source=_get_version(pk))
    messages.success(request, f"{draft} is a new draft copied from version {pk}.")
    return redirect("policy:edit", pk=draft.pk)


@require_http_methods(["GET", "POST"])
@safety_lead_required
def version_publish(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = _get_version(pk)
    error = None
    if request.method == "POST":
        try:
            policy_version_publish(actor=request.user, version=version)
        except ApplicationError as exc:
            not_found_as_404(exc)
            error = exc.message
        else:
            messages.success(request, f"{version} is published and now current.")
            return redirect("policy:version", pk=version.pk)
    return _publish_page(request, version, error)


def _publish_page(request: HtmxHttpRequest, version: PolicyVersion, error: str | None):
    context = {
        "version": version,
        "flags": policy_version_flags(version),
        "error": error,
        "category_count": version.categories.count(),
        "changes": policy_change_summary(version),
        "single_lead": settings.POLICY_SINGLE_LEAD_PUBLISH,
        "proposed_by_me": version.proposed_by_id == request.user.pk,
    }
    return render(request, "reviewapp/policy/publish.html", context, status=400 if error else 200)


@require_POST
@safety_lead_required
def version_propose(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Put a draft up for another safety lead's approval."""
    version = _get_version(pk)
    try:
        policy_version_propose(actor=request.user, version=version)
    except ApplicationError as exc:
        not_found_as_404(exc)
        return _publish_page(request, version, exc.message)
    messages.success(request, f"{version} is proposed; another safety lead approves it.")
    return redirect("policy:publish", pk=version.pk)


@require_GET
@safety_lead_required
def version_diff(request: HtmxHttpRequest) -> HttpResponse:
    form = DiffForm(request.GET or None)
    diffs = None
    if form.is_valid():
        diffs = policy_version_diff(form.cleaned_data["a"], form.cleaned_data["b"])
    return render(request, "reviewapp/policy/diff.html", {"form": form, "diffs": diffs})


@require_http_methods(["GET", "POST"])
@safety_lead_required
def version_rereview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET: what a re-review of a category would change, per round; POST: do it for the rounds
    drawn under the version the confirmation named, and no others."""
    version = _get_version(pk)
    if request.method == "GET":
        category = request.GET.get("category", "")
        if not version.categories.filter(slug=category).exists():
            messages.error(request, f"category: {category!r} is not in {version}.")
            return redirect("policy:version", pk=version.pk)
        context = {
            "version": version,
            "category": category,
            "groups": rereview_preview(policy_version=version, category=category),
        }
        return render(request, "reviewapp/policy/rereview_confirm.html", context)
    form = RereviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect("policy:version", pk=version.pk)
    category, from_version = form.cleaned_data["category"], form.cleaned_data["from_version"]
    try:
        count = round_items_rereview(
            actor=request.user, policy_version=version, category=category, from_version=from_version
        )
    except ApplicationError as exc:
        not_found_as_404(exc)
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{count} item{'s' if count != 1 else ''} of {category} in open rounds drawn under "
            f"{from_version} sent back for review under {version}; earlier verdicts are kept, "
            "marked superseded.",
        )
    return redirect("policy:version", pk=version.pk)


@require_POST
@safety_lead_required
@needs_workers
def version_recategorise(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Start re-categorising the period's stored traffic under this (current) version."""
    version = _get_version(pk)
    form = RecategoriseForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return redirect("policy:version", pk=version.pk)
    try:
        job = recategorise_job_create(
            actor=request.user,
            version=version,
            period_start=form.cleaned_data["period_start"],
            period_end=form.cleaned_data["period_end"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("policy:version", pk=version.pk)
    recategorise_job_enqueue(job.pk)
    return redirect("policy:recategorise_job", pk=job.pk)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def recategorise_job(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A re-categorisation's progress; the page polls its fragment until the job ends."""
    job = get_object_or_404(
        RecategoriseJob.objects.select_related("policy_version__policy", "created_by"), pk=pk
    )
    template = "reviewapp/policy/recategorise.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, {"job": job})
