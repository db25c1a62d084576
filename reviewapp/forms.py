"""Forms of the web layer: they parse and check input; the services decide."""

import re
from collections.abc import Iterable, Mapping

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from auditcore.exceptions import ApplicationError
from auditcore.models import (
    AuditRound,
    Corpus,
    Decision,
    Endpoint,
    Expect,
    ExportFormat,
    GatewayAction,
    Label,
    ModelVersion,
    PolicyVersion,
    RoundItem,
    RoundTemplate,
    SizeMeasure,
    Surface,
)
from auditcore.selectors import replay as replay_selectors
from auditcore.selectors.browse import UNDRAWN, BrowseFilters
from auditcore.selectors.estimates import reportable_rounds
from auditcore.selectors.rounds import reviewer_users
from reviewapp.http import not_found_as_404

# --- Control characters ---------------------------------------------------------------------------

# C0 controls but tab, line feed and carriage return; DEL; C1 controls. A NUL cannot even be
# stored in PostgreSQL text, and none of them belongs in anything a person types into a form.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(value: object) -> str | None:
    """Why a submitted value is refused, or None; ``value`` is a string or a list of them."""
    for text in value if isinstance(value, list | tuple) else [value]:
        if isinstance(text, str) and (found := _CONTROL.search(text)):
            return (
                f"contains the control character U+{ord(found.group()):04X} "
                f"(at character {found.start() + 1}); remove it and submit again"
            )
    return None


def control_character_error(data: Mapping, names: Iterable[str]) -> str | None:
    """For views that read POST fields without a form: ``"<field>: <problem>"`` or None."""
    for name in names:
        problem = control_character_problem(data.get(name, ""))
        if problem:
            return f"{name}: {problem}"
    return None


def apply_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal on the form: on the field it names, else above the form.

    A "not found" is no form error: the page answers 404.
    """
    not_found_as_404(error)
    form.add_error(error.field if error.field in form.fields else None, error.message)


def form_errors_text(form: forms.Form) -> str:
    """A form's errors as one line, "<field>: <reason>; ...", for a message after a redirect."""
    return "; ".join(f"{field}: {errors[0]}" for field, errors in form.errors.items())


class RefuseControlCharacters:
    """A control character in any field of the form is that field's error.

    Checked on the raw submitted value before the field parses it, so no field (a list of lines,
    a model choice, a slug) ever carries one to a query or a service.
    """

    def _clean_fields(self) -> None:
        refused = {}
        for name, bound in self._bound_items():
            problem = control_character_problem(bound.data)
            if problem:
                refused[name] = f"{bound.label}: {problem}."
        if not refused:
            super()._clean_fields()
            return
        every_field = self.fields
        self.fields = {n: f for n, f in every_field.items() if n not in refused}
        try:
            super()._clean_fields()
        finally:
            self.fields = every_field
        for name, message in refused.items():
            self.add_error(name, message)


class Form(RefuseControlCharacters, forms.Form):
    """Base of every form of the web layer."""


class LoginForm(RefuseControlCharacters, AuthenticationForm):
    pass


# --- Ingest -------------------------------------------------------------------------------------


class UploadForm(Form):
    """A production log file to ingest; size and type are checked before anything is stored."""

    ALLOWED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".log", ".gz")

    file = forms.FileField()
    source = forms.CharField(
        max_length=100,
        initial="default",
        help_text="Records are unique per source and id: re-uploading a file inserts nothing new.",
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect"), ("jsonl", "JSONL"), ("csv", "CSV"), ("openai", "OpenAI logs")],
        initial="auto",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.INGEST_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{settings.INGEST_MAX_UPLOAD_MB} MB (`manage.py ingest` takes larger files)."
            )
        if not upload.name.lower().endswith(self.ALLOWED_SUFFIXES):
            raise forms.ValidationError(
                "The file must be JSONL, CSV or an OpenAI log "
                f"({', '.join(self.ALLOWED_SUFFIXES)})."
            )
        return upload


# --- Policy -------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class LinesField(forms.CharField):
    """A textarea edited one item per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        return _lines(super().to_python(value) or "")


class ReasonCodesField(LinesField):
    """One reason code per line, as `code: label`."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{c.get('code', '')}: {c.get('label', '')}" for c in value)
        return value

    def to_python(self, value) -> list[dict[str, str]]:
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
        codes = []
        for line in super().to_python(value):
            code, _, label = line.partition(":")
            codes.append({"code": code.strip(), "label": label.strip() or code.strip()})
        return codes


