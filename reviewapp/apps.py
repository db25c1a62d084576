"""The web layer as a Django app, so its templates and static files are found."""

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def _create_cache_table(**kwargs) -> None:
    # The database cache (used when REDIS_URL is unset) needs its table; migrate makes it, so
    # `make run`, compose and CI need no extra step. A no-op when it exists or Redis is the cache.
    call_command("createcachetable", database=kwargs.get("using", "default"), verbosity=0)


class ReviewappConfig(AppConfig):
    name = "reviewapp"
    verbose_name = "Refusal Audit web"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self)
