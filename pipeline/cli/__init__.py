"""``ytcollect``: each command module registers itself on the shared app and only calls pipeline functions."""

import importlib

from pipeline.cli.app import app

# One module per command group; a module that is not written yet is simply absent.
_COMMAND_MODULES = ["plan", "emulator", "quota", "runs", "db", "ops", "maintenance", "history"]

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"pipeline.cli.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a command group is missing
        if exc.name != f"pipeline.cli.{_name}":
            raise


def main() -> None:
    """Console-script entry point."""
    app()