class ExamplesField(LinesField):
    """One example per line, as `help: prompt` or `decline: prompt`."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{e.get('expected', '')}: {e.get('prompt', '')}" for e in value)
        return value

    def to_python(self, value) -> list[dict[str, str]]:
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
        examples = []
        for line in super().to_python(value):
            expected, sep, prompt = line.partition(":")
            if not sep or expected.strip().lower() not in ("help", "decline"):
                raise forms.ValidationError(
                    f"“{line[:60]}”: start each example with help: or decline:"
                )
            examples.append({"expected": expected.strip().lower(), "prompt": prompt.strip()})
        return examples


class CategoryForm(Form):
    slug = forms.SlugField(max_length=50)
    name = forms.CharField(max_length=100, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    help_when = LinesField(label="Help when (one condition per line)")
    decline_when = LinesField(label="Decline when (one condition per line)")
    reason_codes = ReasonCodesField(label="Reason codes (code: label, one per line)")
    examples = ExamplesField(label="Examples (help: prompt or decline: prompt, one per line)")
    keywords = LinesField(
        label="Classifier keywords (one per line)",
        help_text=(
            "Each matches at the start of a word: 'hack' also matches 'hacking', but 'dan' would "
            "match 'dangerous' too, so give a short word as a phrase ('you are dan')."
        ),
    )
    high_stakes = forms.BooleanField(required=False)


class PolicyCreateForm(Form):
    name = forms.CharField(max_length=100, initial="Central policy")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class PolicyNotesForm(Form):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class DiffForm(Form):
    a = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="From")
    b = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="To")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        versions = PolicyVersion.objects.select_related("policy").order_by("policy__name", "number")
        self.fields["a"].queryset = versions
        self.fields["b"].queryset = versions


class RoundCreateForm(Form):
    name = forms.CharField(max_length=200)
    policy_version = forms.ModelChoiceField(queryset=PolicyVersion.objects.none())
    supplement_of = forms.ModelChoiceField(
        queryset=AuditRound.objects.none(),
        required=False,
        label="Supplement of",
        empty_label="None: a round of its own",
        help_text="A second-phase draw from a drawn round's unsampled remainder: it takes that "
        "round's period, surfaces, model versions and size measure; the budget is the extra items.",
    )
    period_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    period_end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    surfaces = forms.ModelMultipleChoiceField(
        queryset=Surface.objects.exclude(name="gold"),
        required=False,
        help_text="None selected: every surface.",
    )
    model_versions = forms.ModelMultipleChoiceField(
        queryset=ModelVersion.objects.exclude(name="gold"),
        required=False,
        help_text="None selected: every model version.",
    )
    size_measure = forms.ChoiceField(choices=SizeMeasure.choices)
    double_review_share = forms.FloatField(min_value=0, max_value=1, initial=0.2)
    gold_rate = forms.FloatField(min_value=0, max_value=0.5, initial=0.05)
    budget = forms.IntegerField(min_value=0, initial=500)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy_version"].queryset = PolicyVersion.objects.filter(
            status=PolicyVersion.Status.PUBLISHED
        ).select_related("policy")
        self.fields["supplement_of"].queryset = AuditRound.objects.filter(
            supplement_of=None, strata_dims__isnull=False
        )


class LastWeekForm(Form):
    template = forms.ModelChoiceField(
        queryset=RoundTemplate.objects.filter(active=True),
        required=False,
        empty_label="No template (every surface and model, no quotas)",
        help_text="A template brings its standing quotas, budget and size measure.",
    )
    budget = forms.IntegerField(
        min_value=1, required=False, help_text="Empty: the template's budget, or 250."
    )


class GoldWriteForm(Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=20000)
    expected = forms.ChoiceField(
        choices=[(Decision.HELP, "Should help"), (Decision.DECLINE, "Should decline")]
    )
    category = forms.SlugField(max_length=50)
    note = forms.CharField(required=False, max_length=500)


class GoldMarkForm(Form):
    interaction = forms.IntegerField(min_value=1, label="Interaction id")
    expected = forms.ChoiceField(
        choices=[(Decision.HELP, "Should help"), (Decision.DECLINE, "Should decline")]
    )
    note = forms.CharField(required=False, max_length=500)


class InsightsForm(Form):
    """Policy insights: a round or a period, the layer, and the trigger words' minimum count."""

    round = forms.IntegerField(required=False, min_value=1)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    layer = forms.ChoiceField(
        choices=[("served", "Served to users"), ("model", "Model answer")], required=False
    )
    min_count = forms.IntegerField(required=False, min_value=1, max_value=1000)

    def clean_round(self):
        value = self.cleaned_data.get("round")
        if value and not reportable_rounds().filter(pk=value).exists():
            raise forms.ValidationError("no drawn round has this id")
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if (start is None) != (end is None):
            self.add_error("end" if start else "start", "a period needs both a start and an end")
        elif start and end and start > end:
            self.add_error("end", "must not be before start")
        data["layer"] = data.get("layer") or "served"
        return data


