"""The Django project package and web layer of Refusal Audit."""

from reviewapp.celery import app as celery_app

__all__ = ["celery_app"]
