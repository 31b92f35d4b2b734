"""Transactions that write several jobs lock them in id order, so two of them wait, never deadlock.

Found by the priority benchmark: cancelling a system run deadlocked with the resolve deliveries
committing its jobs, because an ``UPDATE … WHERE id IN (…)`` locks rows in the order its scan meets
them (here the table's physical order), while a delivery locks its jobs in id order.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from models import Confidence, JobStatus, ResolutionMethod
from pipeline import store
from pipeline.runs import start_run
from pipeline.stages.outcome import Failure, Outcome, Resolved, apply_outcome

pytestmark = pytest.mark.services

JOBS = 40
FIRST_ID = 10_000_000


def _jobs_stored_against_id_order(ctx: Any, run_id: str) -> list[int]:
    """JOBS pending jobs whose ids run against the table's physical order (the highest id first)."""
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, run_id, kind, value, dedupe_key, first_line_no, status,"
                " created_at, updated_at)"
                " SELECT g, :run_id, 'handle', 'h' || g, md5(g::text), g - :first + 1, 'PENDING', now(), now()"
                " FROM generate_series(:last, :first, -1) AS g"
            ),
            {"run_id": run_id, "first": FIRST_ID, "last": FIRST_ID + JOBS - 1},
        )
    return list(range(FIRST_ID, FIRST_ID + JOBS))


def _wait_until_blocked(engine: sa.Engine, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query ILIKE '%jobs%'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one():
                return
        time.sleep(0.05)
    raise AssertionError("the bulk transition never waited for the held job")


def test_a_bulk_transition_waits_at_a_held_job_without_locking_the_jobs_after_it(pipeline_ctx):
    """Given jobs stored against id order and one in the middle held by another transaction, when a
    bulk transition (a cancel's) runs over all of them, then it waits at the held job having locked
    none after it: the holder can still lock and write the later jobs (as a resolve delivery's commit
    does, in id order), commit, and the transition then moves every job. Before, the transition had
    locked the later jobs first, and the two deadlocked."""
    run_id = start_run("a", "o", ["@placeholder"], ctx=pipeline_ctx, send=lambda _sends: None)
    ids = _jobs_stored_against_id_order(pipeline_ctx, run_id)
    held, later = ids[JOBS // 2], ids[JOBS // 2 + 1 :]
    result: dict[str, Any] = {}

    def cancel_all() -> None:
        try:
            with pipeline_ctx.session() as session:
                result["moved"] = store.set_jobs_status(
                    session,
                    job_ids=ids,
                    status=JobStatus.CANCELLED,
                    from_statuses=[JobStatus.PENDING, JobStatus.FETCHING],
                    now=pipeline_ctx.now(),
                )
        except Exception as exc:  # a deadlock is reported here as the transition's error
            result["error"] = exc

    with pipeline_ctx.session() as holder:
        assert store.lock_jobs(holder, job_ids=[held], statuses=[JobStatus.PENDING]) == {held: "PENDING"}
        canceller = threading.Thread(target=cancel_all, daemon=True)
        canceller.start()
        _wait_until_blocked(pipeline_ctx.engine)
        holder.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        # The later jobs are free: the waiting transition has not locked past the held one.
        assert store.lock_jobs(holder, job_ids=later, statuses=[JobStatus.PENDING]) == dict.fromkeys(
            later, "PENDING"
        )
        store.update_jobs(
            holder,
            rows=[{"id": job_id, "status": JobStatus.FETCHING} for job_id in [held, *later]],
            from_statuses=[JobStatus.PENDING],
            now=pipeline_ctx.now(),
        )
    canceller.join(timeout=20)
    assert not canceller.is_alive()
    assert "error" not in result, result.get("error")
    assert result["moved"] == JOBS
    with pipeline_ctx.session() as session:
        counts = store.count_jobs_by_status(session, run_id=run_id)
    assert counts.get(JobStatus.CANCELLED) == JOBS


def test_a_delivery_commit_locks_every_job_it_writes_in_id_order(pipeline_ctx):
    """Given a delivery whose outcome moves a high job to FETCHING and fails a low one, and another
    transaction holding the low job, when the delivery commits, then it waits at the low job having
    locked nothing above it: the other transaction can still lock the high job, and both finish.
    Before, the commit locked its FETCHING jobs first (the high one), then waited for the low one,
    and a transaction locking in id order deadlocked with it."""
    run_id = start_run("a", "o", ["@placeholder"], ctx=pipeline_ctx, send=lambda _sends: None)
    ids = _jobs_stored_against_id_order(pipeline_ctx, run_id)
    low, high = ids[0], ids[-1]
    with pipeline_ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
    outcome = Outcome(
        fetching={high: Resolved("UC" + "h" * 22, ResolutionMethod.FOR_HANDLE, Confidence.CERTAIN)},
        failed={low: Failure("not_found", "no channel has this handle")},
    )
    result: dict[str, Any] = {}

    def commit() -> None:
        try:
            result["moved"] = apply_outcome(pipeline_ctx, run, outcome, from_statuses=[JobStatus.PENDING])
        except Exception as exc:  # a deadlock is reported here as the commit's error
            result["error"] = exc

    with pipeline_ctx.session() as holder:
        store.lock_jobs(holder, job_ids=[low], statuses=[JobStatus.PENDING])
        delivery = threading.Thread(target=commit, daemon=True)
        delivery.start()
        _wait_until_blocked(pipeline_ctx.engine)
        holder.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        assert store.lock_jobs(holder, job_ids=[high], statuses=[JobStatus.PENDING]) == {high: "PENDING"}
    delivery.join(timeout=20)
    assert not delivery.is_alive()
    assert "error" not in result, result.get("error")
    assert result["moved"] == {high}
    with pipeline_ctx.session() as session:
        counts = store.count_jobs_by_status(session, run_id=run_id)
    assert (counts.get(JobStatus.FETCHING), counts.get(JobStatus.FAILED)) == (1, 1)