class CategoryReplayForm(Form):
    """Replay a rewritten category's corpus prompts: a baseline and a candidate endpoint."""

    category = forms.SlugField(max_length=50)
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.order_by("name"))
    baseline = forms.ModelChoiceField(queryset=Endpoint.objects.order_by("name"))
    candidate = forms.ModelChoiceField(
        queryset=Endpoint.objects.order_by("name"), help_text="The endpoint to check."
    )


class RereviewForm(Form):
    """A confirmed re-review: the category and the version whose rounds it moves."""

    category = forms.SlugField(max_length=50)
    from_version = forms.ModelChoiceField(queryset=PolicyVersion.objects.all())


class RecategoriseForm(Form):
    """The period of stored traffic to re-categorise under a newly published version."""

    period_start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period_end = forms.DateField(
        label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", "the period ends before it starts")
        return data


class RoundCloseForm(Form):
    """A confirmed close: names the policy version the confirmation page showed."""

    policy_version = forms.ModelChoiceField(queryset=PolicyVersion.objects.all())


class RoundReviewersForm(Form):
    """The reviewers assigned to a round; none ticked means every reviewer."""

    reviewers = forms.ModelMultipleChoiceField(
        queryset=reviewer_users(), required=False, widget=forms.CheckboxSelectMultiple
    )


class CommentForm(Form):
    """One comment in an item's thread."""

    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class AdjudicationFilterForm(Form):
    """Filters of the adjudication queue; each may be left empty."""

    round = forms.ModelChoiceField(
        queryset=AuditRound.objects.order_by("-pk"), required=False, empty_label="All rounds"
    )
    category = forms.SlugField(max_length=50, required=False)
    reviewer = forms.ModelChoiceField(
        queryset=reviewer_users(), required=False, empty_label="Any reviewer"
    )

    def filters(self) -> dict:
        """Keyword arguments for selectors.review.adjudication_queue (valid forms only)."""
        data = self.cleaned_data
        return {
            "round_id": data["round"].pk if data.get("round") else None,
            "category": data.get("category") or "",
            "reviewer_id": data["reviewer"].pk if data.get("reviewer") else None,
        }


class BrowseForm(Form):
    """Search and filters of the leads' interaction browser; every field may be left empty."""

    q = forms.CharField(max_length=200, required=False, label="Search prompts")
    category = forms.SlugField(max_length=50, required=False)
    surface = forms.ModelChoiceField(
        queryset=Surface.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="All surfaces",
    )
    segment = forms.CharField(max_length=64, required=False, label="User segment")
    response_label = forms.ChoiceField(
        choices=[("", "Any"), *Label.choices], required=False, label="Model outcome (classifier)"
    )
    served_label = forms.ChoiceField(
        choices=[("", "Any"), *Label.choices], required=False, label="Served outcome (classifier)"
    )
    gateway_action = forms.ChoiceField(
        choices=[("", "Any"), *GatewayAction.choices], required=False, label="Gateway action"
    )
    round = forms.ModelChoiceField(
        queryset=AuditRound.objects.order_by("-pk"), required=False, empty_label="All rounds"
    )
    status = forms.ChoiceField(
        choices=[("", "Any state"), (UNDRAWN, "Not drawn"), *RoundItem.Status.choices],
        required=False,
        label="Verdict state",
    )
    observed_label = forms.ChoiceField(
        choices=[("", "Any"), *Label.choices], required=False, label="Model outcome (reviewers)"
    )
    observed_served_label = forms.ChoiceField(
        choices=[("", "Any"), *Label.choices], required=False, label="Served outcome (reviewers)"
    )
    disagreement = forms.BooleanField(required=False, label="Verdicts disagree")
    reviewer = forms.ModelChoiceField(
        queryset=reviewer_users(), required=False, empty_label="Any reviewer"
    )
    sort = forms.ChoiceField(
        choices=[
            ("newest", "Newest stored"),
            ("oldest", "Oldest stored"),
            ("occurred", "Most recent first"),
            ("category", "Category"),
        ],
        required=False,
    )

    def filters(self) -> BrowseFilters:
        data = self.cleaned_data
        return BrowseFilters(
            q=data.get("q", "").strip(),
            category=data.get("category") or "",
            surface=data["surface"].name if data.get("surface") else "",
            segment=(data.get("segment") or "").strip(),
            response_label=data.get("response_label") or "",
            served_label=data.get("served_label") or "",
            gateway_action=data.get("gateway_action") or "",
            round_id=data["round"].pk if data.get("round") else None,
            status=data.get("status") or "",
            observed_label=data.get("observed_label") or "",
            observed_served_label=data.get("observed_served_label") or "",
            disagreement=bool(data.get("disagreement")),
            reviewer_id=data["reviewer"].pk if data.get("reviewer") else None,
            sort=data.get("sort") or "newest",
        )


# --- Replay -------------------------------------------------------------------------------------


class CorpusForm(Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class PromptForm(Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    category = forms.CharField(max_length=100, required=False)
    expect = forms.ChoiceField(choices=Expect.choices, initial=Expect.MUST_HELP)
    active = forms.BooleanField(required=False, initial=True)


class ImportForm(Form):
    file = forms.FileField(
        help_text="CSV with a prompt column (category, expect optional) or JSONL"
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect"), ("csv", "CSV"), ("jsonl", "JSONL")], initial="auto"
    )


class EndpointForm(Form):
    name = forms.CharField(max_length=100)
    base_url = forms.URLField(max_length=500, help_text="API root, e.g. https://api.openai.com/v1")
    model = forms.CharField(max_length=200)
    system_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0.0)
    max_tokens = forms.IntegerField(min_value=1, max_value=100_000, initial=512)
    concurrency = forms.IntegerField(min_value=1, max_value=64, initial=8)
    timeout_s = forms.FloatField(min_value=0.1, max_value=600, initial=30.0, label="Timeout (s)")
    api_key = forms.CharField(
        max_length=1000,
        required=False,
        strip=True,
        label="API key",
        # Write-only: the field never shows a stored or a just-typed key back.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted, never shown again; leave empty for an endpoint without one.",
    )


class EndpointKeyForm(Form):
    """One per endpoint row; the template writes its input (ids must differ between rows)."""

    api_key = forms.CharField(max_length=1000, required=False, strip=True)


class RunStartForm(Form):
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.order_by("name"))
    endpoint = forms.ModelChoiceField(queryset=replay_selectors.endpoint_list())


class GateForm(Form):
    baseline = forms.ModelChoiceField(queryset=replay_selectors.runs_for_gate())
    candidate = forms.ModelChoiceField(queryset=replay_selectors.runs_for_gate())
    margin = forms.FloatField(min_value=0.001, max_value=0.5, initial=0.02)


class AcceptForm(Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), min_length=10)


class LabelReviewForm(Form):
    result = forms.IntegerField()
    label = forms.ChoiceField(choices=Label.choices)


class PromoteForm(Form):
    item_id = forms.IntegerField()
    corpus_id = forms.IntegerField()
    next = forms.CharField(required=False)


# --- Exports ------------------------------------------------------------------------------------


class ExportForm(Form):
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV)
    round = forms.ModelChoiceField(
        queryset=AuditRound.objects.order_by("-created_at"),
        required=False,
        empty_label="Every round",
    )
    include_text = forms.BooleanField(
        required=False,
        label="Include prompts and responses (PII-redacted as stored)",
    )
