"""Run every leaf command of ``ytcollect`` once, in one process, and print what each wrote (JSON lines).

Used by test_cli_embedded_store: starting a process per command would cost a minute on its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import typer.main

from cli import load, main
from cli.app import app

# Long-running servers, and runs covered by their own tests.
SKIPPED = {"serve", "emulator", "demo", "run"}


def leaves(command, path):
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from leaves(sub, [*path, name])


def arguments(command) -> list[str]:
    """A missing run for a RUN_ID, nothing for the rest (a usage error is a fair answer too)."""
    return [
        "no-such-run" if param.name == "run_id" else "nothing-here"
        for param in command.params
        if param.param_type_name == "argument" and param.required
    ]


load()
for path, command in leaves(typer.main.get_command(app), []):
    if path[0] in SKIPPED:
        continue
    args = [*path, *arguments(command)]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    print(json.dumps({"args": args, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}))
    sys.stdout.flush()
