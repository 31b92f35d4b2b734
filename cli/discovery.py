"""``ytcollect discover | discoveries | cycle | watchlists …``: find new channels by keyword.

Parses, calls ``pipeline.discovery``, renders; the rules live in the pipeline.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from contextlib import nullcontext
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import app, console, err_console, fail, plural
from cli.runs import CliRuntime, describe_mode
from cli.tables import compact, left_out, number_column, table, text_column
from pipeline.config import get_settings
from pipeline.context import Context
from pipeline.errors import CycleNotFound, InvalidRequest, WatchlistNotFound, YtCollectError

watchlists_app = typer.Typer(help="named keyword sets that discovery searches", no_args_is_help=True)
app.add_typer(watchlists_app, name="watchlists")

OWNER_HELP = "whose watchlists (another owner's are 'not found')"
KEYWORDS_HELP = 'keywords, comma-separated ("espresso machine, latte art"); repeat the option for more'


def _code(exc: YtCollectError) -> int:
    return 1 if isinstance(exc, WatchlistNotFound | CycleNotFound) else 2


def split_keywords(values: list[str] | None) -> list[str] | None:
    """``--keywords "a, b" --keywords c`` → ``["a", "b", "c"]`` (blanks dropped); None when not given."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.replace("\n", ",").split(",") if part.strip()]


# --- discover and its report --------------------------------------------------------------------------


def wait_for_cycle(ctx: Context, cycle_id: str, *, show: bool, timeout: float | None) -> dict[str, Any]:
    """Poll until the cycle finishes or parks for quota (which can last until Pacific midnight)."""
    from pipeline.discovery import get_cycle_status

    deadline = None if timeout is None else time.monotonic() + timeout
    spinner = err_console.status("discovering…") if show else nullcontext()
    with spinner as live:
        while True:
            status = get_cycle_status(cycle_id, ctx=ctx)
            if live is not None:
                live.update(f"discovering: {status['progress']:.0%} of the keywords searched")
            if status["status"] in ("FINISHED", "WAITING_QUOTA"):
                return status
            if deadline is not None and time.monotonic() > deadline:
                return status
            time.sleep(0.2)


SHOWN_NEW = 25
SHOWN_SEEN = 10


def print_cycle(status: dict[str, Any]) -> None:
    """The cycle's report: new channels first, then the ones seen before; scores labelled as ours."""
    summary = status.get("summary") or {}
    cycle_id = status["cycle_id"]
    where = f"watchlist {escape(status['watchlist'])}" if status.get("watchlist") else "ad-hoc keywords"
    console.print(
        f"[bold]discovery cycle {cycle_id}[/] ({where}, {status['trigger']}): {status['status']}",
        soft_wrap=True,
    )
    if status.get("error"):
        console.print(f"[red]rejected:[/] {escape(status['error'])}", soft_wrap=True)
    if status["status"] == "WAITING_QUOTA":
        console.print(f"[yellow]waiting for quota: {escape(status.get('waiting_reason') or '')}[/]")
        console.print(
            f"[yellow]it resumes by itself after {status['waiting_quota_until']}; "
            f"`ytcollect cycle {cycle_id}` follows it[/]"
        )
    if not summary or status.get("error"):
        return
    console.print(
        f"keywords: {summary['keywords_searched']:,} searched, {summary['keywords_skipped']:,} skipped, "
        f"{summary['keywords_failed']:,} failed; search.list: {plural(summary['search_calls'], 'call')} "
        f"of a budget of {summary['search_budget']:,}; {plural(summary['channels_total'], 'channel')} found, "
        f"[bold]{summary['new_channels_total']:,} new since the last cycle[/]"
    )
    channels = summary.get("channels") or []
    new = [c for c in channels if c["new"]]
    seen = [c for c in channels if not c["new"]]
    more = f"ytcollect cycle {cycle_id} --json"
    if new:
        console.print(
            channels_table(f"new since the last cycle ({summary['new_channels_total']:,})", new[:SHOWN_NEW])
        )
        left_out(console, min(len(new), SHOWN_NEW), summary["new_channels_total"], "new channel", more)
    if seen:
        seen_total = summary["channels_total"] - summary["new_channels_total"]
        console.print(channels_table(f"seen before ({seen_total:,})", seen[:SHOWN_SEEN]))
        left_out(console, min(len(seen), SHOWN_SEEN), seen_total, "channel", more)
    for keyword in [k for k in summary.get("keywords", []) if k["status"] in ("SKIPPED", "FAILED")][:10]:
        console.print(
            f"[yellow]{keyword['status'].lower()}:[/] {escape(keyword['keyword'])}: {escape(keyword['error'] or '')}",
            soft_wrap=True,
        )
    console.print(f"[dim]{summary.get('score_label', '')}[/]")


