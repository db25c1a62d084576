"""Policy insights in the API: trigger words and where the policy costs most.

GET /api/v1/insights/trigger-words?round=ID | start=&end=  [&layer=&min_count=5&category=]
GET /api/v1/insights/costs?round=ID | start=&end=          [&layer=served|model]
Without a round or a period: the latest round.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from auditcore.rates import LAYERS
from auditcore.selectors import insights as ins
from auditcore.selectors.estimates import reportable_rounds
from auditcore.trigger_words import MIN_COUNT
from reviewapp.api.common import ExpensiveThrottle, FiniteFloatField, SafetyLeadApi
from reviewapp.views.insights import scope_of


class ScopeParams(serializers.Serializer):
    round = serializers.IntegerField(required=False, min_value=1)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    layer = serializers.ChoiceField(choices=list(LAYERS), default="served")

    def validate_round(self, value):
        if not reportable_rounds().filter(pk=value).exists():
            raise serializers.ValidationError("no drawn round has this id")
        return value

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if (start is None) != (end is None):
            field = "end" if start else "start"
            raise serializers.ValidationError({field: "a period needs both a start and an end"})
        if start and end and start > end:
            raise serializers.ValidationError({"end": "must not be before start"})
        return attrs


class ScopeOutput(serializers.Serializer):
    rounds = serializers.ListField(child=serializers.DictField())
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)


def scope_data(scope) -> dict:
    return {
        "rounds": [{"id": r.pk, "name": r.name} for r in scope.rounds],
        "start": scope.start,
        "end": scope.end,
    }


class ExampleOutput(serializers.Serializer):
    interaction_id = serializers.IntegerField()
    url = serializers.CharField()


class TermOutput(serializers.Serializer):
    term = serializers.CharField()
    is_phrase = serializers.BooleanField()
    z = FiniteFloatField()
    log_odds_ratio = FiniteFloatField(source="delta")
    refused_prompts = serializers.IntegerField()
    helped_prompts = serializers.IntegerField()
    refused_weighted = FiniteFloatField(source="refused_count")
    helped_weighted = FiniteFloatField(source="helped_count")
    examples = serializers.SerializerMethodField()

    @extend_schema(responses=ExampleOutput(many=True))
    def get_examples(self, obj) -> list[dict]:
        return [
            {"interaction_id": ref, "url": reverse("dashboard:interaction", args=[ref])}
            for ref in obj.examples
        ]


class CategoryTriggersOutput(serializers.Serializer):
    category = serializers.CharField()
    refused = serializers.IntegerField()
    helped = serializers.IntegerField()
    terms = TermOutput(many=True)


class TriggerWordsApi(SafetyLeadApi):
    throttle_classes = [ExpensiveThrottle]

    class InputSerializer(ScopeParams):
        min_count = serializers.IntegerField(
            required=False, min_value=1, max_value=1000, default=MIN_COUNT
        )
        category = serializers.SlugField(required=False, max_length=50)

    class OutputSerializer(serializers.Serializer):
        scope = ScopeOutput()
        layer = serializers.CharField()
        min_count = serializers.IntegerField()
        categories = CategoryTriggersOutput(many=True)

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        p = self.params(self.InputSerializer)
        scope = scope_of(p)
        categories = []
        if scope is not None:
            categories = ins.trigger_words(scope, layer=p["layer"], min_count=p["min_count"])
            if "category" in p:
                categories = [c for c in categories if c.category == p["category"]]
        data = {
            "scope": scope_data(scope) if scope else {"rounds": [], "start": None, "end": None},
            "layer": p["layer"],
            "min_count": p["min_count"],
            "categories": categories,
        }
        return self.ok(self.OutputSerializer(data).data)


class TotalOutput(serializers.Serializer):
    estimate = FiniteFloatField()
    lower = FiniteFloatField()
    upper = FiniteFloatField()
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    df = serializers.IntegerField()


class ShareOutput(serializers.Serializer):
    estimate = FiniteFloatField()
    lower = FiniteFloatField()
    upper = FiniteFloatField()
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    flags = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_blank=True)


class ReasonCostOutput(serializers.Serializer):
    code = serializers.CharField(allow_blank=True)
    label = serializers.CharField()
    wrongly_refused = TotalOutput()
    share = ShareOutput()


class CategoryCostOutput(serializers.Serializer):
    category = serializers.CharField()
    wrongly_refused = TotalOutput()
    share = ShareOutput()
    reasons = ReasonCostOutput(many=True)


class PolicyCostsApi(SafetyLeadApi):
    throttle_classes = [ExpensiveThrottle]

    class OutputSerializer(serializers.Serializer):
        scope = ScopeOutput()
        layer = serializers.CharField()
        all_false_refusals = TotalOutput()
        categories = CategoryCostOutput(many=True, source="rows")
        top = serializers.ListField(child=serializers.CharField())

    @extend_schema(parameters=[ScopeParams], responses=OutputSerializer)
    def get(self, request):
        p = self.params(ScopeParams)
        scope = scope_of(p)
        if scope is None:
            empty = {"rounds": [], "start": None, "end": None}
            return self.ok({"scope": empty, "layer": p["layer"], "categories": [], "top": []})
        costs = ins.policy_costs(scope, layer=p["layer"])
        data = {
            "scope": scope_data(scope),
            "layer": costs.layer,
            "all_false_refusals": costs.all_false_refusals,
            "rows": costs.rows,
            "top": [row.category for row in costs.top],
        }
        return self.ok(self.OutputSerializer(data).data)
