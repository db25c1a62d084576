"""The audit domain as a Django app."""

from django.apps import AppConfig


class AuditcoreConfig(AppConfig):
    name = "auditcore"
    verbose_name = "Refusal Audit"
    default_auto_field = "django.db.models.BigAutoField"
