"""``ytcollect run | status | results | demo``: start runs, watch them, read what they found."""

from __future__ import annotations

import csv
import json
import sys
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack, nullcontext
from typing import Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.app import app, console, err_console, fail, plural
from cli.reading import read_inputs
from cli.tables import compact, left_out, line_list, number_column, table, text_column
from pipeline.config import Settings, get_settings
from pipeline.context import Context, build_context
from pipeline.errors import InvalidRequest, RunNotFound
from pipeline.runs import get_run_results, get_run_status, start_run
from pipeline.youtube.quota import amount, quota_units

FINAL_STATES = ("FINISHED", "CANCELLED")


def describe_mode(settings: Settings, ctx: Context) -> str:
    parts = [
        "broker: " + ("RabbitMQ" if settings.broker_url else "in-process"),
        "redis: " + ("Redis" if settings.redis_url else "in-process stand-in"),
        "database: "
        + (
            "PostgreSQL"
            if settings.database_url and "postgres" in settings.database_url
            else f"SQLite ({ctx.engine.url.database})"
        ),
        "YouTube API: "
        + (f"bundled emulator at {ctx.emulator.base_url}" if ctx.emulator else "configured URL"),
    ]
    return ", ".join(parts)


class CliRuntime:
    """The context and (without BROKER_URL) the in-process worker a CLI command needs."""

    def __init__(self, settings: Settings, *, need_worker: bool) -> None:
        self.settings = settings
        self.stack = ExitStack()
        self.ctx = build_context(settings)
        self.stack.callback(self.ctx.close)
        # Importing the actor layer binds the actors to the configured broker, so sends go somewhere.
        from actors.dispatch import send_all

        self.send = send_all
        if need_worker and not settings.broker_url:
            from actors.embedded import in_process_worker

            self.stack.enter_context(in_process_worker(self.ctx))

    def __enter__(self) -> CliRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def _counts_text(status: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:,}" for k, v in sorted(status["status_counts"].items())) or "starting"


def wait_for(ctx: Context, run_id: str, *, show: bool, timeout: float | None = None) -> dict[str, Any]:
    """Poll the run's status until it is final, with a live progress bar on stderr."""
    deadline = None if timeout is None else time.monotonic() + timeout
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress if show else nullcontext():
        task = progress.add_task("run", total=1.0, counts="")
        while True:
            status = get_run_status(run_id, ctx=ctx)
            progress.update(task, completed=status["progress"], counts=_counts_text(status))
            if status["run_status"] in FINAL_STATES:
                return status
            if deadline is not None and time.monotonic() > deadline:
                return status
            time.sleep(0.2)


SHOWN_CHANNELS = 25
SHOWN_ATTENTION = 25


