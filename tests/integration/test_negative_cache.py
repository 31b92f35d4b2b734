"""The negative cache on the real services and the emulator: a repeat of a run spends nothing on misses."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import ApiCall
from pipeline.runs import get_run_results, get_run_status, retry_inputs, retry_run, start_run
from tests.integration.pipeline_harness import wait_until

pytestmark = pytest.mark.services


def finished(ctx: Any, run_id: str) -> dict[str, Any] | None:
    status = get_run_status(run_id, ctx=ctx)
    return status if status["run_status"] == "FINISHED" else None


def api_calls(ctx: Any, run_id: str) -> int:
    with ctx.session() as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).select_from(ApiCall).where(ApiCall.run_id == run_id)
            ).scalar_one()
        )


def run_to_the_end(ctx: Any, lines: list[str], options: dict[str, Any] | None = None) -> str:
    run_id = start_run("a", "o", lines, options, ctx=ctx, send=send_all)
    wait_until(lambda: finished(ctx, run_id), timeout=90)
    return run_id


MISSES = [
    "@no-such-handle-for-the-cache",
    "https://www.youtube.com/user/nosuchlegacyuser",
    "https://www.youtube.com/c/nosuchcustomname",
    "https://youtu.be/AAAAAAAAAAA",
    "https://www.youtube.com/playlist?list=PLnothingnothingnothing12",
]


def test_an_immediate_repeat_spends_no_unit_and_still_says_why(worker, pipeline_ctx, emulator):
    """Given a run whose lookups found nothing, when the same run is started again, then it makes 0 API calls and every line says not found with the reason; recheck_misses asks again."""
    sample = emulator.catalogue.sample(200)
    live = next(c for c in sample if c["handle"] and not c["terminated"])
    dead = next(c for c in sample if c["terminated"])
    lines = [*MISSES, dead["id"], f"@{live['handle']}"]
    first = run_to_the_end(pipeline_ctx, lines)
    assert api_calls(pipeline_ctx, first) >= len(MISSES) + 1

    second = run_to_the_end(pipeline_ctx, lines)

    assert api_calls(pipeline_ctx, second) == 0
    assert get_run_status(second, ctx=pipeline_ctx)["summary"]["quota_units"]["total"] == 0
    before, after = (get_run_results(r, ctx=pipeline_ctx) for r in (first, second))
    assert [(r["status"], r["error_code"]) for r in after] == [(r["status"], r["error_code"]) for r in before]
    assert after[len(MISSES)]["error_code"] == "not_found"  # the terminated channel id, asked once
    for old, new in zip(before[:-1], after[:-1], strict=True):
        assert (
            new["error_message"].startswith(old["error_message"])
            and "remembered from" in new["error_message"]
        )
    assert after[-1]["status"] == "DONE"

    rechecked = run_to_the_end(pipeline_ctx, MISSES, {"recheck_misses": True})
    assert api_calls(pipeline_ctx, rechecked) >= len(MISSES)
    assert not any(
        "remembered" in (r["error_message"] or "") for r in get_run_results(rechecked, ctx=pipeline_ctx)
    )


def test_retry_without_search_skips_what_can_only_fail_the_same_way(worker, pipeline_ctx, emulator):
    """Given a run of misses, when it is retried without search, then nothing is retried (all skipped); with search the custom URL is."""
    first = run_to_the_end(pipeline_ctx, MISSES)

    assert retry_inputs(first, ctx=pipeline_ctx) == ([], len(MISSES))
    assert retry_run(first, ctx=pipeline_ctx, send=send_all) is None
    lines, skipped = retry_inputs(first, allow_search=True, ctx=pipeline_ctx)
    assert "https://www.youtube.com/c/nosuchcustomname" in lines and skipped == 0
