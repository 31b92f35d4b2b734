"""``ytcollect history | stats``: channels' snapshots with daily deltas, the growth chart, operator totals.

Both only read the database, so they open an engine and nothing else: no Redis, no broker, no
emulator (``runs.Session`` would start all of those). The embedded SQLite is migrated first, as
``build_context`` does, so a bare machine gets an empty answer rather than a missing table.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from cli.app import app, console, err_console, fail_missing_run
from pipeline import db, store
from pipeline import history as hist
from pipeline.config import get_settings
from pipeline.errors import RunNotFound
from pipeline.history import parse_day
from pipeline.history import short_number as short

FORMATS = ("table", "csv", "json")
ROUNDING_NOTE = (
    "YouTube rounds subscriber counts down to 3 significant figures, so Δ subs shows the range the true "
    "change lies in (a…b), and an unchanged count means a change below the rounding step, not no growth."
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    # soft_wrap: an error line (a path, a URL) stays one line that a script can grep.
    err_console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    """A session factory on the configured database; the engine is disposed on the way out."""
    settings = get_settings()
    engine = db.make_engine(settings.sqlalchemy_url, pool_size=2)
    try:
        if settings.database_url is None:
            db.upgrade(engine)  # the embedded SQLite file migrates itself, as resources.open_database does
        yield db.session_factory(engine)
    except sa.exc.OperationalError as exc:
        # The driver's message names host, port and database, never the password.
        lines = str(exc.orig or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise _fail(f"cannot read the database: {reason}", 1) from None
    finally:
        engine.dispose()


# --- formatting helpers --------------------------------------------------------------------------
# Tables are for people: numbers from 10,000 up are shown with 3 significant figures (``short``);
# CSV and JSON keep every digit.


def _subs(point: hist.HistoryPoint) -> str:
    if point.hidden:
        return "hidden"
    return short(point.subscribers)


def _subs_change(point: hist.HistoryPoint) -> str:
    """The change of the reported count; rounded counts show the range the true change lies in."""
    if point.previous_fetched_at is None:
        return "–"
    if point.subscriber_change_bounds is None or point.subscriber_change is None:
        return "hidden" if point.hidden else "–"
    lo, hi = point.subscriber_change_bounds
    if point.subscriber_below_step:
        return f"≤ {short(point.subscriber_resolution)}\nbelow rounding step"
    if lo == hi:
        return short(point.subscriber_change, signed=True)
    return f"{short(lo, signed=True)}…{short(hi, signed=True)}"


def _subs_per_day(point: hist.HistoryPoint) -> str:
    if point.subscriber_below_step and point.subscribers_per_day_bounds:
        return f"≤ {short(point.subscribers_per_day_bounds[1])}"
    if point.subscribers_per_day is None:
        return "–"
    bounds = point.subscriber_change_bounds
    approx = bounds is not None and bounds[0] != bounds[1]
    return ("≈ " if approx else "") + short(point.subscribers_per_day, signed=True)


def _rows(histories: dict[str, list[hist.HistoryPoint]], channels: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for cid, points in histories.items():
        channel = channels.get(cid)
        for point in points:
            row = point.as_row()
            rows.append(
                {
                    "channel_id": cid,
                    "title": channel.title if channel else None,
                    "handle": channel.handle if channel else None,
                    **row,
                }
            )
    return rows


def _channel_name(cid: str, channel: Any) -> str:
    name = f"{hist.channel_label(channel, cid)} ({cid})"
    if channel is not None and channel.handle and channel.title:
        name += f" {channel.handle}"
    return escape(name)


def _history_table(
    cid: str, points: list[hist.HistoryPoint], channel: Any, since: date | None
) -> Table | str:
    name = _channel_name(cid, channel)
    if not points:
        return f"[yellow]{name}: no snapshots{f' since {since}' if since else ''}[/]"
    # A time of day only matters when a day holds more than one snapshot.
    stamp = "%Y-%m-%d %H:%M" if len({p.fetched_at.date() for p in points}) < len(points) else "%Y-%m-%d"
    table = Table(
        title=f"{name}: {len(points)} snapshots",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("date (UTC)", no_wrap=True)
    table.add_column("subs", justify="right")
    # Wide enough for "+10.0k…+30.0k" on one line: the one cell an 80-column terminal must not fold.
    table.add_column("Δ subs", justify="right", min_width=13)
    for column in ("subs/day", "views", "views/day", "videos", "vids/day"):
        table.add_column(column, justify="right")
    for p in points:
        table.add_row(
            p.fetched_at.astimezone(UTC).strftime(stamp),
            _subs(p),
            _subs_change(p),
            _subs_per_day(p),
            short(p.views),
            short(p.views_per_day, signed=True),
            short(p.videos),
            short(p.videos_per_day, signed=True),
        )
    return table


def _growth_table(run_id: str, growth: list[hist.ChannelGrowth]) -> Table:
    table = Table(
        title=f"run {escape(run_id)}: growth since each channel's previous snapshot",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("channel", min_width=12)
    table.add_column("subs", justify="right")
    table.add_column("Δ subs", justify="right", min_width=13)
    table.add_column("since", no_wrap=True)
    for column in ("views", "Δ views", "videos"):
        table.add_column(column, justify="right")
    for g in growth:
        name = escape((g.title or g.handle or g.channel_id)[:40])
        p = g.point
        if p is None:
            table.add_row(name, *(["–"] * 6))
            continue
        videos = short(p.videos) + (
            "" if p.video_change is None else f" ({short(p.video_change, signed=True)})"
        )
        table.add_row(
            name,
            _subs(p),
            _subs_change(p),
            "first" if p.previous_fetched_at is None else f"{p.previous_fetched_at:%Y-%m-%d}",
            short(p.views),
            short(p.view_change, signed=True),
            videos,
        )
    return table


# --- commands ------------------------------------------------------------------------------------


@app.command()
def history(
    refs: list[str] = typer.Argument(
        None, metavar="CHANNEL", help="channel ids, @handles, channel URLs, or any input a run has resolved"
    ),
    run_id: str = typer.Option(None, "--run", metavar="RUN_ID", help="take every channel of this run"),
    since: str = typer.Option(
        None, "--since", metavar="YYYY-MM-DD", help="only snapshots from this UTC day on"
    ),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
    plot: Path = typer.Option(
        None, "--plot", metavar="FILE.png", help="also draw --metric over time into a PNG"
    ),
    metric: str = typer.Option(
        "subscribers", "--metric", help="what --plot draws: subscribers, views or videos"
    ),
    top: int = typer.Option(
        hist.DEFAULT_TOP,
        "--top",
        min=1,
        max=hist.MAX_TOP,
        help="--plot draws this many channels, the largest by --metric",
    ),
    force: bool = typer.Option(False, "--force/--no-force", help="let --plot overwrite an existing file"),
) -> None:
    """Channels' snapshots over time with daily deltas, aware of YouTube's subscriber rounding."""
    fmt, metric = fmt.lower(), metric.lower()
    if fmt not in FORMATS:
        raise _fail(f"--format must be table, csv or json, not {fmt!r}")
    if metric not in hist.METRICS:
        raise _fail("--metric must be subscribers, views or videos")
    if not refs and not run_id:
        raise _fail("give one or more channels (id, @handle or URL), or --run RUN_ID")
    try:
        since_day = parse_day(since) if since is not None else None
    except ValueError as exc:
        raise _fail(f"--since: {exc}") from None
    if plot is not None:
        try:  # before any work: an existing file or a link is refused, not found out after the tables
            hist.check_chart_path(plot, force=force)
        except hist.HistoryError as exc:
            raise _fail(str(exc), 1) from None

    with _database() as sessions, db.session_scope(sessions) as session:
        ids: list[str] = []
        growth: list[hist.ChannelGrowth] = []
        if run_id:
            try:
                growth = hist.run_growth(session, run_id=run_id)
            except RunNotFound as exc:
                fail_missing_run(exc.run_id)
            ids.extend(g.channel_id for g in growth)
            if not growth:
                err_console.print(f"[yellow]run {escape(run_id)} found no channel[/]")
        found, errors = hist.resolve_channel_refs(session, refs or [])
        for error in errors:
            err_console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        ids.extend(found.values())
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise _fail("no channel found", 1)
        histories = hist.channel_history(session, channel_ids=ids, since=since_day)
        channels = store.channels_by_ids(session, channel_ids=ids)

    if fmt == "table":
        if growth:
            console.print(_growth_table(run_id, growth))
        for cid, points in histories.items():
            console.print(_history_table(cid, points, channels.get(cid), since_day))
        if any((p.subscriber_resolution or 1) > 1 for points in histories.values() for p in points):
            console.print(f"[dim]{ROUNDING_NOTE}[/]")
    else:
        rows = _rows(histories, channels)
        for cid, points in histories.items():
            if not points:
                err_console.print(
                    f"[yellow]{cid}: no snapshots{f' since {since_day}' if since_day else ''}[/]"
                )
        if fmt == "json":
            print(json.dumps(rows, ensure_ascii=False))
        else:
            fields = list(rows[0]) if rows else ["channel_id", "title", "handle", "fetched_at"]
            writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    if plot is not None:
        labels = {cid: hist.channel_label(channels.get(cid), cid) for cid in ids}
        title = f"{metric}: run {run_id}" if run_id else f"{metric} over time"
        try:
            written = hist.plot_history(
                histories, plot, metric=metric, title=title, labels=labels, top=top, force=force
            )
        except hist.HistoryError as exc:
            raise _fail(str(exc), 1) from None
        err_console.print(f"chart of {metric} written to {escape(str(written.absolute()))}", soft_wrap=True)


@app.command()
def stats(
    days: int = typer.Option(30, "--days", min=1, help="quota units for this many UTC days, today included"),
    as_json: bool = typer.Option(False, "--json/--no-json", help="print JSON instead of tables"),
) -> None:
    """Runs and jobs by status, job success rate, mean run time and quota units by day."""
    with _database() as sessions, db.session_scope(sessions) as session:
        result = hist.stats(session, days=days)
    if as_json:
        print(json.dumps(result))
        return
    runs = ", ".join(f"{k} {v:,}" for k, v in result["runs_by_status"].items()) or "none"
    console.print(f"[bold]runs[/]: {result['runs_total']:,} ({runs})")
    jobs = Table(title="jobs by status", title_justify="left")
    jobs.add_column("status")
    jobs.add_column("jobs", justify="right")
    for status, count in result["jobs_by_status"].items():
        jobs.add_row(status, f"{count:,}")
    jobs.add_row("[bold]total[/]", f"[bold]{result['jobs_total']:,}[/]")
    console.print(jobs)
    rate = result["success_rate"]
    console.print(
        "success rate: "
        + (
            "– (no finished jobs)"
            if rate is None
            else f"{rate:.1%} ({result['done_jobs']:,} done of {result['terminal_jobs']:,} finished jobs)"
        )
    )
    mean = result["mean_run_seconds"]
    console.print("mean run time: " + ("– (no finished runs)" if mean is None else f"{mean:,.1f} s"))
    quota = Table(title=f"quota units by UTC day, last {days} days", title_justify="left")
    quota.add_column("day")
    quota.add_column("units", justify="right")
    for row in result["quota_units_by_day"]:
        quota.add_row(row["day"], f"{row['units']:,}")
    quota.add_row("[bold]total[/]", f"[bold]{result['quota_units_total']:,}[/]")
    console.print(quota)