def print_summary(status: dict[str, Any]) -> None:
    """The run's outcome as a person reads it: counts, quota, top channels, the inputs that need a person."""
    summary = status.get("summary") or {}
    run_id = status["run_id"]
    duration = summary.get("duration_seconds")
    console.print(
        f"[bold]run {run_id}[/]: {status['run_status']}, {plural(status['total_inputs'] or 0, 'input')}, "
        f"{plural(status['total_jobs'] or 0, 'unique job')}"
        + (f", {duration:,.1f} s" if isinstance(duration, int | float) else "")
    )
    counts = summary.get("counts_by_status") or status["status_counts"]
    console.print("jobs: " + (", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"))
    units = summary.get("quota_units") or status["quota_units"]
    by_method = ", ".join(f"{k} {v:,}" for k, v in sorted(units.get("by_method", {}).items()))
    by_bucket = quota_units(units.get("by_method", {}))["by_bucket"]
    buckets = ", ".join(f"{name} {amount(n, name)}" for name, n in by_bucket.items())
    console.print(f"quota: {buckets} ({by_method or 'no API call'})")
    for name, wait in (status.get("waiting_quota") or {}).items():
        console.print(f"waiting: {wait['waiting']:,} for the {name} bucket until {wait['resumes_at']}")
    videos = summary.get("videos")
    if videos:
        checked = ", ".join(f"{k} {n}" for k, n in sorted(videos["channels_checked"].items()))
        fallbacks = sum(videos.get("feed_fallbacks", {}).values())
        console.print(
            f"videos: {videos['new_videos']} new, {videos['videos_read']} read, {videos['videos_removed']} removed; "
            f"channels checked: {checked or 'none'}"
            + (f"; feed fallbacks {fallbacks}" if fallbacks else "")
            + f" (per channel: ytcollect compare {status['run_id']})"
        )
    if summary.get("error") or status.get("error"):
        console.print(f"[red]rejected:[/] {escape(str(summary.get('error') or status.get('error')))}")
    channels = summary.get("channels") or []
    if channels:
        total = summary.get("channels_total", len(channels))
        console.print(channels_table(channels[:SHOWN_CHANNELS], total))
        left_out(
            console, min(len(channels), SHOWN_CHANNELS), total, "channel", f"ytcollect history --run {run_id}"
        )
    attention = summary.get("needs_attention") or []
    if attention:
        total = summary.get("needs_attention_total", len(attention))
        console.print(attention_table(attention[:SHOWN_ATTENTION], total))
        left_out(console, min(len(attention), SHOWN_ATTENTION), total, "input", f"ytcollect results {run_id}")
    changes = summary.get("resolution_changes") or []
    for change in changes[:10]:
        console.print(
            f"[yellow]moved:[/] {change['kind']} {escape(change['value'])}: "
            f"{change['old_channel_id']} → {change['new_channel_id']}",
            soft_wrap=True,
        )
    left_out(console, min(len(changes), 10), len(changes), "change", f"ytcollect status {run_id} --json")


def channels_table(channels: list[dict[str, Any]], total: int) -> Table:
    """Channels ranked by subscribers: counts in 3 significant figures, the title wrapping over its handle."""
    rows = []
    for rank, ch in enumerate(channels, 1):
        name = escape(ch.get("title") or ch["channel_id"])
        if ch.get("handle"):
            name += f"\n[dim]{escape(ch['handle'])}[/]"
        rows.append(
            [
                str(rank),
                name,
                "hidden" if ch["subscribers_hidden"] else compact(ch["subscribers"]),
                compact(ch["views"]),
                compact(ch["videos"]),
                compact(ch["views_per_video"]),
                compact(ch["subscriber_change"], signed=True),
                line_list(ch["input_lines"]),
            ]
        )
    tbl = table(f"channels by subscribers ({total:,} found)")
    number_column(tbl, "#", [r[0] for r in rows])
    text_column(tbl, "channel", min_width=12)
    for i, header in enumerate(("subs", "views", "videos", "views/video", "Δ subs"), start=2):
        number_column(tbl, header, [r[i] for r in rows])
    tbl.add_column("lines", no_wrap=True)
    for row in rows:
        tbl.add_row(*row)
    return tbl


def attention_table(attention: list[dict[str, Any]], total: int) -> Table:
    """Inputs that failed or need a search: the reason goes under the input, where it has the width."""
    tbl = table(f"inputs that need a person ({total:,})")
    number_column(tbl, "line", [str(item["line"]) for item in attention])
    text_column(tbl, "input, and why", min_width=20)
    tbl.add_column("status", no_wrap=True)
    for item in attention:
        why = escape(item["message"] or "")
        tbl.add_row(
            str(item["line"]),
            display(item["input"]) + (f"\n[dim]{why}[/]" if why else ""),
            f"{item['status']}\n[dim]{item['error_code'] or ''}[/]",
        )
    return tbl


def lines_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """One row per input line: the channel it landed on, or why not (under the input, which wraps)."""
    tbl = table(title)
    number_column(tbl, "line", [str(r["line"]) for r in rows])
    text_column(tbl, "input, and why not", min_width=16)
    tbl.add_column("status", no_wrap=True)
    tbl.add_column("channel", no_wrap=True, min_width=24)
    for r in rows:
        below = r["note"] if r["status"] == "DONE" else r["error_message"]
        cell = display(r["input"]) or "[dim](empty line)[/]"
        if below:
            cell += f"\n[dim]{escape(below[:300])}[/]"
        tbl.add_row(
            str(r["line"]),
            cell,
            f"{r['status'] or ''}\n[dim]{r['kind'] or ''}[/]",
            r["channel_id"] or "",
        )
    return tbl


