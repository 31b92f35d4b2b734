"""The ``ytcollect`` Typer application, its shared consoles and the few helpers every command uses."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup, TyperOption

# The order `ytcollect --help` lists commands in: a first session's path (look, run, read), then
# managing runs and channels, then operating a deployment. Unknown names go last, in their own order.
COMMAND_ORDER = (
    "demo",
    "plan",
    "run",
    "status",
    "results",
    "runs",
    "cancel",
    "retry",
    "delete",
    "history",
    "compare",
    "watchlists",
    "discover",
    "cycle",
    "discoveries",
    "stats",
    "quota",
    "doctor",
    "worker",
    "maintenance",
    "db",
    "emulator",
)


class _OrderedGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.commands)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), names.index(name)))


_display_type = TyperOption.display_type_rich


def _no_type_for_flags(self: TyperOption, ctx: Any) -> str | None:
    # Typer prints a type after every option, flags included: "--json <bool>" read as if the flag took
    # a value, and `plan --json true @x` then planned "true" as a channel. Flags show none.
    return None if self.is_flag else _display_type(self, ctx)


TyperOption.display_type_rich = _no_type_for_flags  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="ytcollect",
    cls=_OrderedGroup,
    help="Resolve YouTube channel inputs, fetch their metadata and statistics, keep their history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def installed_version() -> str:
    try:
        return package_version("ytcollect")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        print(f"ytcollect {installed_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print ytcollect's version and exit.",
    ),
) -> None:
    """Resolve YouTube channel inputs, fetch their metadata and statistics, keep their history."""
    # A callback keeps Typer in group mode even when only one command module is loaded.


# Human output goes to stdout; notices (embedded mode, progress) go to stderr so --json stays clean.
console = Console()
err_console = Console(stderr=True)


def error_line(message: str, *, fix: str | None = None) -> None:
    """Print one ``error:`` line on stderr, with the fix when there is one.

    soft_wrap keeps it one line however narrow the terminal: a script can grep it, a person can copy it.
    """
    text = f"[red]error:[/] {escape(message)}" + (f" ({escape(fix)})" if fix else "")
    err_console.print(text, soft_wrap=True)


def fail(message: str, code: int = 2, *, fix: str | None = None) -> NoReturn:
    """:func:`error_line`, then exit with ``code`` (2: the command was used wrongly; 1: it failed)."""
    error_line(message, fix=fix)
    raise typer.Exit(code)


def fail_missing_run(run_id: str) -> NoReturn:
    """A run that is not there: say which database was searched, since the answer depends on it."""
    from cli.errors import database_location

    fail(
        f"run {run_id} not found in the database {database_location()}",
        1,
        fix="`ytcollect runs` lists the runs there; EMBEDDED_DIR or DATABASE_URL names another database",
    )


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 input``, ``2 inputs``, ``12,345 jobs``: the count with separators and the noun it agrees with."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


def port_is_free(host: str, port: int) -> None:
    """Fail with one line when ``host:port`` cannot be listened on (in use, not an address of this host)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            probe.bind(infos[0][4])
    except OSError as exc:
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            1,
            fix="choose another --port, or stop what uses it"
            if exc.errno == errno.EADDRINUSE
            else "give --host an address of this machine, e.g. 127.0.0.1",
        )
