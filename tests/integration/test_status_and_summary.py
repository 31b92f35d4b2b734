"""What a poll and a finalize cost on the real services: status is one query plus Redis, the summary
query's plan stays linear for a big new run the planner has no statistics for."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from models import Channel, Job, JobStatus, Run, RunInput
from pipeline import messages, stages, store, summary
from pipeline.runs import get_run_status, start_run
from pipeline.summary import build_summary
from tests.factories import new_run_id

pytestmark = pytest.mark.services


def _statements(engine: sa.Engine, autocommit: list[bool] | None = None) -> tuple[list[str], Any]:
    """Record each statement the engine runs, and in ``autocommit`` whether its connection was in
    autocommit (psycopg then sends no BEGIN before it and no ROLLBACK or COMMIT after it)."""
    seen: list[str] = []

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)
        if autocommit is not None:
            autocommit.append(bool(conn.connection.dbapi_connection.autocommit))

    sa.event.listen(engine, "before_cursor_execute", before)
    return seen, before


def test_status_of_a_running_run_is_one_query_and_no_run_object(pipeline_ctx, emulator):
    """Given a running run, when its status is asked, then one SQL statement runs and no Run is loaded."""
    lines = [c["id"] for c in emulator.catalogue.sample(30)]
    held: list[messages.Send] = []
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=held.extend)
    stages.normalize_run(pipeline_ctx, run_id)
    loaded: list[Any] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target)

    autocommit: list[bool] = []
    seen, before = _statements(pipeline_ctx.engine, autocommit)
    sa.event.listen(Run, "load", on_load)
    try:
        status = get_run_status(run_id, "o", ctx=pipeline_ctx)
    finally:
        sa.event.remove(Run, "load", on_load)
        sa.event.remove(pipeline_ctx.engine, "before_cursor_execute", before)
    assert (status["run_status"], status["counts_source"], status["total_jobs"]) == ("RUNNING", "redis", 30)
    assert status["status_counts"] == {"IN_PROGRESS": 30}
    assert len(seen) == 1 and loaded == []
    assert autocommit == [True], "one round trip: no BEGIN before the read, no ROLLBACK after it"


def test_an_api_call_is_recorded_in_one_autocommit_insert(pipeline_ctx, emulator):
    """Given a lookup against the emulator, when its call is recorded, then the api_calls row is one
    INSERT on an autocommit connection (no transaction around it) and the row is there."""
    handle = emulator.catalogue.find(1, terminated=False)[0]["handle"]
    autocommit: list[bool] = []
    seen, before = _statements(pipeline_ctx.engine, autocommit)
    try:
        assert pipeline_ctx.youtube.channel_by_handle(handle) is not None
    finally:
        sa.event.remove(pipeline_ctx.engine, "before_cursor_execute", before)
    inserts = [
        a
        for s, a in zip(seen, autocommit, strict=True)
        if s.lstrip().upper().startswith("INSERT INTO API_CALLS")
    ]
    assert inserts == [True]
    with pipeline_ctx.session() as session:
        rows = session.execute(sa.text("SELECT endpoint, units FROM api_calls")).all()
    assert [tuple(r) for r in rows] == [("channels.list", 1)]


def test_summary_ranks_the_top_channels_in_sql_as_python_ranks_every_channel(pipeline_ctx, monkeypatch):
    """Given a run's DONE channels with ties, hidden and unknown counts and ids that collations order
    differently, when the summary keeps the top 6, then they are the first 6 of every channel ranked in
    Python, each with its input lines, and channels_total counts them all."""
    monkeypatch.setattr(summary, "TOP_CHANNELS", 6)
    now = pipeline_ctx.now()
    subscribers = [
        (500, False),
        (900, False),
        (900, False),
        (900, False),
        (None, False),
        (700, True),
        (10, False),
    ]
    ids = ["UCb_x", "UCB-x", "UCbax", "UC_bx", "UCzzz", "UCaaa", "UCmid"]  # the 900s tie: code point order
    run_id = new_run_id()
    lines = [f"https://www.youtube.com/channel/{cid}" for cid in ids] + [ids[1]]
    start_run("a", "o", lines, ctx=pipeline_ctx, send=lambda _sends: None, run_id=run_id)
    with pipeline_ctx.session() as s:
        run = store.get_run(s, run_id=run_id)
        for n, (cid, (subs, hidden)) in enumerate(zip(ids, subscribers, strict=True)):
            s.add(
                Channel(
                    id=cid,
                    title=cid,
                    subscriber_count=subs,
                    hidden_subscriber_count=hidden,
                    view_count=n,
                    video_count=1,
                    fetched_at=now,
                    first_seen_at=now,
                )
            )
            job = Job(
                run_id=run_id,
                kind="channel_id",
                value=cid,
                dedupe_key=cid,
                first_line_no=n + 1,
                status=JobStatus.DONE,
                channel_id=cid,
            )
            s.add(job)
            s.flush()
            s.add(RunInput(run_id=run_id, line_no=n + 1, text=lines[n], job_id=job.id))
            if cid == ids[1]:
                s.add(RunInput(run_id=run_id, line_no=len(lines), text=lines[-1], job_id=job.id))
        s.flush()
        every = store.run_channel_rows(s, run_id=run_id)
        got = build_summary(s, run, now=now)

    def visible(c: Any) -> int | None:
        return None if c.hidden_subscriber_count else c.subscriber_count

    ranked = sorted(every, key=lambda r: (visible(r[0]) is None, -(visible(r[0]) or 0), r[0].id))
    assert [c["channel_id"] for c in got["channels"]] == [c.id for c, _ in ranked[:6]]
    assert [c["channel_id"] for c in got["channels"]][:3] == ["UCB-x", "UC_bx", "UCbax"]
    assert {c["channel_id"]: c["input_lines"] for c in got["channels"]}["UCB-x"] == [2, len(lines)]
    assert got["channels_total"] == len(ids)


def test_a_guarded_transition_of_more_ids_than_postgresql_takes_parameters_goes_in_chunks(pipeline_ctx):
    """Given 70,000 job ids (cancelling a 100,000-input run), when they move, then no statement passes
    PostgreSQL's 65,535 bind parameters."""
    with pipeline_ctx.session() as s:
        moved = store.set_jobs_status(
            s,
            job_ids=range(1, 70_001),
            status=JobStatus.CANCELLED,
            from_statuses=[JobStatus.PENDING],
            now=pipeline_ctx.now(),
        )
    assert moved == 0
