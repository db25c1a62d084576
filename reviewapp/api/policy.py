"""Policy versions and their categories (safety leads and admins, like the policy pages)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from auditcore.models import Category, PolicyVersion
from auditcore.selectors.policy import policy_versions
from reviewapp.api.common import ListParams, SafetyLeadApi, get_or_404, ordering_field, paginated


class ReasonCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField(allow_blank=True)


class ExampleSerializer(serializers.Serializer):
    prompt = serializers.CharField(allow_blank=True)
    expected = serializers.CharField(allow_blank=True)


class CategoryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    help_when = serializers.ListField(child=serializers.CharField(allow_blank=True))
    decline_when = serializers.ListField(child=serializers.CharField(allow_blank=True))
    reason_codes = serializers.SerializerMethodField()
    examples = serializers.SerializerMethodField()
    keywords = serializers.ListField(child=serializers.CharField(allow_blank=True))
    high_stakes = serializers.BooleanField()

    @extend_schema(responses=ReasonCodeSerializer(many=True))
    def get_reason_codes(self, obj) -> list[dict[str, str]]:
        return [
            {"code": str(c.get("code", "")), "label": str(c.get("label", ""))}
            for c in obj.reason_codes or []
            if isinstance(c, dict)
        ]

    @extend_schema(responses=ExampleSerializer(many=True))
    def get_examples(self, obj) -> list[dict[str, str]]:
        return [
            {"prompt": str(e.get("prompt", "")), "expected": str(e.get("expected", ""))}
            for e in obj.examples or []
            if isinstance(e, dict)
        ]


class PolicyVersionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    policy = serializers.CharField(source="policy.name")
    number = serializers.IntegerField()
    status = serializers.CharField()
    notes = serializers.CharField(allow_blank=True)
    category_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)


class PolicyVersionListApi(SafetyLeadApi):
    class FilterSerializer(ListParams):
        status = serializers.ChoiceField(choices=PolicyVersion.Status.values, required=False)
        policy = serializers.CharField(required=False, max_length=100)
        ordering = ordering_field("created_at", "number", "id", default="-created_at")

    @extend_schema(parameters=[FilterSerializer], responses=paginated(PolicyVersionOutput))
    def get(self, request):
        p = self.params(self.FilterSerializer)
        versions = policy_versions()
        if "status" in p:
            versions = versions.filter(status=p["status"])
        if "policy" in p:
            versions = versions.filter(policy__name=p["policy"])
        return self.page(versions.order_by(p["ordering"], "-id"), PolicyVersionOutput)


class PolicyVersionDetailApi(SafetyLeadApi):
    class OutputSerializer(PolicyVersionOutput):
        categories = CategoryOutput(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, pk: int):
        version = get_or_404(policy_versions().prefetch_related("categories"), pk)
        return self.ok(self.OutputSerializer(version).data)


class CategoryListApi(SafetyLeadApi):
    @extend_schema(parameters=[ListParams], responses=paginated(CategoryOutput))
    def get(self, request, pk: int):
        self.params(ListParams)
        version = get_or_404(PolicyVersion.objects.all(), pk)
        categories = Category.objects.filter(policy_version=version).order_by("slug", "pk")
        return self.page(categories, CategoryOutput)
