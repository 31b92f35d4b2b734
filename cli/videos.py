"""``ytcollect videos track|untrack|list|metrics|delete`` and ``ytcollect compare RUN_ID``.

Parse, call ``pipeline.videos``, render. Figures ytcollect derives are labelled as such in every format.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import app, console, err_console, fail_missing_run
from cli.runs import CliRuntime, named_run
from pipeline import videos as v
from pipeline.config import get_settings
from pipeline.errors import InvalidRequest, RunNotFound, YtCollectError
from pipeline.history import short_number as short

videos_app = typer.Typer(help="follow videos and read their statistics over time", no_args_is_help=True)
app.add_typer(videos_app, name="videos")
FORMATS = ("table", "csv", "json")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _format(fmt: str) -> str:
    """The format in lower case (``--format CSV`` works), or one error line."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    return fmt


@videos_app.command("track")
def track(refs: list[str] = typer.Argument(..., help="video URLs or ids")) -> None:
    """Follow videos: their statistics are read now and re-polled (past the age cap too)."""
    with CliRuntime(get_settings()) as runtime:
        try:
            result = v.track_videos(refs, ctx=runtime.ctx)
        except (InvalidRequest, YtCollectError) as exc:
            raise _fail(str(exc)) from None
    console.print(f"tracking {len(result.tracked)} video(s)")
    for video_id in result.not_found:
        err_console.print(f"[yellow]not found:[/] {video_id} (removed, private, or no such video)")
    if result.not_found and not result.tracked:
        raise typer.Exit(1)


@videos_app.command("untrack")
def untrack(refs: list[str] = typer.Argument(..., help="video URLs or ids")) -> None:
    """Stop following videos by hand (they are then re-polled by age like any other)."""
    with CliRuntime(get_settings()) as runtime:
        try:
            n = v.untrack_videos(refs, ctx=runtime.ctx)
        except InvalidRequest as exc:
            raise _fail(str(exc)) from None
    console.print(f"untracked {n} video(s)")


