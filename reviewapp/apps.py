"""The web layer as a Django app, so its templates and static files are found."""

from django.apps import AppConfig


class ReviewappConfig(AppConfig):
    name = "reviewapp"
    verbose_name = "Refusal Audit web"
