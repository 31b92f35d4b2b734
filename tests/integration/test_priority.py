"""Priorities on real RabbitMQ priority queues: an interactive run is not stuck behind a system run's
backlog, because every message of a run inherits the priority the run started with."""

from __future__ import annotations

import uuid
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from actors.priority import SYSTEM, sending_as
from models import Job, JobStatus, RunKind
from pipeline.runs import get_run_status, start_run
from pipeline.stages.requests import RunRequest, record_run
from tests.conftest import AMQP_URL
from tests.integration.pipeline_harness import running_worker, wait_until

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]

OPEN = (JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING)


def ready(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def open_jobs(ctx: Any, run_id: str) -> int:
    with ctx.session() as s:
        return s.execute(
            sa.select(sa.func.count()).where(Job.run_id == run_id, Job.status.in_([str(x) for x in OPEN]))
        ).scalar_one()


def test_an_interactive_run_overtakes_the_queued_lookups_of_a_system_run(
    rabbit_broker: Any, pipeline_ctx: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a system run whose 300 lookups fill the resolve queue of a two-thread worker, when a 10-input interactive run starts behind them, then it finishes while most of the system run's lookups are still waiting (first in, first out it would wait for all of them)."""
    emulator.set_faults(latency_ms=25)
    # One lookup per message, so the system run's 300 lookups are 300 queued messages to overtake.
    monkeypatch.setattr(pipeline_ctx.settings, "resolve_lookups_per_message", 1)
    live = [c for c in emulator.catalogue.sample(3_000) if not c["terminated"] and c["handle"]]
    system_lines = [f"@{c['handle']}" for c in live[:300]]
    interactive_lines = [f"@{c['handle']}" for c in live[300:310]]
    system = RunRequest(
        run_id=str(uuid.uuid4()),
        analysis_id="refresh",
        owner_id="system",
        channel_inputs=system_lines,
        options={},
    )
    with running_worker(rabbit_broker, pipeline_ctx, threads=2):
        with sending_as(SYSTEM):  # as the periodic refresh does (its actor is SYSTEM)
            send_all(record_run(pipeline_ctx, system, kind=RunKind.SYSTEM))
        wait_until(lambda: ready("resolve") >= 250, timeout=60, interval=0.05)
        run_id = start_run("people", "owner-1", interactive_lines, ctx=pipeline_ctx, send=send_all)
        status = wait_until(
            lambda: (s := get_run_status(run_id, ctx=pipeline_ctx))["run_status"] == "FINISHED" and s,
            timeout=60,
            interval=0.05,
        )
        system_left = open_jobs(pipeline_ctx, system.run_id)
        queued = ready("resolve")
    assert status["summary"]["counts_by_status"] == {"DONE": 10}
    assert system_left >= 150 and queued >= 100, (
        f"the interactive run waited behind the system run: {system_left} system jobs open, {queued} queued"
    )
