"""``ytcollect``: each command module registers itself on the shared app and only calls pipeline functions.

Only the module of the command being run is imported: ``ytcollect plan`` needs no SQLAlchemy, Redis or
API client, and importing them all cost more than planning 100,000 lines. ``--help`` loads them all.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Iterable
from typing import Any

from cli.app import app as _app
from cli.app import error_line

# Command (or command group) → the module that defines it.
COMMAND_MODULES = {
    "plan": "plan",
    "emulator": "emulator",
    "quota": "quota",
    "run": "runs",
    "status": "runs",
    "results": "runs",
    "demo": "runs",
    "cancel": "runs",
    "retry": "runs",
    "delete": "runs",
    "worker": "runs",
    "runs": "runs",
    "db": "db",
    "doctor": "doctor",
    "maintenance": "maintenance",
    "history": "history",
    "stats": "history",
    "videos": "videos",
    "compare": "videos",
    "serve": "serve",
    "tokens": "tokens",
    "discover": "discovery",
    "discoveries": "discovery",
    "cycle": "discovery",
    "watchlists": "discovery",
}


def load(modules: Iterable[str] | None = None) -> None:
    """Import command modules (all of them by default) so they register on the app."""
    for name in sorted(set(COMMAND_MODULES.values() if modules is None else modules)):
        importlib.import_module(f"cli.{name}")


def __getattr__(name: str) -> Any:
    """``from cli import app`` gives the app with every command registered."""
    if name == "app":
        load()
        return _app
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: any failure is one line on stderr and a non-zero exit (cli.errors)."""
    args = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in args if not arg.startswith("-")), None)
    try:
        load([COMMAND_MODULES[command]] if command in COMMAND_MODULES else None)
        _app(args=args)
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)
    except Exception as exc:
        from cli.errors import TRACEBACK_VARIABLE, describe

        if os.environ.get(TRACEBACK_VARIABLE):
            traceback.print_exc()
        message, fix, code = describe(exc)
        error_line(message, fix=fix)
        sys.exit(code)
