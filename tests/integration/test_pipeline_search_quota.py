"""A run whose search bucket runs out mid-run: over RabbitMQ, Redis, PostgreSQL and the emulator over HTTP.

The emulator grants each key's project 2 searches a day while the ledger believes in 100, so the API
itself answers ``quotaExceeded`` mid-run, the way a project whose searches were spent elsewhere would.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from actors.dispatch import send_all
from models import ApiCall
from pipeline import maintenance
from pipeline.runs import get_run_results, get_run_status, start_run
from pipeline.youtube.quota import bucket_of, next_pacific_midnight
from tests.integration.pipeline_harness import (
    KEYS,
    drain_events,
    make_pipeline_ctx,
    running_worker,
    truncate,
    wait_until,
)
from tests.integration.test_pipeline_e2e import finished

pytestmark = pytest.mark.services

SEARCHES_PER_KEY = 2


def _custom_urls_needing_search(catalogue: Any, n: int) -> list[str]:
    """Custom URL names that are neither the channel's handle nor its legacy username: only a search settles them."""
    entries = catalogue.find(limit=10 * n, custom_differs=True, terminated=False)
    names = [
        e["custom_name"]
        for e in entries
        if re.fullmatch(r"[A-Za-z0-9._-]+", e["custom_name"])  # a name a /c/ URL can carry as is
        and (e.get("username") or "").lower() != e["custom_name"].lower()
    ]
    assert len(names) >= n, "the catalogue has too few custom URLs that differ from their handle"
    return [f"https://www.youtube.com/c/{name}" for name in names[:n]]


def test_spent_search_bucket_parks_only_the_jobs_that_need_a_search(pg_engine, rabbit_broker, clock):
    """Given 6 custom URLs that need a search, handles, ids and a username, and 2 searches per key's project,
    when the run goes, then every handle, id and username ends, 4 custom URLs are searched, the other 2 wait
    for the search bucket (named, with its refill time, in the run's status) while default units go on, and
    after the day turns they finish the run within its budget of 6 (a search no key could pay is given back)."""
    from emulator import EmulatorConfig, EmulatorServer

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=800, keys=KEYS, search_quota_per_key=SEARCHES_PER_KEY),
        host="127.0.0.1",
        port=0,
    ) as small:
        ctx = make_pipeline_ctx(small, clock, resolve_batch_size=50)
        try:
            entries = [e for e in small.catalogue.sample(800) if not e["terminated"]]
            customs = _custom_urls_needing_search(small.catalogue, 6)
            handles = [f"@{e['handle']}" for e in entries if e["handle"] and e["handle"].isascii()][:5]
            ids = [e["id"] for e in entries[-5:]]
            username = next(e["username"] for e in entries if e.get("username"))
            lines = [*customs, *handles, *ids, f"https://www.youtube.com/user/{username}"]
            with running_worker(rabbit_broker, ctx):
                run_id = start_run(
                    "a", "o", lines, {"allow_search": True, "search_budget": 6}, ctx=ctx, send=send_all
                )
                status = wait_until(lambda: _parked(ctx, run_id), timeout=60)
                results = {r["input"]: r for r in get_run_results(run_id, ctx=ctx)}
                for line in [*handles, *ids, f"https://www.youtube.com/user/{username}"]:
                    assert results[line]["status"] == "DONE", line
                custom_statuses = sorted(results[line]["status"] for line in customs)
                assert custom_statuses.count("WAITING_QUOTA") == 2
                searched = [results[line] for line in customs if results[line]["status"] != "WAITING_QUOTA"]
                assert all(r["method"] == "search" or r["error_code"] == "not_found" for r in searched)
                resets = next_pacific_midnight(small.now())
                assert status["waiting_quota"] == {"search": {"waiting": 2, "resumes_at": resets.isoformat()}}
                assert status["waiting_quota_until"] == resets.isoformat()
                usage = small.usage()
                assert usage["buckets"]["search"]["units_total"] == SEARCHES_PER_KEY * len(KEYS)
                by_bucket = status["quota_units"]["by_bucket"]
                assert by_bucket["search"] == usage["buckets"]["search"]["units_total"]
                assert by_bucket["default"] == usage["buckets"]["default"]["units_total"]
                with ctx.session() as session:  # the refused searches are on record, at 0 units
                    calls = session.query(ApiCall).filter(ApiCall.run_id == run_id).all()
                refused = [c for c in calls if c.outcome == "quotaExceeded"]
                assert refused and {(c.endpoint, c.units) for c in refused} == {("search.list", 0)}
                assert all(bucket_of(c.endpoint) == "search" for c in refused)

                default_before = usage["buckets"]["default"]["units_total"]

                small.advance_clock(timedelta(days=1))
                clock.advance(timedelta(days=1))
                report = maintenance.reconcile(ctx)
                send_all(report.sends)
                assert report.resumed_from_quota == 2
                done = wait_until(lambda: finished(ctx, run_id), timeout=60)
                events = wait_until(
                    lambda: [e for e in map(json.loads, drain_events()) if e["run_id"] == run_id]
                )
            # Back from the wait, the 2 custom URLs go straight to search: their forHandle and
            # forUsername probes were answered before they parked. At most the one metadata batch.
            assert small.usage()["buckets"]["default"]["units_total"] - default_before <= 1
            assert len(events) == 1 and events[0]["quota_units"] == done["summary"]["quota_units"]
            assert events[0]["quota_units"]["by_bucket"]["search"] == 6
            assert events[0]["quota_units"]["by_method"]["search.list"] == 6
            assert done["waiting_quota_until"] is None and done["waiting_quota"] == {}
            counts = done["summary"]["counts_by_status"]
            assert sum(counts.values()) == len(lines) and "WAITING_QUOTA" not in counts
            assert not any(code.endswith("_quota") for code in done["summary"]["errors_by_code"])
            assert done["summary"]["quota_units"]["by_bucket"]["search"] == 6
        finally:
            ctx.close()


