"""End to end through RabbitMQ, Redis, PostgreSQL and the emulator over HTTP, with a real worker."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import Channel, ChannelSnapshot, Job, JobStatus
from pipeline.errors import RunNotFound
from pipeline.runs import get_run_results, get_run_status, start_run
from tests.conftest import AMQP_URL
from tests.factories import inputs_of_every_kind
from tests.integration.pipeline_harness import drain_events, wait_until

pytestmark = pytest.mark.services


def finished(ctx: Any, run_id: str) -> dict[str, Any] | None:
    try:
        status = get_run_status(run_id, ctx=ctx)
    except RunNotFound:  # a run published over AMQP exists once start_run has recorded it
        return None
    return status if status["run_status"] == "FINISHED" else None


def test_every_input_kind_finishes_with_the_right_statuses_and_minimum_quota(worker, pipeline_ctx, emulator):
    """Given inputs of every kind, when the run goes through the real services, then each lands right at the least quota."""
    inputs = inputs_of_every_kind(emulator.catalogue.sample(200))
    lines = list(inputs.values())
    run_id = start_run("analysis-1", "owner-1", lines, ctx=pipeline_ctx, send=send_all)

    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)

    by_line = {r["input"]: r for r in get_run_results(run_id, ctx=pipeline_ctx)}
    assert by_line[inputs["handle"]]["status"] == "DONE"
    assert by_line[inputs["handle_dup"]]["job_id"] == by_line[inputs["handle"]]["job_id"]
    assert by_line[inputs["channel_same_as_handle"]]["channel_id"] == by_line[inputs["handle"]]["channel_id"]
    for key in ("channel_id", "username", "video", "playlist"):
        assert by_line[inputs[key]]["status"] == "DONE", key
    assert by_line[inputs["missing_handle"]]["error_code"] == "not_found"
    assert by_line[inputs["terminated"]]["error_code"] == "not_found"
    assert by_line[inputs["invalid"]]["error_code"] == "invalid_input"
    assert (by_line[inputs["custom_url"]]["method"], by_line[inputs["custom_url"]]["confidence"]) == (
        "forHandle",
        "probable",
    )
    summary = status["summary"]
    assert summary["counts_by_status"] == {"DONE": 7, "FAILED": 3}
    assert (
        summary["channels_total"] == 6
    )  # handle, channel id, username, custom URL, video and playlist owners
    subs = [c["subscribers"] for c in summary["channels"] if c["subscribers"] is not None]
    assert subs == sorted(subs, reverse=True)

    # Minimum: one lookup per handle/username (with metadata), 1 per custom-URL try, one videos.list,
    # one playlists.list, and ONE channels.list for every channel id still needing metadata.
    usage = emulator.usage()["by_method"]
    assert usage["videos.list"]["units"] == 1
    assert usage["playlists.list"]["units"] == 1
    lookups = 4  # handle, missing handle, username, custom URL (found by forHandle)
    # one batch for the explicit id, the terminated id and the video's and playlist's owners:
    assert usage["channels.list"]["units"] == lookups + 1
    assert status["quota_units"]["total"] == emulator.usage()["units_total"]
    with pipeline_ctx.session() as s:
        snaps = s.execute(sa.select(sa.func.count()).select_from(ChannelSnapshot)).scalar_one()
        chans = s.execute(sa.select(sa.func.count()).select_from(Channel)).scalar_one()
    assert snaps == chans == summary["channels_total"]


def test_run_finished_is_published_once_as_plain_json(worker, pipeline_ctx, emulator):
    """Given a finished run, when the backend reads the run_finished queue, then it finds exactly one JSON event."""
    run_id = start_run(
        "a", "o", [c["id"] for c in emulator.catalogue.sample(20)], ctx=pipeline_ctx, send=send_all
    )
    wait_until(lambda: finished(pipeline_ctx, run_id))
    wait_until(lambda: get_run_status(run_id, ctx=pipeline_ctx) and _event_sent(pipeline_ctx, run_id))

    events = [json.loads(body) for body in drain_events()]
    assert [e["run_id"] for e in events] == [run_id]
    assert events[0]["event"] == "run_finished" and events[0]["status"] == "FINISHED"


def _event_sent(ctx: Any, run_id: str) -> bool:
    from models import Run

    with ctx.session() as s:
        return s.get(Run, run_id).finished_event_sent_at is not None


def test_start_run_published_with_plain_pika_is_processed(worker, pipeline_ctx, emulator, rabbit_broker):
    """Given a foreign backend that only speaks AMQP, when it publishes the documented message, then the run finishes."""
    run_id = str(uuid.uuid4())
    sample = emulator.catalogue.sample(5)
    body = {
        "queue_name": "runs",
        "actor_name": "start_run",
        "args": [],
        "kwargs": {
            "run_id": run_id,
            "analysis_id": "an-1",
            "owner_id": "ow-1",
            "channel_inputs": [f"@{sample[0]['handle']}", sample[1]["id"], "not a url at all!"],
            "options": {},
        },
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare("runs", passive=True)  # exists once a worker has started
    channel.confirm_delivery()
    channel.basic_publish(
        "",
        "runs",
        json.dumps(body).encode(),
        mandatory=True,
        properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
    )
    connection.close()

    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)
    assert status["analysis_id"] == "an-1" and status["total_inputs"] == 3


def test_another_owners_run_is_not_found(worker, pipeline_ctx, emulator):
    """Given a run of owner A, when owner B asks for it, then the answer is 'not found', for status and results."""
    run_id = start_run(
        "a", "owner-A", [emulator.catalogue.sample(1)[0]["id"]], ctx=pipeline_ctx, send=send_all
    )
    with pytest.raises(RunNotFound):
        get_run_status(run_id, "owner-B", ctx=pipeline_ctx)
    with pytest.raises(RunNotFound):
        get_run_results(run_id, "owner-B", ctx=pipeline_ctx)
    assert get_run_status(run_id, "owner-A", ctx=pipeline_ctx)["run_id"] == run_id


def test_one_permanent_failure_and_transient_faults_leave_the_others_alone(worker, pipeline_ctx, emulator):
    """Given 5xx and 429 faults and one bad handle, when the run goes, then only the bad handle fails."""
    live = [c for c in emulator.catalogue.sample(300) if not c["terminated"] and c["handle"]]
    emulator.set_faults(
        faults=[
            {"endpoint": "channels.list", "kind": "backend_503", "count": 3},
            {"endpoint": "channels.list", "kind": "rate_limit_429", "count": 2},
        ]
    )
    lines = [f"@{c['handle']}" for c in live[:10]] + ["@no-such-handle-xyz"]
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=send_all)
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=90)
    assert status["summary"]["counts_by_status"] == {"DONE": 10, "FAILED": 1}
    assert status["summary"]["errors_by_code"] == {"not_found": 1}


def test_jobs_whose_retries_run_out_are_failed_and_counted(worker, pipeline_ctx, emulator):
    """Given an API that fails every call, when retries run out, then the jobs are FAILED with the last error, and the run still finishes (a channel id waiting at the resolution barrier included)."""
    emulator.set_faults(faults=[{"endpoint": "*", "kind": "backend_500", "rate": 1.0}])
    sample = [c for c in emulator.catalogue.sample(50) if c["handle"]][:4]
    lines = [f"@{c['handle']}" for c in sample[:3]] + [sample[3]["id"], "bad input!"]
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=send_all)
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=120)
    assert status["summary"]["counts_by_status"] == {"FAILED": 5}
    assert status["summary"]["errors_by_code"] == {"retries_exhausted": 4, "invalid_input": 1}
    reasons = [r["error_message"] for r in get_run_results(run_id, ctx=pipeline_ctx)[:4]]
    assert all(reason.startswith(("resolve failed", "fetch_metadata failed")) for reason in reasons), reasons
    assert all("500" in reason and "worker log" not in reason for reason in reasons), reasons


def test_status_is_answered_from_redis_while_running_and_from_the_database_after(
    worker, pipeline_ctx, emulator
):
    """Given a running run, when status is asked, then Redis answers; once finished, the database does."""
    sample = emulator.catalogue.sample(400)
    run_id = start_run("a", "o", [c["id"] for c in sample], ctx=pipeline_ctx, send=send_all)
    wait_until(
        lambda: (
            get_run_status(run_id, ctx=pipeline_ctx)["run_status"] == "RUNNING"
            or finished(pipeline_ctx, run_id)
        ),
        timeout=30,
    )
    final = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)
    assert final["counts_source"] == "database"
    assert final["progress"] == 1.0
    assert sum(final["summary"]["counts_by_status"].values()) == final["total_jobs"] == len(sample)
    with pipeline_ctx.session() as s:
        open_jobs = s.execute(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.status.notin_([JobStatus.DONE, JobStatus.FAILED]))
        ).scalar_one()
    assert open_jobs == 0
