"""``ytcollect``: each command module registers itself on the shared app and only calls pipeline functions.

Only the module of the command being run is imported: ``ytcollect plan`` needs no SQLAlchemy, Redis or
API client, and importing them all cost more than planning 100,000 lines. ``--help`` loads them all.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from cli.app import app as _app

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
    "db": "db",
    "doctor": "doctor",
    "maintenance": "maintenance",
    "history": "history",
    "stats": "history",
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
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in args if not arg.startswith("-")), None)
    load([COMMAND_MODULES[command]] if command in COMMAND_MODULES else None)
    _app(args=args)
