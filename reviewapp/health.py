"""Reads the state of the database, the broker and the workers for /healthz (through tasks)."""

from dataclasses import dataclass

from django.db import DatabaseError, connection

from auditcore import tasks


@dataclass(frozen=True)
class Component:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    database: Component
    broker: Component
    worker: Component

    @property
    def ok(self) -> bool:
        return self.database.ok and self.broker.ok and self.worker.ok


def _database() -> Component:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Component(False, f"database unreachable: {exc.__class__.__name__}")
    return Component(True, "ok")


def system_health(*, timeout: float) -> Health:
    broker = Component(*tasks.broker_check(timeout))
    # Without a broker no task can reach a worker; say so rather than wait.
    worker = (
        Component(*tasks.worker_check(timeout)) if broker.ok else Component(False, "broker down")
    )
    return Health(database=_database(), broker=broker, worker=worker)
