"""Celery tasks: the one module of auditcore that imports Celery. A task takes ids, loads, calls
a service. The Celery app is made in reviewapp/celery.py, its beat schedule in the settings."""

from collections.abc import Callable

from celery import current_app, shared_task
from celery.exceptions import CeleryError
from celery.exceptions import TimeoutError as ResultTimeout
from celery.signals import worker_init
from django.conf import settings
from django.db import OperationalError
from kombu.exceptions import KombuError

from auditcore.detection import response as response_classifier
from auditcore.ingest import redaction
from auditcore.models import AuditRound, ExportJob
from auditcore.services.alerts import alerts_check_recent, round_alerts_check
from auditcore.services.exports import export_job_run, export_jobs_expire
from auditcore.services.exports import lease as export_lease
from auditcore.services.ingest import ingest_chunk_process, ingest_job_fail, ingest_job_plan
from auditcore.services.recategorise import recategorise_job_fail, recategorise_job_run
from auditcore.services.replay import replay_run_fail, replay_run_process_chunk
from auditcore.services.rounds import OpenedRound, round_draw, round_templates_open_due
from auditcore.services.search_index import interactions_search_index

# Jobs that resume from their own checkpoint: a lost database connection is retried with
# backoff; any other error marks the job failed (with the reason its page shows) and re-raises.
RESUMABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


def _run_or_fail[T](run: Callable[[], T], fail: Callable[[str], object], what: str) -> T:
    try:
        return run()
    except OperationalError:
        raise  # a lost database connection: retried with backoff
    except Exception as exc:
        fail(f"{what} failed: {exc}")
        raise


@worker_init.connect
def _compile_classifier(**kwargs) -> None:
    """The pool's processes fork from the worker with the classifier's pre-filters and the
    redaction scan compiled, so no chunk waits for the compilation."""
    response_classifier.prepare()
    redaction.prepare()


@shared_task(name="auditcore.ping")
def ping() -> str:
    return "pong"


def broker_check(timeout: float) -> tuple[bool, str]:
    """Open a connection to the broker, failing fast instead of retrying forever."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"broker unreachable: {exc.__class__.__name__}"
    return True, "ok"


def worker_check(timeout: float) -> tuple[bool, str]:
    """A real round trip: a task through the broker to a worker and its result back."""
    try:
        result = ping.apply_async(retry=False, expires=timeout * 2)
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"could not send to the broker: {exc.__class__.__name__}"
    try:
        answer = result.get(timeout=timeout)
    except ResultTimeout:
        return False, f"no worker answered within {timeout:g}s"
    except (OSError, KombuError, CeleryError) as exc:
        return False, f"worker round trip failed: {exc.__class__.__name__}"
    result.forget()
    if answer != "pong":
        return False, f"unexpected answer {answer!r}"
    return True, "ok"


# --- Ingest -------------------------------------------------------------------------------------


@shared_task(name="auditcore.ingest_job_run", acks_late=True, reject_on_worker_lost=True)
def ingest_job_run(job_id: int) -> int:
    """Cut the job into chunks and fan them out as they are cut; rerunning re-sends only the
    pending chunks."""

    sent: list[int] = []

    def dispatch(chunk_ids: list[int]) -> None:
        for chunk_id in chunk_ids:
            ingest_chunk_run.delay(job_id, chunk_id)
        sent.extend(chunk_ids)

    if ingest_job_plan(job_id=job_id, dispatch=dispatch).finished:
        search_index_enqueue()  # the chunks all ran while the file was cut
    return len(sent)


@shared_task(name="auditcore.ingest_chunk_run", **RESUMABLE)
def ingest_chunk_run(job_id: int, chunk_id: int) -> None:
    """Store one chunk; the run that finishes the job queues the search indexing of its rows."""
    job_finished = _run_or_fail(
        lambda: ingest_chunk_process(chunk_id=chunk_id),
        lambda error: ingest_job_fail(job_id=job_id, error=error),
        f"chunk {chunk_id}",
    )
    if job_finished:
        search_index_enqueue()


def ingest_job_enqueue(job_id: int) -> None:
    """Send the job to the workers once the transaction that created it commits."""
    ingest_job_run.delay_on_commit(job_id)


@shared_task(
    name="auditcore.round_draw",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def round_draw_task(round_id: int) -> None:
    """Draw an audit round's sample; idempotent, a rerun only adds what is missing."""
    round_draw(round_id=round_id)


def round_draw_enqueue(round_id: int) -> None:
    """Draw the round on the workers once the transaction that claimed it commits."""
    round_draw_task.delay_on_commit(round_id)