def display(text: str) -> str:
    """An input as a terminal can safely show it: control characters visible, markup escaped."""
    return escape("".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text))


@app.command()
def run(
    inputs: list[str] = typer.Argument(None, help="channel inputs (URLs, @handles, ids...)"),
    file: str = typer.Option(
        None, "--file", "-f", help="read inputs from a file, one per line ('-' for stdin)"
    ),
    analysis_id: str = typer.Option("cli", "--analysis-id"),
    owner_id: str = typer.Option("cli", "--owner-id"),
    wait: bool = typer.Option(
        False, "--wait/--no-wait", help="wait for the run to finish (always, without BROKER_URL)"
    ),
    allow_search: bool = typer.Option(
        False, "--allow-search/--no-allow-search", help="let custom URLs fall back to search.list"
    ),
    search_budget: int | None = typer.Option(
        None,
        "--search-budget",
        help="search.list calls allowed with --allow-search (default: DEFAULT_SEARCH_BUDGET)",
    ),
    recent_videos: int | None = typer.Option(
        None,
        "--recent-videos",
        min=0,
        max=50,
        help="newest uploads per channel to follow, 0-50 (default: RECENT_VIDEOS; 0: none)",
    ),
    as_json: bool = typer.Option(False, "--json/--no-json", help="print the final status as JSON on stdout"),
) -> None:
    """Start a run; without BROKER_URL it runs here, in one process, and waits."""
    settings = get_settings()
    lines, _numbers = read_inputs(inputs, file)
    options: dict[str, Any] = {}
    if allow_search:
        options["allow_search"] = True
        if search_budget is not None:
            options["search_budget"] = search_budget
    if recent_videos is not None:
        options["recent_videos"] = recent_videos
    with CliRuntime(settings, need_worker=True) as runtime:
        ctx = runtime.ctx
        err_console.print(f"[dim]{describe_mode(settings, ctx)}[/]")
        try:
            run_id = start_run(analysis_id, owner_id, lines, options, ctx=ctx, send=runtime.send)
        except InvalidRequest as exc:
            fail(str(exc))
        err_console.print(f"run [bold]{run_id}[/] started with {plural(len(lines), 'input')}")
        if not (wait or not settings.broker_url):
            if as_json:
                print(json.dumps(get_run_status(run_id, ctx=ctx), default=str))
            return
        status = wait_for(ctx, run_id, show=not as_json)
    if as_json:
        print(json.dumps(status, default=str))
    else:
        print_summary(status)


@app.command()
def status(
    run_id: str,
    owner_id: str = typer.Option(None, "--owner-id", help="answer 'not found' for another owner's run"),
    as_json: bool = typer.Option(False, "--json/--no-json"),
    watch: bool = typer.Option(False, "--watch/--no-watch", help="follow the run until it finishes"),
) -> None:
    """A run's status, progress and (once finished) its summary."""
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        try:
            result = get_run_status(run_id, owner_id, ctx=runtime.ctx)
            if watch and result["run_status"] not in FINAL_STATES:
                result = wait_for(runtime.ctx, run_id, show=not as_json)
        except RunNotFound as exc:
            fail(str(exc), 1)
    if as_json:
        print(json.dumps(result, default=str))
        return
    console.print(
        f"run {result['run_id']}: [bold]{result['run_status']}[/] {result['progress']:.0%} "
        f"({_counts_text(result)})"
    )
    if result.get("waiting_quota_until"):
        console.print(f"[yellow]waiting for quota: resumes after {result['waiting_quota_until']}[/]")
    if result.get("summary"):
        print_summary(result)


