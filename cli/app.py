"""The ``ytcollect`` Typer application and its shared console; command modules register on it."""

import typer
from rich.console import Console

app = typer.Typer(
    name="ytcollect",
    help="Resolve YouTube channel inputs, fetch their metadata and statistics, keep their history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Resolve YouTube channel inputs, fetch their metadata and statistics, keep their history."""
    # A callback keeps Typer in group mode even when only one command module is loaded.


# Human output goes to stdout; notices (embedded mode, progress) go to stderr so --json stays clean.
console = Console()
err_console = Console(stderr=True)
