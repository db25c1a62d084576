"""Replay a stored corpus against a stored endpoint: replay --corpus NAME --endpoint NAME.

Runs in this process and prints progress (no broker needed); --resume RUN continues a run that
was interrupted. Exit 0 when the run finished (failed prompts are counted), 2 on usage or
connection errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcore.exceptions import ApplicationError
from auditcore.keyring import KeyringError
from auditcore.models import Corpus, Endpoint, ReplayRun
from auditcore.services.replay import endpoint_config, replay_run_create, replay_run_execute

from .gate import EXIT_USAGE, preflight


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


class Command(BaseCommand):
    help = "Replay a stored corpus against a stored endpoint; prints the run id for `gate`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", help="corpus name")
        parser.add_argument("--endpoint", help="endpoint name")
        parser.add_argument("--resume", type=int, help="continue an interrupted run by id")

    def handle(
        self,
        *args: Any,
        corpus: str | None,
        endpoint: str | None,
        resume: int | None,
        **options: Any,
    ) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if resume is not None:
            if corpus or endpoint:
                raise usage_error("--resume takes no --corpus or --endpoint")
            run = ReplayRun.objects.filter(pk=resume).first()
            if run is None:
                raise usage_error(f"--resume: no replay run {resume}")
        else:
            if not corpus or not endpoint:
                raise usage_error("give --corpus NAME and --endpoint NAME (or --resume RUN)")
            corpus_obj = Corpus.objects.filter(name=corpus).first()
            if corpus_obj is None:
                raise usage_error(f"--corpus: no corpus called {corpus!r}")
            endpoint_obj = Endpoint.objects.filter(name=endpoint).first()
            if endpoint_obj is None:
                raise usage_error(f"--endpoint: no endpoint called {endpoint!r}")
            first = corpus_obj.prompts.filter(active=True).order_by("id").first()
            if first is not None:
                try:
                    config = endpoint_config(endpoint_obj)
                except (KeyringError, ValueError) as exc:
                    raise usage_error(f"--endpoint: {exc}") from exc
                preflight(config, first.prompt, endpoint_obj.name)
            try:
                run = replay_run_create(
                    actor=None, corpus_id=corpus_obj.pk, endpoint_id=endpoint_obj.pk
                )
            except ApplicationError as exc:
                raise usage_error(exc.message) from exc

        self.stdout.write(
            f"Run #{run.pk}: {run.total} prompts from snapshot #{run.snapshot_id} "
            f"against {run.endpoint.name}"
        )
        done = run.results.count()
        step = max(1, run.total // 20)

        def progress(_result: object) -> None:
            nonlocal done
            done += 1
            if done % step == 0 or done == run.total:
                self.stdout.write(f"  {done}/{run.total}")

        run = replay_run_execute(run_id=run.pk, on_result=progress)
        if run.status != ReplayRun.Status.SUCCEEDED:
            raise usage_error(f"run #{run.pk} failed: {run.error}")
        self.stdout.write(
            f"Run #{run.pk} finished: {run.answered} answered, {run.failed} failed of {run.total}."
        )
        if run.total and run.answered == 0:
            raise usage_error(f"run #{run.pk}: the endpoint answered none of the prompts")