def _name(row: dict[str, Any]) -> str:
    """The channel's title wrapping over its handle and id (the id is what the other commands take)."""
    name = escape(row.get("title") or row["channel_id"])
    below = " ".join(part for part in (row.get("handle"), row["channel_id"]) if part)
    return name + f"\n[dim]{escape(below)}[/]"


def channels_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """Found channels by score: counts in 3 significant figures, the keywords that found each."""
    cells = [
        [
            str(rank),
            _name(row),
            compact(row.get("subscribers")),
            compact(row.get("video_hits")),
            f"{row['score']:.1f}",
            escape(", ".join(row["keywords"])),
        ]
        for rank, row in enumerate(rows, 1)
    ]
    tbl = table(title)
    number_column(tbl, "#", [c[0] for c in cells])
    text_column(tbl, "channel", ratio=2, min_width=14)
    for i, header in enumerate(("subs", "videos found", "score*"), start=2):
        number_column(tbl, header, [c[i] for c in cells])
    text_column(tbl, "keywords", min_width=10)
    for cell in cells:
        tbl.add_row(*cell)
    tbl.caption = "* score computed by ytcollect, not a YouTube metric"
    tbl.caption_justify = "left"
    return tbl


@app.command()
def discover(
    watchlist: str = typer.Argument(None, help="the watchlist to search (its name)"),
    keywords: list[str] = typer.Option(None, "--keywords", "-k", help=KEYWORDS_HELP),
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
    search_budget: int | None = typer.Option(
        None, "--search-budget", help="search.list calls this cycle may make"
    ),
    start_runs: bool | None = typer.Option(
        None,
        "--start-runs/--no-start-runs",
        help="start a run for the new channels (default: the watchlist's)",
    ),
    wait: bool = typer.Option(
        False, "--wait/--no-wait", help="wait for the cycle (always, without BROKER_URL)"
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="seconds to wait at most"),
    as_json: bool = typer.Option(
        False, "--json/--no-json", help="print the cycle's status as JSON on stdout"
    ),
) -> None:
    """Search a watchlist's keywords (or --keywords) for channels; report the new ones first."""
    from pipeline.discovery import discover as start_cycle

    words = split_keywords(keywords)
    if watchlist is None and words is None:
        fail('give a watchlist name, or --keywords "a, b"')
    if watchlist is not None and words is not None:
        fail("give a watchlist name or --keywords, not both")
    options: dict[str, Any] = {}
    if search_budget is not None:
        options["search_budget"] = search_budget
    if start_runs is not None:
        options["start_runs"] = start_runs
    settings = get_settings()
    with CliRuntime(settings) as runtime:
        ctx = runtime.ctx
        err_console.print(f"[dim]{describe_mode(settings, ctx)}[/]")
        try:
            cycle_id = start_cycle(owner_id, watchlist, words, options, ctx=ctx, send=runtime.send)
        except (InvalidRequest, WatchlistNotFound) as exc:
            fail(str(exc), _code(exc))
        err_console.print(f"discovery cycle [bold]{cycle_id}[/] started")
        if settings.broker_url and not wait:
            if as_json:
                from pipeline.discovery import get_cycle_status

                print(json.dumps(get_cycle_status(cycle_id, ctx=ctx), default=str))
            return
        status = wait_for_cycle(ctx, cycle_id, show=not as_json, timeout=timeout)
    if as_json:
        print(json.dumps(status, default=str))
    else:
        print_cycle(status)


@app.command("cycle")
def cycle(
    cycle_id: str,
    owner_id: str = typer.Option(None, "--owner-id", help="answer 'not found' for another owner's cycle"),
    as_json: bool = typer.Option(False, "--json/--no-json"),
) -> None:
    """A discovery cycle's status (why it waits, when it does) and its report once finished."""
    from pipeline.discovery import get_cycle_status

    with CliRuntime(get_settings()) as runtime:
        try:
            status = get_cycle_status(cycle_id, owner_id, ctx=runtime.ctx)
        except CycleNotFound as exc:
            fail(str(exc), 1)
    if as_json:
        print(json.dumps(status, default=str))
    else:
        print_cycle(status)


# --- discoveries ----------------------------------------------------------------------------------------


