"""The embedded default through the real CLI: no services, no keys, one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from cli import main; main()"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BROKER_URL", "REDIS_URL", "DATABASE_URL", "YT_API_KEYS", "YOUTUBE_API_URL"))
    }
    env["EMBEDDED_DIR"] = str(tmp_path / "state")
    return env


def test_demo_finishes_a_run_of_every_kind_on_a_bare_machine(tmp_path):
    """Given nothing configured, when `ytcollect demo --json` runs, then a run of every input kind finishes."""
    out = subprocess.run(
        [*CLI, "demo", "--json"],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    payload = json.loads(out.stdout)
    status, rows = payload["status"], payload["results"]
    assert status["run_status"] == "FINISHED"
    kinds = {r["kind"] for r in rows}
    assert {"handle", "channel_id", "video", "playlist", "username", "custom_url", "invalid"} <= kinds
    assert status["summary"]["counts_by_status"]["DONE"] >= 8
    assert "bundled emulator" in out.stderr  # it says on screen that it runs embedded


def test_run_then_status_and_results_read_the_same_embedded_database(tmp_path):
    """Given an embedded run, when status and results are asked in new processes, then they read it from SQLite."""
    env = clean_env(tmp_path)
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("not a channel!\n\nUCAAAAAAAAAAAAAAAAAAAAAA\n")
    run = subprocess.run(
        [*CLI, "run", "--file", str(inputs), "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status = json.loads(run.stdout)
    assert status["run_status"] == "FINISHED" and status["total_inputs"] == 2

    again = subprocess.run(
        [*CLI, "status", status["run_id"], "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(again.stdout)["summary"]["counts_by_status"] == {"FAILED": 2}
    csv_out = subprocess.run(
        [*CLI, "results", status["run_id"], "--format", "csv"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert csv_out.stdout.splitlines()[0].startswith("line,input")
    assert len(csv_out.stdout.splitlines()) == 3


def test_unknown_run_and_bad_requests_give_clear_errors(tmp_path):
    """Given an unknown run id or no inputs, when the CLI is asked, then it exits non-zero with a readable message."""
    env = clean_env(tmp_path)
    missing = subprocess.run(
        [*CLI, "status", "no-such-run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
    empty = subprocess.run([*CLI, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "no inputs" in empty.stderr


def test_maintenance_jobs_run_once_by_hand(tmp_path):
    """Given the embedded default, when reconcile and purge are run by hand, then each reports what it did."""
    env = clean_env(tmp_path)
    purge = subprocess.run(
        [*CLI, "maintenance", "purge"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert purge.stdout.startswith("purge: removed 0 API call records older than 90 days")
    reconcile = subprocess.run(
        [*CLI, "maintenance", "reconcile", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(reconcile.stdout)["messages"] == 0
    readable = subprocess.run(
        [*CLI, "maintenance", "reconcile"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert readable.returncode == 0 and readable.stdout.startswith("reconcile: nothing to do")
