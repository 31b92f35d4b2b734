"""``ytcollect maintenance reconcile|refresh|reresolve|repoll|purge|discover``: each periodic job, once, by hand."""

from __future__ import annotations

import json
from typing import Any

import typer

from cli.app import app, console, plural
from cli.runs import CliRuntime
from pipeline import maintenance
from pipeline.config import get_settings

maintenance_app = typer.Typer(help="run a periodic job once, now", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


def send_as_system(runtime: CliRuntime, sends: list[Any]) -> None:
    """System work started by hand goes behind interactive runs, as the periodic actors' does."""
    from actors.priority import SYSTEM, sending_as

    with sending_as(SYSTEM):
        runtime.send(sends)


@maintenance_app.command("reconcile")
def reconcile(
    stuck_after: int = typer.Option(None, "--stuck-after", help="seconds; default from settings"),
    as_json: bool = typer.Option(False, "--json/--no-json", help="print the report as JSON"),
) -> None:
    """Rebuild lost Redis state, finalize finished runs, resend stuck and quota-waiting jobs."""
    with CliRuntime(get_settings()) as runtime:
        report = maintenance.reconcile(runtime.ctx, stuck_after_seconds=stuck_after)
        runtime.send(report.sends)
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        console.print(reconcile_text(report.as_dict()))


def reconcile_text(report: dict[str, Any]) -> str:
    """What reconcile did, in a sentence a person can read; "nothing to do" when it did nothing."""
    done = [
        f"rebuilt the live counters of {plural(len(report['rebuilt']), 'run')}" if report["rebuilt"] else "",
        f"finalized {plural(len(report['finalized']), 'run')}" if report["finalized"] else "",
        f"restarted {plural(len(report['renormalized']), 'pending run')}" if report["renormalized"] else "",
        f"resent {plural(report['resent_jobs'], 'stuck job')}" if report["resent_jobs"] else "",
        f"resumed {plural(report['resumed_from_quota'], 'job')} waiting for quota"
        if report["resumed_from_quota"]
        else "",
        f"republished {plural(len(report['events_republished']), 'run_finished event')}"
        if report["events_republished"]
        else "",
        *(
            f"{plural(len(ids), 'discovery cycle')} {what.replace('_', ' ')}"
            for what, ids in (report.get("discovery") or {}).items()
        ),
    ]
    said = [part for part in done if part]
    if not said:
        return "reconcile: nothing to do (every open run agrees with the database)"
    return f"reconcile: {', '.join(said)}; {plural(report['messages'], 'message')} sent"


@maintenance_app.command("refresh")
def refresh() -> None:
    """Start a system run refetching channels older than the refresh interval."""
    with CliRuntime(get_settings()) as runtime:
        run_id, sends = maintenance.refresh(runtime.ctx)
        send_as_system(runtime, sends)
    console.print(f"refresh run {run_id} started" if run_id else "no channel is due for a refresh")


@maintenance_app.command("reresolve")
def reresolve() -> None:
    """Start a system run resolving again the inputs whose resolution is older than its TTL."""
    with CliRuntime(get_settings()) as runtime:
        run_id, sends = maintenance.reresolve(runtime.ctx)
        send_as_system(runtime, sends)
    console.print(f"re-resolve run {run_id} started" if run_id else "no resolution is due")


@maintenance_app.command("repoll")
def repoll() -> None:
    """Start a system run reading again the statistics of videos due by their age."""
    with CliRuntime(get_settings()) as runtime:
        run_id, sends = maintenance.repoll_videos(runtime.ctx)
        send_as_system(runtime, sends)
    console.print(f"video re-poll run {run_id} started" if run_id else "no video is due for a re-poll")


@maintenance_app.command("purge")
def purge(as_json: bool = typer.Option(False, "--json/--no-json", help="print the counts as JSON")) -> None:
    """Apply the retention settings now."""
    settings = get_settings()
    with CliRuntime(settings) as runtime:
        removed = maintenance.purge(runtime.ctx)
    if as_json:
        print(json.dumps(removed))
        return
    console.print(
        f"purge: removed {plural(removed.get('api_calls', 0), 'API call record')} older than "
        f"{settings.api_call_retention_days:,} days, {plural(removed.get('snapshots', 0), 'snapshot')} older than "
        f"{settings.snapshot_retention_days:,} days, {plural(removed.get('channels', 0), 'channel')} not "
        f"refreshed in {settings.channel_data_max_age_days:,} days and "
        f"{plural(removed.get('lookup_misses', 0), 'remembered lookup miss', 'remembered lookup misses')} "
        f"older than {settings.negative_cache_hours:g} hours"
    )


@maintenance_app.command("discover")
def discover_due() -> None:
    """Start a discovery cycle now for each watchlist whose interval has come round."""
    from pipeline.discovery import schedule_due

    with CliRuntime(get_settings()) as runtime:
        cycle_ids, sends = schedule_due(runtime.ctx)
        send_as_system(runtime, sends)
    console.print(f"started cycles {', '.join(cycle_ids)}" if cycle_ids else "no watchlist is due")
