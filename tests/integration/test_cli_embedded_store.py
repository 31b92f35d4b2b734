"""The embedded store as a newcomer meets it: one place for every folder, no stranded run, runs listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from cli import main; main()"]
SERVICE_VARIABLES = (
    "BROKER_URL",
    "REDIS_URL",
    "DATABASE_URL",
    "YT_API_KEYS",
    "YOUTUBE_API_URL",
    "EMBEDDED_DIR",
)


def data_home_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Nothing configured, not even EMBEDDED_DIR: the user's data directory (XDG_DATA_HOME) is tmp_path/data."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), COLUMNS="80", PYTHONIOENCODING="utf-8", **extra)
    return env


def ytcollect(
    tmp_path: Path, *args: str, cwd: Path | None = None, timeout: float = 180, **extra: str
) -> subprocess.CompletedProcess[str]:
    where = cwd or tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*CLI, *args],
        env=data_home_env(tmp_path, **extra),
        cwd=where,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *said: str) -> None:
    assert done.returncode != 0, done
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for words in said:
        assert words in lines[0], lines[0]


def test_any_folder_finds_the_run_in_the_users_data_directory(tmp_path):
    """Given a run started in one folder, when `status` runs in another, then it finds the run in the user's data directory and neither folder gets a .ytcollect/."""
    started = ytcollect(tmp_path, "run", "@someone", "--json", cwd=tmp_path / "here")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]

    elsewhere = ytcollect(tmp_path, "status", run_id, "--json", cwd=tmp_path / "elsewhere")

    assert elsewhere.returncode == 0, elsewhere.stderr
    assert json.loads(elsewhere.stdout)["run_status"] == "FINISHED"
    assert (tmp_path / "data" / "ytcollect" / "ytcollect.db").exists()
    assert not (tmp_path / "here" / ".ytcollect").exists()
    assert not (tmp_path / "elsewhere" / ".ytcollect").exists()


def test_embedded_dir_overrides_and_not_found_names_the_database(tmp_path):
    """Given EMBEDDED_DIR, when a run is not there, then the one error line names the database it looked in."""
    chosen = tmp_path / "chosen"
    missing = ytcollect(tmp_path, "status", "no-such-run", EMBEDDED_DIR=str(chosen))

    assert_one_line_error(missing, "no-such-run not found", str(chosen / "ytcollect.db"), "ytcollect runs")
    assert (chosen / "ytcollect.db").exists()
    assert not (tmp_path / "data").exists()
