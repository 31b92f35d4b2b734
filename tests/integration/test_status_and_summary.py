"""What a poll and a finalize cost on the real services: status is one query plus Redis, the summary
query's plan stays linear for a big new run the planner has no statistics for."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from models import Run
from pipeline import messages, stages
from pipeline.runs import get_run_status, start_run

pytestmark = pytest.mark.services


def _statements(engine: sa.Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

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

    seen, before = _statements(pipeline_ctx.engine)
    sa.event.listen(Run, "load", on_load)
    try:
        status = get_run_status(run_id, "o", ctx=pipeline_ctx)
    finally:
        sa.event.remove(Run, "load", on_load)
        sa.event.remove(pipeline_ctx.engine, "before_cursor_execute", before)
    assert (status["run_status"], status["counts_source"], status["total_jobs"]) == ("RUNNING", "redis", 30)
    assert status["status_counts"] == {"IN_PROGRESS": 30}
    assert len(seen) == 1 and loaded == []