def _parked(ctx: Any, run_id: str) -> dict[str, Any] | None:
    """The run's status once every job has ended or waits (and the waits are recorded)."""
    status = get_run_status(run_id, ctx=ctx)
    counts = status["status_counts"]
    if counts.get("WAITING_QUOTA") and not counts.get("IN_PROGRESS") and status["waiting_quota"]:
        return status
    return None


def test_plans_minimum_is_what_a_fresh_run_spends_in_each_bucket(worker, pipeline_ctx, emulator):
    """Given 60 live channels with 6 or more public videos, handles among them, and 5 recent videos a channel,
    when `plan`'s estimate is compared with a fresh run's bill, then its minimum is what the run spent in the
    default bucket and in the video_stats bucket, and it spent no search."""
    from pipeline.inputs import plan_inputs
    from pipeline.quota_plan import minimum_quota

    entries = [
        e
        for e in emulator.catalogue.sample(600)
        if not e["terminated"] and len(e["video_ids"]) >= 6 and e["handle"] and e["handle"].isascii()
    ][:60]
    assert len(entries) == 60
    lines = [e["id"] for e in entries[:50]] + [f"@{e['handle']}" for e in entries[50:]]
    estimate = minimum_quota(plan_inputs(lines), recent_videos=5)

    run_id = start_run("a", "o", lines, {"recent_videos": 5}, ctx=pipeline_ctx, send=send_all)
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=90)

    buckets = emulator.usage()["buckets"]
    assert status["summary"]["counts_by_status"] == {"DONE": 60}
    assert buckets["default"]["units_total"] == estimate.min_units == 1 + 10 + 60 + 6
    assert buckets["video_stats"]["units_total"] == estimate.stats_units_min == 6
    assert buckets["search"]["units_total"] == 0
    assert status["summary"]["quota_units"]["by_bucket"] == {"default": 77, "search": 0, "video_stats": 6}


@pytest.mark.parametrize("mode", ["omit", "zero"])
def test_hidden_subscriber_counts_are_stored_as_unknown_in_both_modes(pg_engine, rabbit_broker, clock, mode):
    """Given channels whose subscriber count is hidden, shown by the API left out or as "0", when a run fetches
    them, then their stored count is unknown (never 0) with the hidden flag set, and visible ones keep theirs."""
    from emulator import EmulatorConfig, EmulatorServer
    from models import Channel

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=400, keys=KEYS, hidden_subscriber_mode=mode),
        host="127.0.0.1",
        port=0,
    ) as emu:
        ctx = make_pipeline_ctx(emu, clock)
        try:
            entries = [e for e in emu.catalogue.sample(400) if not e["terminated"]]
            hidden = [e for e in entries if e["hidden"]][:3]
            shown = [e for e in entries if not e["hidden"]][:3]
            assert hidden and shown
            handles = [f"@{e['handle']}" for e in hidden[:1] if e["handle"] and e["handle"].isascii()]
            lines = [e["id"] for e in hidden + shown] + handles
            with running_worker(rabbit_broker, ctx):
                run_id = start_run("a", "o", lines, ctx=ctx, send=send_all)
                status = wait_until(lambda: finished(ctx, run_id), timeout=60)
            assert status["summary"]["counts_by_status"] == {"DONE": len(lines)}
            with ctx.session() as session:
                stored = {c.id: c for c in session.query(Channel).all()}
            for entry in hidden:
                channel = stored[entry["id"]]
                assert channel.hidden_subscriber_count is True and channel.subscriber_count is None
            for entry in shown:
                channel = stored[entry["id"]]
                assert channel.hidden_subscriber_count is False and channel.subscriber_count is not None
            figures = {c["channel_id"]: c for c in status["summary"]["channels"]}
            assert all(figures[e["id"]]["subscribers"] is None for e in hidden)
        finally:
            ctx.close()