def round_opened_enqueue(opened: OpenedRound) -> None:
    """Queue the draw of a round that round_open_last_week claimed for drawing."""
    if opened.draw_requested:
        round_draw_enqueue(opened.audit_round.pk)


@shared_task(name="auditcore.rounds_open_scheduled", soft_time_limit=600, time_limit=660)
def rounds_open_scheduled() -> int:
    """Beat's weekly routine: open every due template's round over last week; idempotent."""
    opened_rounds = round_templates_open_due()
    for opened in opened_rounds:
        round_opened_enqueue(opened)
    return sum(1 for opened in opened_rounds if opened.created)


@shared_task(name="auditcore.round_alerts_check", soft_time_limit=600, time_limit=660)
def round_alerts_check_task(round_id: int) -> None:
    audit_round = AuditRound.objects.filter(pk=round_id).first()
    if audit_round is not None:
        round_alerts_check(audit_round=audit_round)


def round_alerts_enqueue(round_id: int) -> None:
    """Check a round for alerts once the transaction that closed it commits."""
    round_alerts_check_task.delay_on_commit(round_id)


@shared_task(name="auditcore.alerts_check_scheduled", soft_time_limit=1200, time_limit=1260)
def alerts_check_scheduled() -> int:
    return alerts_check_recent()


# --- Replay ---------------------------------------------------------------------------------


@shared_task(name="auditcore.replay_run_chunk", soft_time_limit=1800, time_limit=1900, **RESUMABLE)
def replay_run_chunk_task(run_id: int) -> int:
    """Replay the next chunk of a run, then queue the one after; results are the checkpoint."""
    remaining = _run_or_fail(
        lambda: replay_run_process_chunk(run_id=run_id),
        lambda error: replay_run_fail(run_id=run_id, error=error),
        "replay",
    )
    if remaining:
        replay_run_chunk_task.delay(run_id)
    return remaining


def replay_run_enqueue(run_id: int) -> None:
    """Send the run to the workers once the transaction that created it commits."""
    replay_run_chunk_task.delay_on_commit(run_id)


# --- Exports --------------------------------------------------------------------------------


@shared_task(
    name="auditcore.export_job_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3600,
    time_limit=3700,
    # Checks once a lease period until the run holding the job ends or its lease lapses: at
    # most for as long as that run may last.
    max_retries=int(3700 / settings.EXPORT_LEASE_SECONDS) + 2,
)
def export_job_run_task(self, job_id: int) -> int:
    """Write an export's file. A redelivered task whose job another run still holds comes back
    once that lease could have lapsed: it takes the job over if the run died, else finds it done."""
    job = export_job_run(job_id=job_id)
    if job.status == ExportJob.Status.RUNNING:
        raise self.retry(countdown=export_lease().total_seconds() + 5)
    return job.rows_written


def export_job_enqueue(job_id: int) -> None:
    """Send the export to the workers once the transaction that created it commits."""
    export_job_run_task.delay_on_commit(job_id)


@shared_task(name="auditcore.export_jobs_expire_scheduled", soft_time_limit=600, time_limit=660)
def export_jobs_expire_scheduled() -> int:
    """Beat's sweep: delete the files of exports past their expiry; idempotent."""
    return export_jobs_expire()


# --- Re-categorising stored traffic -------------------------------------------------------------


@shared_task(
    name="auditcore.recategorise_job_run", soft_time_limit=3600, time_limit=3700, **RESUMABLE
)
def recategorise_job_run_task(job_id: int) -> int:
    """Re-categorise a period's traffic; a rerun resumes after the last finished chunk."""
    job = _run_or_fail(
        lambda: recategorise_job_run(job_id=job_id),
        lambda error: recategorise_job_fail(job_id=job_id, error=error),
        "re-categorisation",
    )
    return job.changed


def recategorise_job_enqueue(job_id: int) -> None:
    """Send the job to the workers once the transaction that created it commits."""
    recategorise_job_run_task.delay_on_commit(job_id)


# --- Search over prompts --------------------------------------------------------------------


@shared_task(
    name="auditcore.interactions_search_index",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=3600,
    time_limit=3700,
)
def interactions_search_index_task() -> int:
    """Fill the search vectors ingest left out; resumable, and a concurrent run skips ahead."""
    return interactions_search_index()


def search_index_enqueue() -> None:
    """Index the new rows once the transaction that stored them commits (at once outside one)."""
    interactions_search_index_task.delay_on_commit()
