"""A newcomer's first hour through the real CLI: every failure is one line, every table fits 80 columns."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from cli import main; main()"]
CID = "UCX6OQ3DkcsbYNE6H8uQQuVA"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The embedded default in its own folder, an 80-column terminal, and nothing else configured."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BROKER_URL", "REDIS_URL", "DATABASE_URL", "YT_API_KEYS", "YOUTUBE_API_URL"))
    }
    env.update(EMBEDDED_DIR=str(tmp_path / "state"), COLUMNS="80", PYTHONIOENCODING="utf-8", **extra)
    return env


def ytcollect(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=clean_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *said: str) -> None:
    """Non-zero exit, no traceback anywhere, and stderr is exactly one ``error:`` line saying ``said``."""
    assert done.returncode != 0, done
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for words in said:
        assert words in lines[0], lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["run", "--file", "missing.txt"], {}, ["cannot read missing.txt: no such file"]),
        (["run", "--file", "."], {}, ["it is a folder"]),
        (["plan", "--file", "missing.txt"], {}, ["no such file"]),
        (["plan", "--file", "."], {}, ["it is a folder"]),
        (["run", "--file", "empty.txt"], {}, ["no inputs in empty.txt"]),
        (
            ["status", "no-such-run"],
            {"REFRESH_INTERVAL_HOURS": "0"},
            ["REFRESH_INTERVAL_HOURS", "greater than 0", ".env.example"],
        ),
        (["run", "@someone"], {"MAX_INPUTS_PER_RUN": "lots"}, ["MAX_INPUTS_PER_RUN"]),
        (["results", "no-such-run", "--format", "xml"], {}, ["--format must be table, csv or json"]),
        (["history", "--run", "r", "--plot", "chart.txt"], {}, ["ending in .png"]),
        (["history", "--run", "r", "--plot", "a" * 300 + ".png"], {}, ["too long"]),
        (["history", "--run", "r", "--plot", "exists.png"], {}, ["exists: --force overwrites it"]),
        (["history", "--run", "r", "--plot", "link.png", "--force"], {}, ["symbolic link"]),
        (["status", "no-such-run"], {}, ["not found"]),
    ],
)
def test_each_failure_is_one_line_with_the_fix(tmp_path, args, env, said):
    """Given a mistake a newcomer makes, when the command runs, then stderr is one error line with the fix and the exit is non-zero."""
    (tmp_path / "empty.txt").write_text("\n  \n")
    (tmp_path / "exists.png").write_bytes(b"mine")
    (tmp_path / "link.png").symlink_to(tmp_path / "exists.png")

    assert_one_line_error(ytcollect(tmp_path, *args, **env), *said)
    assert (tmp_path / "exists.png").read_bytes() == b"mine"


def test_emulator_on_a_busy_port_fails_before_any_banner(tmp_path, busy_port):
    """Given a port another process listens on, when `ytcollect emulator --port` it, then one error line and no banner."""
    done = ytcollect(tmp_path, "emulator", "--port", str(busy_port))

    assert_one_line_error(done, f"127.0.0.1:{busy_port}", "another --port")
    assert done.stdout == ""


def test_version_help_and_flags(tmp_path):
    """Given the CLI, when --version and --help run, then the version prints, commands come in a first session's order and no flag reads as taking a value."""
    version = ytcollect(tmp_path, "--version")
    assert version.returncode == 0 and re.fullmatch(r"ytcollect \S+\n", version.stdout)

    top = ytcollect(tmp_path, "--help").stdout
    order = [top.index(f"│ {name} ") for name in ("demo", "plan", "run", "status", "results", "emulator")]
    assert order == sorted(order)
    for command in ("run", "plan", "status", "results", "history", "doctor", "retry"):
        shown = ytcollect(tmp_path, command, "--help").stdout
        assert "<bool>" not in shown, command


def test_every_boolean_option_has_a_negative_form():
    """Given every command, when its options are listed, then each boolean flag is a --x/--no-x pair (no `--json <bool>`)."""
    import typer.main

    from cli import load
    from cli.app import app

    load()
    group = typer.main.get_command(app)
    lonely = []

    def visit(command, path):
        for param in command.params:
            if (
                getattr(param, "is_flag", False)
                and param.name not in ("help", "_version")
                and not param.secondary_opts
            ):
                lonely.append(f"{path} {param.opts}")
        for name, sub in getattr(command, "commands", {}).items():
            visit(sub, f"{path} {name}")

    visit(group, "ytcollect")
    assert lonely == [], lonely


def test_formats_are_case_insensitive_and_counts_agree_in_number(tmp_path):
    """Given a finished run, when results is asked as CSV in capitals and as a table, then both work and "1 input line" is singular."""
    run = ytcollect(tmp_path, "run", "@x", "--json")
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]

    as_csv = ytcollect(tmp_path, "results", run_id, "--format", "CSV")
    assert as_csv.returncode == 0 and as_csv.stdout.startswith("line,input")
    table = ytcollect(tmp_path, "results", run_id)
    assert f"run {run_id}: 1 input line" in table.stdout.replace("\n", " ")