@app.command()
def discoveries(
    watchlist: str = typer.Argument(..., help="the watchlist (its name)"),
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
    new: bool = typer.Option(False, "--new/--all", help="only the channels new since the last cycle"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (any letter case)"),
) -> None:
    """What a watchlist has found, one channel a row: new since the last cycle first, then by score."""
    from pipeline.discovery import DISCOVERY_CSV_FIELDS, SCORE_LABEL, list_discoveries

    fmt = fmt.lower()
    if fmt not in ("table", "csv", "json"):
        fail(f"--format must be table, csv or json, not {fmt!r}")
    with CliRuntime(get_settings()) as runtime:
        try:
            rows = list_discoveries(owner_id, watchlist, new_only=new, ctx=runtime.ctx)
        except WatchlistNotFound as exc:
            fail(str(exc), 1)
    if fmt == "json":
        print(json.dumps(rows, default=str))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(DISCOVERY_CSV_FIELDS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**r, "keywords": "; ".join(r["keywords"])} for r in rows)
        return
    title = f"watchlist {escape(watchlist)}: {plural(len(rows), 'channel')}" + (
        " new since the last cycle" if new else ""
    )
    cells = [
        [
            "new" if r["new"] else "",
            _name(r),
            compact(r.get("subscribers")),
            compact(r["hits"]),
            f"{r['score']:.1f}",
            f"{r['first_seen_at'][:10]}\n[dim]{r['last_seen_at'][:10]}[/]",
            escape(", ".join(r["keywords"])),
        ]
        for r in rows
    ]
    tbl = table(title)
    tbl.add_column("", no_wrap=True)
    text_column(tbl, "channel", ratio=2, min_width=14)
    for i, header in enumerate(("subs", "hits", "score*"), start=2):
        number_column(tbl, header, [c[i] for c in cells])
    tbl.add_column("first/last", no_wrap=True)
    text_column(tbl, "keywords", min_width=10)
    for cell in cells:
        tbl.add_row(*cell)
    console.print(tbl)
    console.print(f"[dim]* {SCORE_LABEL}[/]")


# --- watchlists -----------------------------------------------------------------------------------------


def _settings_from(
    *,
    region: str | None,
    language: str | None,
    within_days: int | None,
    every: int | None,
    per_cycle: int | None,
    search_budget: int | None,
    start_runs: bool | None,
    video_only: bool | None,
) -> dict[str, Any]:
    """Options given on the command line as settings; ``none`` or 0 clears an optional one."""
    given: dict[str, Any] = {}
    for name, value in (("region_code", region), ("relevance_language", language)):
        if value is not None:
            given[name] = None if value.lower() == "none" else value
    for name, number in (
        ("published_within_days", within_days),
        ("interval_hours", every),
        ("keywords_per_cycle", per_cycle),
        ("search_budget", search_budget),
    ):
        if number is not None:
            given[name] = None if number == 0 else number
    if start_runs is not None:
        given["start_runs"] = start_runs
    if video_only is not None:
        given["include_channels"] = not video_only
    return given


REGION_HELP = "search.list regionCode, a country code such as US ('none' clears it)"
LANGUAGE_HELP = "search.list relevanceLanguage, such as en ('none' clears it)"
WITHIN_HELP = "only videos published within this many days (0 clears it)"
EVERY_HELP = "run a scheduled cycle every HOURS (0: no schedule, only `discover` and events)"
PER_CYCLE_HELP = "a scheduled cycle searches this many keywords, rotating through them (0: all)"
BUDGET_HELP = "search.list calls a cycle may make (0: DISCOVERY_SEARCHES_PER_CYCLE)"


def _print_watchlist(w: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(w['name'])}[/] ({w['id']}): {plural(len(w['keywords']), 'keyword')}: "
        f"{escape(', '.join(w['keywords']))}",
        soft_wrap=True,
    )
    every = (
        f"every {w['interval_hours']:,} h, next cycle at {w['next_cycle_due_at']}"
        if w["interval_hours"]
        else "not scheduled"
    )
    window = (
        f"published within {w['published_within_days']:,} days" if w["published_within_days"] else "any time"
    )
    console.print(
        f"  {every}; region {w['region_code'] or 'any'}, language {w['relevance_language'] or 'any'}, {window}; "
        f"search budget {w['search_budget'] or 'default'} a cycle; "
        f"{'starts runs for new channels' if w['start_runs'] else 'starts no runs'}",
        soft_wrap=True,
    )


