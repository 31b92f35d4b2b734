"""``ytcollect maintenance reconcile|refresh|reresolve|purge``: each periodic job, once, by hand."""

from __future__ import annotations

import json

import typer

from cli.app import app, console
from cli.runs import CliRuntime
from pipeline import maintenance
from pipeline.config import get_settings

maintenance_app = typer.Typer(help="run a periodic job once, now", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@maintenance_app.command("reconcile")
def reconcile(
    stuck_after: int = typer.Option(None, "--stuck-after", help="seconds; default from settings"),
) -> None:
    """Rebuild lost Redis state, finalize finished runs, resend stuck and quota-waiting jobs."""
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        report = maintenance.reconcile(runtime.ctx, stuck_after_seconds=stuck_after)
        runtime.send(report.sends)
    console.print_json(json.dumps(report.as_dict()))


@maintenance_app.command("refresh")
def refresh() -> None:
    """Start a system run refetching channels older than the refresh interval."""
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        run_id, sends = maintenance.refresh(runtime.ctx)
        runtime.send(sends)
    console.print(f"refresh run {run_id} started" if run_id else "no channel is due for a refresh")


@maintenance_app.command("reresolve")
def reresolve() -> None:
    """Start a system run resolving again the inputs whose resolution is older than its TTL."""
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        run_id, sends = maintenance.reresolve(runtime.ctx)
        runtime.send(sends)
    console.print(f"re-resolve run {run_id} started" if run_id else "no resolution is due")


@maintenance_app.command("purge")
def purge() -> None:
    """Apply the retention settings now."""
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        removed = maintenance.purge(runtime.ctx)
    console.print(f"removed: {removed}")
