"""The embedded store as a newcomer meets it: one place for every folder, no stranded run, runs listed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
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


def wait_for_line(path: Path, words: str, *, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if words in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{words!r} never appeared in {path}: {path.read_text()!r}")


def test_ctrl_c_on_run_wait_says_how_to_resume_and_the_next_command_finishes_it(tmp_path):
    """Given `run --wait` interrupted by SIGINT mid-run, when it exits, then one line says the run's state, how to resume and cancel it (exit 130), and `status --watch` carries it to FINISHED."""
    # Enough lookups that the run is still going a second in (ten lookups a message, four at a time).
    (tmp_path / "big.txt").write_text("".join(f"@someone-{i}\n" for i in range(3_000)))
    stderr_path = tmp_path / "run.err"
    with stderr_path.open("w") as stderr:
        interrupted = subprocess.Popen(
            [*CLI, "run", "--file", "big.txt", "--wait"],
            env=data_home_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            # A suite started in the background by a non-interactive shell ignores SIGINT, and so would
            # this child (an ignored signal stays ignored across exec): give it Ctrl-C's default back.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            run_id = re.search(r"run (\S+) started with", wait_for_line(stderr_path, "started with")).group(1)
            time.sleep(1.0)
            interrupted.send_signal(signal.SIGINT)
            code = interrupted.wait(timeout=120)
        finally:
            if interrupted.poll() is None:
                interrupted.kill()
                interrupted.wait()
    said = stderr_path.read_text()
    assert code == 130, said
    assert "Traceback" not in said
    last = said.strip().splitlines()[-1]
    assert re.match(rf"interrupted: run {run_id} is (PENDING|RUNNING) at \d+%;", last), said
    assert "`ytcollect worker`" in last and f"`ytcollect cancel {run_id}`" in last

    watched = ytcollect(tmp_path, "status", run_id, "--watch", "--json")

    assert watched.returncode == 0, watched.stderr
    assert "carrying on 1 unfinished run" in watched.stderr
    assert json.loads(watched.stdout)["run_status"] == "FINISHED"
    rows = json.loads(ytcollect(tmp_path, "results", run_id, "--format", "json").stdout)
    assert len(rows) == 3_000 and {r["status"] for r in rows} == {"FAILED"}


START_FROM_PYTHON = """
from actors.dispatch import send_all
from actors.runtime import get_context
from pipeline.runs import start_run

print(start_run("analysis-1", "owner-1", ["@someone", "@someone-else"], ctx=get_context(), send=send_all))
"""


def test_a_run_started_from_python_is_finished_by_ytcollect_worker(tmp_path):
    """Given the README's Python example (start_run, then the script ends), when `ytcollect worker` runs, then it carries the PENDING run to FINISHED and exits."""
    started = subprocess.run(
        [sys.executable, "-c", START_FROM_PYTHON],
        env=data_home_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1]

    worked = ytcollect(tmp_path, "worker")

    assert worked.returncode == 0, worked.stderr
    assert "Traceback" not in worked.stdout + worked.stderr
    assert "carrying on 1 unfinished run" in worked.stderr and run_id in worked.stderr
    assert "worker: carried 1 unfinished run to the end" in worked.stdout
    finished = json.loads(ytcollect(tmp_path, "status", run_id, "--json").stdout)
    assert finished["run_status"] == "FINISHED"
    assert finished["summary"]["counts_by_status"] == {"FAILED": 2}
    again = ytcollect(tmp_path, "worker")
    assert again.returncode == 0 and "no unfinished run" in again.stdout


def test_maintenance_refresh_carries_its_run_to_the_end(tmp_path):
    """Given a channel fetched once, when `maintenance refresh` starts a system run for it, then that run is FINISHED when the command returns."""
    first = ytcollect(tmp_path, "demo", "--json")
    assert first.returncode == 0, first.stderr

    refreshed = ytcollect(tmp_path, "maintenance", "refresh", REFRESH_INTERVAL_HOURS="0.0001")

    assert refreshed.returncode == 0, refreshed.stderr
    run_id = re.search(r"refresh run (\S+) started", refreshed.stdout).group(1)
    status = json.loads(ytcollect(tmp_path, "status", run_id, "--json").stdout)
    assert status["run_status"] == "FINISHED" and status["kind"] == "system"


def test_worker_points_at_dramatiq_when_a_broker_is_configured(tmp_path):
    """Given BROKER_URL, when `ytcollect worker` runs, then one line points at the Dramatiq processes."""
    done = ytcollect(tmp_path, "worker", BROKER_URL="amqp://127.0.0.1:1/")
    assert_one_line_error(done, "dramatiq actors", "Procfile")


START_THREE = """
import time

from actors.dispatch import send_all
from actors.runtime import get_context
from pipeline.runs import start_run

for run_id in ("abc-one", "abc-two", "xyz-three"):
    start_run("a", "owner-" + run_id[:3], ["@someone"], ctx=get_context(), send=send_all, run_id=run_id)
    time.sleep(0.05)  # distinct created_at: newest first is well defined
"""


def test_runs_lists_newest_first_and_unique_prefixes_name_a_run(tmp_path):
    """Given three runs, when `runs --limit 2` and commands with id prefixes run, then the list is newest first with the rest counted, a unique prefix works and an ambiguous one lists its candidates."""
    started = subprocess.run(
        [sys.executable, "-c", START_THREE],
        env=data_home_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stderr

    listed = ytcollect(tmp_path, "runs", "--limit", "2")

    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert out.index("xyz-thre") < out.index("abc-two") and "abc-one" not in out
    assert "runs, newest first (3)" in out and "PENDING" in out and "owner-xyz" in out
    assert "… 1 run more not shown: `ytcollect runs --limit 3` lists them all" in out
    assert max(len(line) for line in out.splitlines()) <= 80

    by_prefix = ytcollect(tmp_path, "status", "xyz", "--json")
    assert by_prefix.returncode == 0, by_prefix.stderr
    answer = json.loads(by_prefix.stdout)
    assert answer["run_id"] == "xyz-three"
    assert answer["run_status"] == "FINISHED"  # the stranded runs `runs` listed, it also finished
    results = ytcollect(tmp_path, "results", "abc-t", "--format", "json")
    assert results.returncode == 0 and json.loads(results.stdout)[0]["input"] == "@someone"
    cancelled = ytcollect(tmp_path, "cancel", "abc-o")
    assert cancelled.returncode == 0 and "run abc-one had already ended" in cancelled.stdout
    for command in ("status", "results", "cancel", "retry", "compare"):
        assert_one_line_error(ytcollect(tmp_path, command, "abc"), "matches several runs: abc-one, abc-two")
    owner_only = json.loads(ytcollect(tmp_path, "runs", "--owner-id", "owner-abc", "--json").stdout)
    assert [item["run_id"] for item in owner_only["items"]] == ["abc-two", "abc-one"]


def test_two_first_runs_at_once_share_one_new_schema(tmp_path):
    """Given a new data directory, when two runs start at the same moment, then both finish: one creates the schema while the other waits for it."""
    env = data_home_env(tmp_path)
    both = [
        subprocess.Popen(
            [*CLI, "run", f"@someone-{n}", "--json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    outputs = [process.communicate(timeout=300) for process in both]

    for process, (out, err) in zip(both, outputs, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err and "already exists" not in err
        assert json.loads(out)["run_status"] == "FINISHED"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_api_is_one_line_per_input_and_one_on_stderr(tmp_path):
    """Given YOUTUBE_API_URL on a closed port, when a run needs a lookup and a fetch, then it ends, results say why per input, stderr has one error line and no traceback, and the exit is 1."""
    api = {
        "YOUTUBE_API_URL": f"http://127.0.0.1:{closed_port()}",
        "YT_API_KEYS": "k-unreachable",
        "ACTOR_MAX_RETRIES": "1",
        "CLIENT_MAX_ATTEMPTS": "1",
    }

    done = ytcollect(tmp_path, "run", "@needs-a-lookup", "UCX6OQ3DkcsbYNE6H8uQQuVA", **api)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "2 inputs of run" in errors[0] and "ConnectionRefusedError" in errors[0]
    assert (
        "Failed to process" not in done.stderr and "gave up after 1 retries" not in done.stderr
    )  # no worker log
    run_id = re.search(r"run (\S+) failed because", errors[0]).group(1)
    rows = json.loads(ytcollect(tmp_path, "results", run_id, "--format", "json", **api).stdout)
    assert [(r["status"], r["error_code"]) for r in rows] == [("FAILED", "retries_exhausted")] * 2
    assert all("ConnectionRefusedError" in r["error_message"] for r in rows)
    assert not any("k-unreachable" in (r["error_message"] or "") for r in rows)


def test_an_api_url_without_keys_is_refused_before_starting(tmp_path):
    """Given YOUTUBE_API_URL (an emulator) but no YT_API_KEYS, when a run starts, then one line refuses it before any run exists."""
    done = ytcollect(tmp_path, "run", "@someone", YOUTUBE_API_URL=f"http://127.0.0.1:{closed_port()}")
    assert_one_line_error(done, "YT_API_KEYS is empty")
    assert not (tmp_path / "data").exists()


def test_results_number_lines_as_plan_does_when_the_file_has_blank_lines(tmp_path):
    """Given a file with blank lines, when it is planned and run, then plan and results give each input the same file line number (1, 4, 6), in the table too."""
    (tmp_path / "gaps.txt").write_text("@someone-one\n\n\n@someone-two\n  \n@someone-one\n")
    plan = ytcollect(tmp_path, "plan", "--file", "gaps.txt", "--json")
    planned = [json.loads(line)["line"] for line in plan.stdout.splitlines()[:-1]]
    run = ytcollect(tmp_path, "run", "--file", "gaps.txt", "--json")
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]

    rows = json.loads(ytcollect(tmp_path, "results", run_id, "--format", "json").stdout)
    table = ytcollect(tmp_path, "results", run_id).stdout

    assert planned == [1, 4, 6]
    assert [r["line"] for r in rows] == planned
    assert [r["input"] for r in rows] == ["@someone-one", "@someone-two", "@someone-one"]
    numbered = [int(m) for m in re.findall(r"^\s+(\d+)\s+@someone", table, flags=re.MULTILINE)]
    assert numbered == planned


def test_every_command_answers_without_a_traceback(tmp_path):
    """Given the embedded store and every command (a missing run where one is named), when each runs, then none prints a traceback, and each failure is one line on stderr with a non-zero exit."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "integration" / "every_command.py")],
        env=data_home_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) >= 25
    for answer in answers:
        said = answer["stdout"] + answer["stderr"]
        assert "Traceback" not in said, answer
        if answer["code"] != 0 and "Usage:" not in said:
            errors = [line for line in answer["stderr"].splitlines() if line.startswith("error:")]
            assert len(errors) == 1, answer
    missing = [a for a in answers if "no-such-run" in a["args"]]
    assert missing and all(a["code"] == 1 and "not found in the database" in a["stderr"] for a in missing)


def test_retry_without_search_says_what_it_skips_and_a_repeat_spends_nothing(tmp_path):
    """Given a run of a handle nobody has, when it is retried without --allow-search and run again, then retry says it skips the input and the repeat spends 0 units saying why."""
    first = ytcollect(tmp_path, "run", "@nobody-has-this", "--json")
    assert first.returncode == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]

    retried = ytcollect(tmp_path, "retry", run_id[:8])
    again = ytcollect(tmp_path, "run", "@nobody-has-this", "--json")

    assert retried.returncode == 0, retried.stderr
    assert "skipping 1 input that can only fail the same way" in retried.stdout.replace("\n", " ")
    assert f"run {run_id} has nothing to retry" in retried.stdout
    repeat = json.loads(again.stdout)
    assert repeat["quota_units"]["total"] == 0
    assert "remembered from" in repeat["summary"]["needs_attention"][0]["message"]