@app.command()
def results(
    run_id: str,
    owner_id: str = typer.Option(None, "--owner-id"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
) -> None:
    """What every input line became, in input order (duplicates and bad lines included)."""
    fmt = fmt.lower()
    if fmt not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {fmt!r}")
    with CliRuntime(get_settings(), need_worker=False) as runtime:
        try:
            rows = get_run_results(run_id, owner_id, ctx=runtime.ctx)
        except RunNotFound as exc:
            fail(str(exc), 1)
    if fmt == "json":
        print(json.dumps(rows, default=str))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["line"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        console.print(lines_table(f"run {run_id}: {plural(len(rows), 'input line')}", rows))


def demo_epilogue(run_id: str, status: dict[str, Any], base_url: str | None) -> Group:
    """What the demo was, what its figures mean, and what to try next."""
    units = (status.get("summary") or {}).get("quota_units", {}).get("total", 0)
    where = f" ({base_url})" if base_url else ""
    said = Table.grid(padding=(0, 1))
    said.add_column(no_wrap=True)
    said.add_column()
    said.add_row(
        "•",
        f"The channels are [bold]synthetic[/]: the bundled YouTube Data API emulator{where} "
        "made them up from a seed. Names, counts and ids are not real YouTube data.",
    )
    said.add_row(
        "•",
        "[bold]Units[/] are YouTube Data API quota: a real key gets 10,000 a day (Pacific "
        "time); a channels.list, videos.list or playlists.list call costs 1 whatever it asks. "
        f"This run spent {plural(units, 'unit')}; a second demo spends fewer, because fresh "
        "channels are not fetched again.",
    )
    said.add_row(
        "•",
        "Lines 1 and 2 name one channel and share a job; invalid lines cost nothing; a custom "
        "URL no cheap lookup finds waits as NEEDS_SEARCH rather than spending a search.",
    )
    tries: list[str] = []
    for command, why in (
        ("ytcollect plan --file my-channels.txt", "what each line means and the minimum quota, no network"),
        ("ytcollect run --file my-channels.txt", "a run of your own (set YT_API_KEYS for real data)"),
        (f"ytcollect results {run_id} --format csv", "every input line, for a spreadsheet"),
        (f"ytcollect history --run {run_id} --plot growth.png", "these channels over time"),
    ):
        tries += [f"  [dim]# {why}[/]", f"  {command}"]
    return Group("", "[bold]What you just saw[/]", said, "", "[bold]Try next[/]", *tries)


def demo_inputs(base_url: str | None) -> list[str]:
    """A sample of every input kind from the emulator's catalogue, with duplicates and bad lines."""
    fallback = [
        "@YouTube",
        "https://www.youtube.com/@GoogleDevelopers",
        "not a channel",
        "javascript:alert(1)",
    ]
    if base_url is None:
        return fallback
    try:
        with urllib.request.urlopen(f"{base_url}/_emulator/catalogue?limit=60", timeout=5) as response:
            channels = json.load(response)["channels"]
    except OSError:
        return fallback
    live = [c for c in channels if not c["terminated"]]
    latin = [c for c in live if c["handle"] and c["handle"].isascii()]
    other = [c for c in live if c["handle"] and not c["handle"].isascii()]
    with_user = [c for c in live if c.get("username")]
    custom = [c for c in live if c.get("custom_name") and c["custom_name"] != c["handle"]]
    dead = [c for c in channels if c["terminated"]]
    lines = [
        f"https://www.youtube.com/@{latin[0]['handle']}/videos",
        f"@{latin[0]['handle'].upper()}",  # the same channel: deduplicated
        f"youtube.com/@{latin[1]['handle']}",
        latin[2]["handle"],  # a bare word, read as a handle
        f"https://www.youtube.com/channel/{latin[1]['id']}",  # lands on the same channel as line 3
        f"https://www.youtube.com/channel/{latin[3]['id']}?sub_confirmation=1",
        latin[4]["id"],
        f"https://m.youtube.com/c/{latin[5]['handle']}",
        f"https://youtu.be/{latin[6]['video_ids'][0]}?si=share" if latin[6]["video_ids"] else latin[6]["id"],
        f"https://www.youtube.com/watch?v={latin[7]['video_ids'][0]}&list=PLx"
        if latin[7]["video_ids"]
        else latin[7]["id"],
        f"https://www.youtube.com/playlist?list={latin[8]['playlist_ids'][0]}"
        if latin[8]["playlist_ids"]
        else latin[8]["id"],
        "@this-handle-does-not-exist",
        "https://www.youtube.com/watch?v=shortid",
        "https://youtube.com.evil.example/@someone",
        "",
    ]
    if other:
        lines.append(f"https://www.youtube.com/@{urllib.parse.quote(other[0]['handle'])}")
    if with_user:
        lines.append(f"https://www.youtube.com/user/{with_user[0]['username']}")
    if custom:
        lines.append(f"https://www.youtube.com/c/{custom[0]['custom_name']}")
    if dead:
        lines.append(f"https://www.youtube.com/channel/{dead[0]['id']}")
    return lines


@app.command()
def demo(
    as_json: bool = typer.Option(False, "--json/--no-json", help="print the final status as JSON"),
) -> None:
    """Run a sample of every input kind end to end; needs nothing configured (embedded mode)."""
    settings = get_settings()
    with CliRuntime(settings, need_worker=True) as runtime:
        ctx = runtime.ctx
        err_console.print(f"[dim]{describe_mode(settings, ctx)}[/]")
        base = ctx.emulator.base_url if ctx.emulator else settings.youtube_api_url
        lines = demo_inputs(base)
        if not as_json:
            console.print(f"[bold]demo inputs ({len(lines)} lines)[/]")
            for n, line in enumerate(lines, 1):
                console.print(f"  {n:>2}  {escape(line) if line else '[dim](empty line)[/]'}")
        run_id = start_run("demo", "demo", lines, ctx=ctx, send=runtime.send)
        status = wait_for(ctx, run_id, show=not as_json, timeout=300)
        rows = get_run_results(run_id, ctx=ctx)
    if as_json:
        print(json.dumps({"status": status, "results": rows}, default=str))
        return
    print_summary(status)
    console.print(lines_table("every input line", rows))
    console.print(demo_epilogue(status["run_id"], status, base))


@app.command()
def cancel(run_id: str, owner_id: str = typer.Option(None, "--owner-id")) -> None:
    """Cancel a run: pending jobs become CANCELLED and the run ends as CANCELLED, once."""
    from pipeline.runs import cancel_run

    with CliRuntime(get_settings(), need_worker=False) as runtime:
        try:
            won = cancel_run(run_id, owner_id, ctx=runtime.ctx)
        except RunNotFound as exc:
            fail(str(exc), 1)
    console.print(f"run {run_id} cancelled" if won else f"run {run_id} had already ended: nothing to cancel")


@app.command()
def retry(
    run_id: str,
    owner_id: str = typer.Option(None, "--owner-id"),
    allow_search: bool = typer.Option(
        False, "--allow-search/--no-allow-search", help="let custom URLs use search.list this time"
    ),
    search_budget: int | None = typer.Option(None, "--search-budget", help="default: DEFAULT_SEARCH_BUDGET"),
    wait: bool = typer.Option(False, "--wait/--no-wait"),
) -> None:
    """Start a new run, linked to RUN_ID, with its failed and needs-search inputs."""
    from pipeline.runs import retry_run

    settings = get_settings()
    with CliRuntime(settings, need_worker=True) as runtime:
        try:
            new_id = retry_run(
                run_id,
                owner_id,
                allow_search=allow_search,
                search_budget=search_budget,
                ctx=runtime.ctx,
                send=runtime.send,
            )
        except (RunNotFound, InvalidRequest) as exc:
            fail(str(exc), 1)
        if new_id is None:
            console.print(f"run {run_id} has nothing to retry")
            return
        console.print(f"run {new_id} started (retry of {run_id})")
        if wait or not settings.broker_url:
            print_summary(wait_for(runtime.ctx, new_id, show=True))


@app.command()
def delete(run_id: str, owner_id: str = typer.Option(None, "--owner-id")) -> None:
    """Delete a finished run with its jobs and snapshots (channels other runs use stay)."""
    from pipeline.runs import delete_run

    with CliRuntime(get_settings(), need_worker=False) as runtime:
        try:
            delete_run(run_id, owner_id, ctx=runtime.ctx)
        except (RunNotFound, InvalidRequest) as exc:
            fail(str(exc), 1)
    console.print(f"run {run_id} deleted")