def test_run_reads_files_as_plan_does(tmp_path):
    """Given a UTF-16 file and a UTF-8 file with a BOM and paste artefacts, when run, then the inputs arrive clean, as plan reads them."""
    (tmp_path / "utf16.txt").write_bytes('@someone-one\r\n\r\n"@someone-two",\r\n'.encode("utf-16"))
    (tmp_path / "bom.txt").write_bytes(
        "\ufeff@someone-one\n<a href='https://www.youtube.com/@someone-two'>x</a>\n".encode()
    )
    for name in ("utf16.txt", "bom.txt"):
        plan = ytcollect(tmp_path, "plan", "--file", name, "--json")
        planned = [json.loads(line) for line in plan.stdout.splitlines()][:-1]
        assert [(p["kind"], p["value"]) for p in planned] == [
            ("handle", "someone-one"),
            ("handle", "someone-two"),
        ]

        run = ytcollect(tmp_path, "run", "--file", name, "--json")
        assert run.returncode == 0, run.stderr
        rows = json.loads(
            ytcollect(tmp_path, "results", json.loads(run.stdout)["run_id"], "--format", "json").stdout
        )
        assert [r["input"] for r in rows] == [p["input"] for p in planned]
        assert rows[0]["input"] == "@someone-one" and rows[0]["kind"] == "handle"  # no BOM, no NUL
        assert rows[1]["kind"] == "handle" and rows[1]["value"] == "someone-two"


def test_demo_at_80_columns_cuts_no_number_and_says_what_it_was(tmp_path):
    """Given an 80-column terminal, when the demo runs, then no line is wider, every number is whole, and it says the channels are synthetic and what to try next."""
    demo = ytcollect(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "synthetic" in out and "Units" in out and "Try next" in out
    channels = out[out.index("channels by subscribers") : out.index("inputs that need a person")]
    assert "…" not in channels  # no number (nor title) cut short
    run_id = re.search(r"run ([0-9a-f-]{36})", out).group(1)
    rows = list(csv.DictReader(io.StringIO(ytcollect(tmp_path, "results", run_id, "--format", "csv").stdout)))
    for row in rows:
        if row["channel_id"]:
            assert row["channel_id"] in out  # ids are never folded in the lines table


def test_capped_tables_say_what_they_left_out(monkeypatch):
    """Given a summary with more channels and failures than the tables show, when printed, then each table says how many it left out and the command that lists them."""
    from rich.console import Console

    import cli.runs as runs

    console = Console(width=80, record=True)
    monkeypatch.setattr(runs, "console", console)
    channel = {
        "channel_id": CID,
        "title": "A channel with a long title that has to wrap somewhere",
        "handle": "@achannel",
        "subscribers": 283_000_000,
        "subscribers_hidden": False,
        "views": 54_123_456_789,
        "videos": 812,
        "views_per_video": 66_654_503.4,
        "subscriber_change": 1_000_000,
        "input_lines": [11, 33, 57, 90],
    }
    attention = {
        "line": 4,
        "input": "@nobody",
        "status": "FAILED",
        "error_code": "not_found",
        "message": "no channel",
    }
    status = {
        "run_id": "r-1",
        "run_status": "FINISHED",
        "total_inputs": 1,
        "total_jobs": 1_966,
        "status_counts": {},
        "quota_units": {},
        "summary": {
            "channels": [channel] * 100,
            "channels_total": 1_966,
            "needs_attention": [attention] * 200,
            "needs_attention_total": 1_234,
            "quota_units": {"total": 1, "by_method": {"channels.list": 1}},
            "counts_by_status": {"DONE": 1_966},
        },
    }
    runs.print_summary(status)
    text = console.export_text()

    assert "1 input," in text and "1,966 unique jobs" in text
    assert "… 1,941 channels more not shown: `ytcollect history --run r-1` lists them all" in text
    assert "… 1,209 inputs more not shown: `ytcollect results r-1` lists them all" in text
    for number in ("283M", "54.1B", "66.7M", "+1.00M"):
        assert number in text
    assert "11, 33, 57 +1" in text  # line numbers read as a list, not as 11,33
    assert max(len(line) for line in text.splitlines()) <= 80


def test_maintenance_says_what_it_did_in_words(tmp_path):
    """Given the embedded store, when reconcile and purge run without --json, then each prints one readable sentence."""
    reconcile = ytcollect(tmp_path, "maintenance", "reconcile")
    assert reconcile.returncode == 0 and reconcile.stdout.startswith("reconcile: nothing to do")
    purge = ytcollect(tmp_path, "maintenance", "purge")
    assert purge.returncode == 0 and "{" not in purge.stdout and purge.stdout.startswith("purge: removed 0")
