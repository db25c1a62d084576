"""Replay corpora, replay runs and gate decisions (safety leads and admins, like the pages)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from auditcore.models import Corpus, Expect, GateDecision, ReplayRun
from auditcore.selectors.replay import corpus_list, corpus_prompts, decision_list, run_list
from reviewapp.api.common import (
    ListParams,
    ResultsReaderApi,
    SafetyLeadApi,
    get_or_404,
    ordering_field,
    paginated,
)


class CorpusOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    active_count = serializers.IntegerField()
    control_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CorpusListApi(SafetyLeadApi):
    @extend_schema(parameters=[ListParams], responses=paginated(CorpusOutput))
    def get(self, request):
        self.params(ListParams)
        return self.page(corpus_list(), CorpusOutput)


class CorpusDetailApi(SafetyLeadApi):
    @extend_schema(responses=CorpusOutput)
    def get(self, request, pk: int):
        return self.ok(CorpusOutput(get_or_404(corpus_list(), pk)).data)


class CorpusPromptListApi(SafetyLeadApi):
    class FilterSerializer(ListParams):
        expect = serializers.ChoiceField(choices=Expect.values, required=False)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        prompt = serializers.CharField(allow_blank=True)
        category = serializers.CharField(allow_blank=True)
        expect = serializers.CharField()
        active = serializers.BooleanField()
        origin_item_id = serializers.IntegerField(allow_null=True)
        created_at = serializers.DateTimeField()

    @extend_schema(parameters=[FilterSerializer], responses=paginated(OutputSerializer))
    def get(self, request, pk: int):
        p = self.params(self.FilterSerializer)
        prompts = corpus_prompts(get_or_404(Corpus.objects.all(), pk))
        if "expect" in p:
            prompts = prompts.filter(expect=p["expect"])
        if p.get("active") is not None:
            prompts = prompts.filter(active=p["active"])
        return self.page(prompts, self.OutputSerializer)


class ReplayRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    corpus = serializers.CharField(source="snapshot.corpus.name")
    snapshot_id = serializers.IntegerField()
    endpoint = serializers.CharField(source="endpoint.name")
    model = serializers.CharField(source="endpoint.model")
    status = serializers.CharField()
    total = serializers.IntegerField()
    answered = serializers.IntegerField()
    failed = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    detector_version = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ReplayRunListApi(SafetyLeadApi):
    class FilterSerializer(ListParams):
        status = serializers.ChoiceField(choices=ReplayRun.Status.values, required=False)
        ordering = ordering_field("created_at", "id", default="-created_at")

    @extend_schema(parameters=[FilterSerializer], responses=paginated(ReplayRunOutput))
    def get(self, request):
        p = self.params(self.FilterSerializer)
        runs = run_list()
        if "status" in p:
            runs = runs.filter(status=p["status"])
        return self.page(runs.order_by(p["ordering"], "-id"), ReplayRunOutput)


class ReplayRunDetailApi(SafetyLeadApi):
    @extend_schema(responses=ReplayRunOutput)
    def get(self, request, pk: int):
        return self.ok(ReplayRunOutput(get_or_404(run_list(), pk)).data)


class GateDecisionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    baseline_run_id = serializers.IntegerField(source="baseline_id")
    candidate_run_id = serializers.IntegerField(source="candidate_id")
    margin = serializers.FloatField()
    k = serializers.IntegerField()
    n00 = serializers.IntegerField()
    n01 = serializers.IntegerField()
    n10 = serializers.IntegerField()
    n11 = serializers.IntegerField()
    excluded = serializers.IntegerField()
    delta = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()
    p_value = serializers.FloatField()
    outcome = serializers.CharField()
    warning = serializers.CharField(allow_blank=True)
    ships = serializers.BooleanField()
    accepted_by = serializers.CharField(source="accepted_by.username", allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    acceptance_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class GateDecisionListApi(ResultsReaderApi):
    class FilterSerializer(ListParams):
        outcome = serializers.ChoiceField(choices=GateDecision.Outcome.values, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=paginated(GateDecisionOutput))
    def get(self, request):
        p = self.params(self.FilterSerializer)
        decisions = decision_list().select_related("accepted_by")
        if "outcome" in p:
            decisions = decisions.filter(outcome=p["outcome"])
        return self.page(decisions, GateDecisionOutput)


class GateDecisionDetailApi(ResultsReaderApi):
    class OutputSerializer(GateDecisionOutput):
        categories = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request, pk: int):
        decision = get_or_404(decision_list().select_related("accepted_by"), pk)
        return self.ok(self.OutputSerializer(decision).data)
