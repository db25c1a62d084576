"""Blind review over the API: the same blinded payload and the same services as the review page."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from auditcore.models import Decision, Label
from auditcore.selectors.review import (
    adjudication_queue,
    lease_seconds_left,
    review_item_payload,
    verdict_reveal,
)
from auditcore.services import review as review_services
from reviewapp.api.common import ListParams, ReviewerApi, SafetyLeadApi, paginated


class TurnOutput(serializers.Serializer):
    role = serializers.CharField(allow_blank=True)
    content = serializers.CharField(allow_blank=True)


class ReasonCodeOutput(serializers.Serializer):
    number = serializers.IntegerField()
    code = serializers.CharField()
    label = serializers.CharField(allow_blank=True)


class CategoryPolicyOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    help_when = serializers.ListField(child=serializers.CharField(allow_blank=True))
    decline_when = serializers.ListField(child=serializers.CharField(allow_blank=True))
    reason_codes = ReasonCodeOutput(many=True)
    high_stakes = serializers.BooleanField()


class ReviewItemOutput(serializers.Serializer):
    """Exactly the fields of the blinded ReviewItem: nothing of what the model did."""

    item_id = serializers.IntegerField()
    round_name = serializers.CharField()
    policy_version = serializers.CharField()
    prompt = serializers.CharField(allow_blank=True)
    earlier_turns = TurnOutput(many=True)
    surface = serializers.CharField()
    category_slug = serializers.CharField()
    category = CategoryPolicyOutput(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    skipped_before = serializers.BooleanField()
    seen_response = serializers.BooleanField(
        help_text="You took back a verdict on this item: the next one is marked as given "
        "after the reveal."
    )


class VerdictOutput(serializers.Serializer):
    id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    decision = serializers.CharField()
    reason_code = serializers.CharField(allow_blank=True)
    policy_clause = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)
    locked_at = serializers.DateTimeField()
    observed_label = serializers.CharField(allow_blank=True)
    observed_served_label = serializers.CharField(allow_blank=True)
    after_reveal = serializers.BooleanField()


class ReviewNextApi(ReviewerApi):
    """The reviewer's next item (taking a lease), blinded exactly like the review page."""

    class OutputSerializer(serializers.Serializer):
        item = ReviewItemOutput(allow_null=True)
        lease_seconds = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        lease = review_services.lease_take_next(reviewer=request.user)
        if lease is None:
            return self.ok({"item": None, "lease_seconds": 0})
        item = review_item_payload(item_id=lease.item_id, reviewer=request.user, lease=lease)
        return self.ok(
            self.OutputSerializer(
                {"item": item, "lease_seconds": lease_seconds_left(item.lease_expires_at)}
            ).data
        )


class VerdictSubmitApi(ReviewerApi):
    """Lock a verdict. A second verdict on the same item is refused with 409 and the first kept."""

    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=Decision.values)
        reason_code = serializers.CharField(required=False, allow_blank=True, max_length=50)
        policy_clause = serializers.CharField(required=False, allow_blank=True, max_length=300)
        note = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    @extend_schema(request=InputSerializer, responses={201: VerdictOutput})
    def post(self, request, item_id: int):
        data = self.body(self.InputSerializer)
        verdict = review_services.verdict_submit(reviewer=request.user, item_id=item_id, **data)
        return self.ok(VerdictOutput(verdict).data, status=201)


class RevealApi(ReviewerApi):
    """The model's response, only once the reviewer's own verdict on the item is locked."""

    class OutputSerializer(serializers.Serializer):
        item_id = serializers.IntegerField(source="verdict.item_id")
        prompt = serializers.CharField(allow_blank=True)
        response = serializers.CharField(allow_blank=True)
        served_response = serializers.CharField(allow_blank=True, allow_null=True)
        gateway_action = serializers.CharField()
        ask_served = serializers.BooleanField()
        verdict = VerdictOutput()

    @extend_schema(responses=OutputSerializer)
    def get(self, request, item_id: int):
        reveal = verdict_reveal(item_id=item_id, reviewer=request.user)
        if reveal is None:
            raise Http404("No locked verdict of yours on this item.")
        return self.ok(self.OutputSerializer(reveal).data)


class ObservedApi(ReviewerApi):
    """After the reveal: what the model did and (if the gateway changed it) what the user got."""

    class InputSerializer(serializers.Serializer):
        observed_label = serializers.ChoiceField(choices=Label.values)
        observed_served_label = serializers.ChoiceField(
            choices=Label.values, required=False, allow_blank=True
        )

    @extend_schema(request=InputSerializer, responses=VerdictOutput)
    def post(self, request, item_id: int):
        data = self.body(self.InputSerializer)
        verdict = review_services.verdict_observe(
            reviewer=request.user,
            item_id=item_id,
            observed_label=data["observed_label"],
            observed_served_label=data.get("observed_served_label", ""),
        )
        return self.ok(VerdictOutput(verdict).data)


class AdjudicationQueueApi(SafetyLeadApi):
    """Items whose verdicts disagree, oldest first."""

    class OutputSerializer(serializers.Serializer):
        item_id = serializers.IntegerField()
        round_name = serializers.CharField()
        category = serializers.CharField()
        prompt = serializers.CharField(allow_blank=True)
        decisions = serializers.ListField(child=serializers.CharField())

    @extend_schema(parameters=[ListParams], responses=paginated(OutputSerializer))
    def get(self, request):
        self.params(ListParams)
        return self.page(adjudication_queue(), self.OutputSerializer)


class AdjudicationRecordApi(SafetyLeadApi):
    """A safety lead's final call on an item; it becomes the item's final decision."""

    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=Decision.values)
        note = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        item_id = serializers.IntegerField()
        decision = serializers.CharField()
        note = serializers.CharField(allow_blank=True)
        adjudicator = serializers.CharField(source="adjudicator.username")
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, item_id: int):
        data = self.body(self.InputSerializer)
        adjudication = review_services.adjudication_record(
            adjudicator=request.user, item_id=item_id, **data
        )
        return self.ok(self.OutputSerializer(adjudication).data, status=201)
