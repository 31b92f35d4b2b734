"""``ytcollect doctor``: render the checks of ``pipeline.doctor`` as a table or JSON; exit 1 on a failure."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.app import app, console, plural
from pipeline.config import get_settings
from pipeline.doctor import FAIL, OK, WARN, Check, explain, run_checks

_STYLE = {OK: "green", WARN: "yellow", FAIL: "bold red"}


@app.command("doctor")
def doctor(
    as_json: Annotated[bool, typer.Option("--json/--no-json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Check each configured service, the migrations and the API keys, and say what to fix (exit 1 on a failure)."""
    try:
        settings = get_settings()
    except Exception as exc:  # a malformed variable: say which, without echoing a secret
        checks = [
            Check("settings", FAIL, explain(exc), "correct the variable named above (see .env.example)")
        ]
    else:
        checks = run_checks(settings)
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        table = Table(title="ytcollect doctor", show_lines=False)
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        table.add_column("fix", overflow="fold")
        for c in checks:
            style = _STYLE[c.status]
            table.add_row(escape(c.name), f"[{style}]{c.status}[/{style}]", escape(c.detail), escape(c.fix))
        console.print(table)
        counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
        console.print(
            f"{counts[OK]:,} ok, {plural(counts[WARN], 'warning')}, {plural(counts[FAIL], 'failure')}"
        )
    if failed:
        raise typer.Exit(1)