@videos_app.command("list")
def list_(
    channel: str = typer.Argument(..., help="channel id, URL or @handle"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
) -> None:
    """A channel's stored videos, newest first, with their latest counts."""
    fmt = _format(fmt)
    with CliRuntime(get_settings()) as runtime:
        try:
            found = v.list_videos(channel, ctx=runtime.ctx, limit=limit)
        except InvalidRequest as exc:
            raise _fail(str(exc), 1) from None
    if fmt == "json":
        print(json.dumps(found, default=str))
    elif fmt == "csv":
        _csv(found)
    else:
        table = Table(title=f"{len(found)} video(s) of {escape(channel)}")
        for name in ("video", "published", "title", "kind", "views", "likes", "comments"):
            table.add_column(name, justify="right" if name in ("views", "likes", "comments") else "left")
        for row in found:
            kind = "removed" if row["removed_at"] else ("Short" if row["is_short"] else "long")
            table.add_row(
                row["video_id"],
                (row["published_at"] or "")[:10],
                escape((row["title"] or "")[:50]),
                kind,
                short(row["views"]),
                short(row["likes"]),
                short(row["comments"]),
            )
        console.print(table)


@videos_app.command("metrics")
def metrics(
    video: str = typer.Argument(..., help="video URL or id"),
    days: int = typer.Option(30, "--days", help="how far back"),
    interval: str = typer.Option("day", "--interval", help="hour, day, week or month"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
) -> None:
    """A video's max views, likes and comments per interval, and the growth from the first point to the last."""
    fmt = _format(fmt)
    with CliRuntime(get_settings()) as runtime:
        try:
            answer = v.video_metrics(video, ctx=runtime.ctx, days=days, interval=interval)
        except v.VideoNotFound as exc:
            raise _fail(str(exc), 1) from None
        except InvalidRequest as exc:
            raise _fail(str(exc)) from None
    if fmt == "json":
        print(json.dumps(answer, default=str))
        return
    if fmt == "csv":
        _csv(answer["points"])
        return
    table = Table(title=f"{escape(answer['video']['title'] or video)} — per {interval}, last {days} days")
    for name in ("from", "views", "likes", "comments", "reads"):
        table.add_column(name, justify="left" if name == "from" else "right")
    for p in answer["points"]:
        table.add_row(
            p["bucket"][:16], short(p["views"]), short(p["likes"]), short(p["comments"]), str(p["snapshots"])
        )
    console.print(table)
    for name, g in answer["growth"].items():
        pct = "–" if g["percent"] is None else f"{g['percent']:+.2f}%"
        console.print(f"{name}: {short(g['absolute'], signed=True)} ({pct}) [dim]{v.DERIVED_LABEL}[/]")


@videos_app.command("delete")
def delete(
    refs: list[str] = typer.Argument(..., help="video URLs or ids"),
    keep_snapshots: bool = typer.Option(
        False, "--keep-snapshots/--drop-snapshots", help="delete the videos, keep their history"
    ),
) -> None:
    """Delete stored videos, with their snapshots unless --keep-snapshots."""
    with CliRuntime(get_settings()) as runtime:
        try:
            removed = v.delete_videos(refs, ctx=runtime.ctx, keep_snapshots=keep_snapshots)
        except InvalidRequest as exc:
            raise _fail(str(exc)) from None
    console.print(f"deleted {removed['videos']} video(s) and {removed['snapshots']} snapshot(s)")


def _csv(rows: list[dict[str, Any]]) -> None:
    flat = [{k: val for k, val in row.items() if not isinstance(val, list | dict)} for row in rows]
    writer = csv.DictWriter(sys.stdout, fieldnames=list(flat[0]) if flat else ["channel_id"])
    writer.writeheader()
    writer.writerows(flat)


@app.command()
def compare(
    run_id: str,
    owner_id: str = typer.Option(None, "--owner-id", help="answer 'not found' for another owner's run"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
    plot: str = typer.Option(None, "--plot", help="also draw the top channels into this PNG"),
    metric: str = typer.Option("median_views_recent", "--metric", help="what --plot ranks and draws"),
    top: int = typer.Option(25, "--top", min=1, max=500, help="channels --plot draws"),
    force: bool = typer.Option(False, "--force/--no-force", help="let --plot overwrite an existing file"),
) -> None:
    """The competitor table: one row per channel of a run, recent-video figures side by side."""
    fmt = _format(fmt)
    with CliRuntime(get_settings()) as runtime:
        run_id = named_run(runtime, run_id)
        try:
            rows = v.compare_run(run_id, owner_id, ctx=runtime.ctx)
        except RunNotFound as exc:
            fail_missing_run(exc.run_id)
    if plot:
        try:
            path = v.plot_compare(rows, plot, metric=metric, top=top, force=force)
        except YtCollectError as exc:
            raise _fail(str(exc)) from None
        err_console.print(f"chart written to {path}")
    if fmt == "json":
        print(json.dumps({"derived": v.DERIVED_LABEL, "channels": rows}, default=str))
        return
    if fmt == "csv":
        _csv([{c: r.get(c) for c in v.COMPARE_COLUMNS} | {"derived": v.DERIVED_LABEL} for r in rows])
        return
    table = Table(
        title=f"run {run_id}: {len(rows)} channel(s)",
        caption=f"uploads, medians, shares and rates: {v.DERIVED_LABEL}",
    )
    columns = (
        ("channel", "left"),
        ("subs", "right"),
        ("views", "right"),
        ("videos", "right"),
        ("up 30d", "right"),
        ("last upload", "left"),
        ("median long", "right"),
        ("median Shorts", "right"),
        ("Shorts %", "right"),
        ("engagement", "right"),
        ("Δ subs", "right"),
    )
    for name, justify in columns:
        if name == "channel":
            table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=12, max_width=32)
        else:
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            escape((r["title"] or r["channel_id"])[:32]),
            short(r["subscribers"]),
            short(r["views"]),
            short(r["videos"]),
            str(r["uploads_30d"]),
            (r["last_upload_at"] or "–")[:10],
            short(r["median_views_recent"]),
            short(r["median_views_recent_shorts"]),
            "–" if r["shorts_share"] is None else f"{100 * r['shorts_share']:.0f}%",
            "–" if r["engagement_rate"] is None else f"{100 * r['engagement_rate']:.2f}%",
            short(r["subscriber_change"], signed=True),
        )
    console.print(table)
