"""Tables that stay readable in an 80-column terminal.

The rules every command's tables follow: a number is never cut (its column is as wide as its widest
cell and never wraps), long text wraps in the one flexible column or moves under its row, and a
table that shows only part of its rows says how many it left out and which command shows them all.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.app import plural


def compact(value: Any, *, signed: bool = False) -> str:
    """A count as a person reads it in a table: ``9,167``, ``70.2M``; ``–`` for nothing."""
    if value is None:
        return "–"
    if not isinstance(value, int | float):
        return str(value)
    from pipeline.history import short_number

    return short_number(value, signed=signed)


def table(title: str | None = None, **options: Any) -> Table:
    """A table with no vertical rules and one space between columns: the widest layout at 80 columns."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        **options,
    )


def number_column(tbl: Table, header: str, cells: list[str]) -> None:
    """A right-aligned column exactly as wide as its widest cell, so no terminal width cuts a number."""
    width = max([len(header), *(len(c) for c in cells)])
    tbl.add_column(header, justify="right", no_wrap=True, min_width=width)


def text_column(tbl: Table, header: str, *, ratio: int = 1, min_width: int = 8) -> None:
    """A column that folds long text over several lines instead of cutting it."""
    tbl.add_column(header, overflow="fold", ratio=ratio, min_width=min_width)


def left_out(console: Console, shown: int, total: int, noun: str, command: str) -> None:
    """Say, under a capped table, how many rows it left out and the command that lists them all."""
    if total > shown:
        console.print(
            f"[dim]… {plural(total - shown, noun)} more not shown: `{escape(command)}` lists them all[/]",
            soft_wrap=True,
        )


def line_list(numbers: list[int], limit: int = 3) -> str:
    """Input line numbers as a list, never as a number: ``3, 5``, ``1, 2, 4 +6``."""
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" +{len(numbers) - limit}" if len(numbers) > limit else "")