@watchlists_app.command("add")
def watchlists_add(
    name: str = typer.Argument(..., help="the watchlist's name (unique per owner)"),
    keywords: list[str] = typer.Option(..., "--keywords", "-k", help=KEYWORDS_HELP),
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
    region: str | None = typer.Option(None, "--region", help=REGION_HELP),
    language: str | None = typer.Option(None, "--language", help=LANGUAGE_HELP),
    within_days: int | None = typer.Option(None, "--published-within-days", help=WITHIN_HELP),
    every: int | None = typer.Option(None, "--every", metavar="HOURS", help=EVERY_HELP),
    per_cycle: int | None = typer.Option(None, "--keywords-per-cycle", help=PER_CYCLE_HELP),
    search_budget: int | None = typer.Option(None, "--search-budget", help=BUDGET_HELP),
    start_runs: bool = typer.Option(
        False, "--start-runs/--no-start-runs", help="start a run for each cycle's new channels"
    ),
    video_only: bool = typer.Option(
        False, "--video-only/--with-channels", help="search videos only, not channel names"
    ),
    as_json: bool = typer.Option(False, "--json/--no-json"),
) -> None:
    """Create a watchlist."""
    from pipeline.discovery import add_watchlist

    settings = _settings_from(
        region=region,
        language=language,
        within_days=within_days,
        every=every,
        per_cycle=per_cycle,
        search_budget=search_budget,
        start_runs=start_runs,
        video_only=video_only,
    )
    with CliRuntime(get_settings()) as runtime:
        try:
            created = add_watchlist(owner_id, name, split_keywords(keywords) or [], settings, ctx=runtime.ctx)
        except InvalidRequest as exc:
            fail(str(exc))
    if as_json:
        print(json.dumps(created, default=str))
    else:
        _print_watchlist(created)


@watchlists_app.command("list")
def watchlists_list(
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
    as_json: bool = typer.Option(False, "--json/--no-json"),
) -> None:
    """The owner's watchlists."""
    from pipeline.discovery import list_watchlists

    with CliRuntime(get_settings()) as runtime:
        try:
            found = list_watchlists(owner_id, ctx=runtime.ctx)
        except InvalidRequest as exc:
            fail(str(exc))
    if as_json:
        print(json.dumps(found, default=str))
        return
    if not found:
        console.print('no watchlist yet: `ytcollect watchlists add NAME --keywords "a, b"`')
    for w in found:
        _print_watchlist(w)


@watchlists_app.command("edit")
def watchlists_edit(
    name: str = typer.Argument(..., help="the watchlist to change"),
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
    rename: str | None = typer.Option(None, "--name", help="a new name"),
    keywords: list[str] = typer.Option(
        None, "--keywords", "-k", help="replace every keyword: " + KEYWORDS_HELP
    ),
    add: list[str] = typer.Option(None, "--add", help="add keywords (comma-separated)"),
    remove: list[str] = typer.Option(None, "--remove", help="remove keywords (comma-separated)"),
    region: str | None = typer.Option(None, "--region", help=REGION_HELP),
    language: str | None = typer.Option(None, "--language", help=LANGUAGE_HELP),
    within_days: int | None = typer.Option(None, "--published-within-days", help=WITHIN_HELP),
    every: int | None = typer.Option(None, "--every", metavar="HOURS", help=EVERY_HELP),
    per_cycle: int | None = typer.Option(None, "--keywords-per-cycle", help=PER_CYCLE_HELP),
    search_budget: int | None = typer.Option(None, "--search-budget", help=BUDGET_HELP),
    start_runs: bool | None = typer.Option(None, "--start-runs/--no-start-runs"),
    video_only: bool | None = typer.Option(None, "--video-only/--with-channels"),
    as_json: bool = typer.Option(False, "--json/--no-json"),
) -> None:
    """Change a watchlist; one bad value changes nothing."""
    from pipeline.discovery import edit_watchlist

    changes: dict[str, Any] = _settings_from(
        region=region,
        language=language,
        within_days=within_days,
        every=every,
        per_cycle=per_cycle,
        search_budget=search_budget,
        start_runs=start_runs,
        video_only=video_only,
    )
    if rename is not None:
        changes["name"] = rename
    for key, values in (("keywords", keywords), ("add_keywords", add), ("remove_keywords", remove)):
        if values:
            changes[key] = split_keywords(values) or []
    with CliRuntime(get_settings()) as runtime:
        try:
            changed = edit_watchlist(owner_id, name, changes, ctx=runtime.ctx)
        except (InvalidRequest, WatchlistNotFound) as exc:
            fail(str(exc), _code(exc))
    if as_json:
        print(json.dumps(changed, default=str))
    else:
        _print_watchlist(changed)


@watchlists_app.command("delete")
def watchlists_delete(
    name: str = typer.Argument(..., help="the watchlist to delete, with its stored discoveries"),
    owner_id: str = typer.Option("cli", "--owner-id", help=OWNER_HELP),
) -> None:
    """Delete a watchlist and what it found (its past cycles stay as history)."""
    from pipeline.discovery import delete_watchlist

    with CliRuntime(get_settings()) as runtime:
        try:
            delete_watchlist(owner_id, name, ctx=runtime.ctx)
        except (InvalidRequest, WatchlistNotFound) as exc:
            fail(str(exc), _code(exc))
    console.print(f"watchlist {escape(name)} deleted")
