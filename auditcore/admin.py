"""Django admin for every model (staff only)."""

from django.contrib import admin

from auditcore import models


@admin.register(models.Surface, models.ModelVersion, models.Policy)
class NamedAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(models.PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ["policy", "number", "status", "published_at"]
    list_filter = ["status"]


@admin.register(models.Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "policy_version", "high_stakes"]
    list_filter = ["high_stakes"]


@admin.register(models.IngestJob)
class IngestJobAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "origin", "status", "received", "inserted", "rejected"]
    list_filter = ["status", "origin"]


@admin.register(models.QuarantinedRecord)
class QuarantinedRecordAdmin(admin.ModelAdmin):
    list_display = ["job", "line", "field", "reason"]
    raw_id_fields = ["job"]


@admin.register(models.Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["external_id", "source", "occurred_at", "category", "response_label"]
    list_filter = ["response_label", "served_label", "category"]
    search_fields = ["external_id"]
    raw_id_fields = ["surface", "model_version", "ingest_job"]
    show_full_result_count = False


@admin.register(models.StratumCount)
class StratumCountAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "surface",
        "model_version",
        "category",
        "outcome",
        "gateway_changed",
        "count",
    ]


@admin.register(models.RoundTemplate)
class RoundTemplateAdmin(admin.ModelAdmin):
    """Where leads keep the standing settings the weekly routine opens rounds with."""

    list_display = ["name", "policy", "budget", "size_measure", "weekday", "active"]
    list_filter = ["active"]
    filter_horizontal = ["surfaces", "model_versions"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action"]
