"""``ytcollect plan``: what a list of inputs would become, and its quota cost, with no network."""

from __future__ import annotations

import gc
import io
import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import app, console, err_console
from pipeline.inputs import InputKind, InputPlan, plan_inputs
from pipeline.quota_plan import QuotaEstimate, minimum_quota

DEFAULT_SHOWN_LINES = 100
"""The table shows this many lines unless --all; --json always emits every line."""

_DISPLAY_WIDTH = 60


def _clean(text: str) -> str:
    """Make a command-line argument printable: undecodable bytes arrive as lone surrogates."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _display(text: str, width: int = _DISPLAY_WIDTH) -> str:
    """An input as a person can safely read it in a terminal: control characters shown, markup escaped."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    if len(shown) > width:
        shown = shown[: width - 1] + "…"
    return escape(shown)


def _read_lines(stream: TextIO) -> tuple[list[str], list[int]]:
    """Non-blank lines and their 1-based line numbers in the file (blank lines skipped, still counted)."""
    texts: list[str] = []
    numbers: list[int] = []
    for number, line in enumerate(stream, start=1):
        line = line.rstrip("\n")
        if line.strip():
            texts.append(line)
            numbers.append(number)
    return texts, numbers


def _open_input(path: str) -> tuple[list[str], list[int]]:
    # UTF-8 with errors="replace": one bad byte should cost one line, not the whole plan. utf-8-sig
    # drops the byte-order mark spreadsheet exports put in front of the first line.
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a stdin that is text only (some test harnesses)
            return _read_lines(sys.stdin)
        stream = io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="replace")
        try:
            return _read_lines(stream)
        finally:
            stream.detach()  # leave sys.stdin's buffer open for whoever owns it
    try:
        with Path(path).open(encoding="utf-8-sig", errors="replace") as stream:
            return _read_lines(stream)
    except OSError as exc:
        err_console.print(f"[red]cannot read {escape(path)}: {escape(exc.strerror or str(exc))}[/red]")
        raise typer.Exit(2) from None


def _summary(plan: InputPlan, quota: QuotaEstimate) -> dict[str, object]:
    return {
        "lines": len(plan.lines),
        "jobs": len(plan.jobs),
        "duplicate_lines": plan.duplicate_lines,
        "invalid_lines": plan.invalid_lines,
        "jobs_by_kind": plan.jobs_by_kind(),
        "quota": quota.as_dict(),
    }


def _print_json(plan: InputPlan, numbers: list[int], quota: QuotaEstimate) -> None:
    """One JSON object per line, then the summary. Every line is emitted, however many there are."""
    # At 100,000 lines, json.dumps of one dict per line was a third of the command's time: encode
    # the strings with one reusable encoder, and each parsed result's fields once.
    encode = json.JSONEncoder(ensure_ascii=False).encode
    encoded: dict[int, str] = {}  # id(ChannelInput) -> its fields; the plan keeps them all alive
    chunk: list[str] = []
    write = sys.stdout.write
    for line in plan.lines:
        parsed = line.parsed
        middle = encoded.get(id(parsed))
        if middle is None:
            middle = encoded[id(parsed)] = (
                f'"kind": "{parsed.kind.value}", "value": {encode(parsed.value)}, "reason": {encode(parsed.reason)}'
            )
        chunk.append(
            f'{{"line": {numbers[line.index]}, "input": {encode(line.text)}, {middle}, "job": {line.job_index + 1}}}\n'
        )
        if len(chunk) >= 4096:
            write("".join(chunk))
            chunk.clear()
    chunk.append(encode({"summary": _summary(plan, quota)}) + "\n")
    write("".join(chunk))
    sys.stdout.flush()


def _print_table(plan: InputPlan, numbers: list[int], quota: QuotaEstimate, show_all: bool) -> None:
    shown = plan.lines if show_all else plan.lines[:DEFAULT_SHOWN_LINES]
    table = Table(title="Inputs", show_lines=False)
    # Ids and kinds never wrap (a folded channel id cannot be copied); the input and reason fold.
    table.add_column("line", justify="right", style="dim", no_wrap=True)
    table.add_column("input", overflow="fold", ratio=3)
    table.add_column("kind", no_wrap=True)
    table.add_column("value", no_wrap=True, min_width=24)
    table.add_column("reason", overflow="fold", ratio=2)
    table.add_column("job", justify="right", no_wrap=True)
    for line in shown:
        parsed = line.parsed
        kind_style = "red" if parsed.kind is InputKind.INVALID else ("yellow" if parsed.reason else "green")
        table.add_row(
            str(numbers[line.index]),
            _display(line.text),
            f"[{kind_style}]{parsed.kind.value}[/{kind_style}]",
            _display(parsed.value),
            escape(parsed.reason),
            str(line.job_index + 1),
        )
    console.print(table)
    hidden = len(plan.lines) - len(shown)
    if hidden:
        invalid_hidden = sum(1 for line in plan.lines[len(shown) :] if line.parsed.kind is InputKind.INVALID)
        console.print(
            f"… and {hidden:,} more line(s), {invalid_hidden:,} of them invalid "
            "(--all shows every line, --json prints them all as JSON lines)"
        )

    jobs = Table(title="Unique jobs")
    jobs.add_column("kind")
    jobs.add_column("jobs", justify="right")
    for kind, count in plan.jobs_by_kind().items():
        if count:
            jobs.add_row(kind, f"{count:,}")
    jobs.add_row("[bold]total[/bold]", f"[bold]{len(plan.jobs):,}[/bold]")
    console.print(jobs)
    console.print(
        f"{len(plan.lines):,} line(s) → {len(plan.jobs):,} job(s); "
        f"{plan.duplicate_lines:,} duplicate line(s), {plan.invalid_lines:,} invalid line(s)"
    )

    console.print("[bold]Quota estimate[/bold] (YouTube Data API units, nothing cached):")
    for entry in quota.breakdown:
        console.print(f"  {escape(entry)}")


@app.command("plan")
def plan(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(metavar="INPUT", help="Channel inputs: URLs, @handles, channel ids, video links."),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            metavar="PATH",
            help="Read one input per line from this file, or from stdin with '-'.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON lines: one object per input line, then a summary object.")
    ] = False,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", help=f"Show every line in the table, not only the first {DEFAULT_SHOWN_LINES}."
        ),
    ] = False,
) -> None:
    """Show what each input means, the unique jobs they make and the quota a run would cost.

    No network call and no service is needed. With --json each line is
    {"line", "input", "kind", "value", "reason", "job"} (job numbers start at 1),
    and the last line is {"summary": {...}}.
    """
    if inputs and file is not None:
        err_console.print("[red]give inputs as arguments or with --file, not both[/red]")
        raise typer.Exit(2)
    if file is not None:
        texts, numbers = _open_input(file)
    else:
        texts = [_clean(text) for text in inputs or []]
        numbers = list(range(1, len(texts) + 1))
    if not texts:
        where = f" in {file}" if file not in (None, "-") else (" on stdin" if file == "-" else "")
        err_console.print(
            f"[red]no inputs{escape(where)}[/red]: pass them as arguments, "
            "or one per line with --file PATH (or --file - for stdin)"
        )
        raise typer.Exit(2)

    # A short-lived command that builds one small, acyclic object per line: the cyclic collector
    # would only rescan them over and over (a third of the time at 100,000 lines).
    gc.disable()
    try:
        planned = plan_inputs(texts)
        quota = minimum_quota(planned)
        if as_json:
            _print_json(planned, numbers, quota)
        else:
            _print_table(planned, numbers, quota, show_all)
    finally:
        gc.enable()
