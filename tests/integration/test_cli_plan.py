"""``ytcollect plan`` end to end: arguments, files, stdin, JSON lines and errors, with no service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from cli.plan import DEFAULT_SHOWN_LINES, plan

ROOT = Path(__file__).resolve().parents[2]
CID = "UCX6OQ3DkcsbYNE6H8uQQuVA"
VID = "dQw4w9WgXcQ"


def run_cli(
    *args: str, stdin: bytes | None = None, recent_videos: int = 0
) -> subprocess.CompletedProcess[bytes]:
    """Run the real console entry point in a fresh interpreter, as ``ytcollect`` does (RECENT_VIDEOS given:
    the estimate includes the video part when it is above 0)."""
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        # A wide table: no id folded over two rows.
        env={**os.environ, "COLUMNS": "200", "RECENT_VIDEOS": str(recent_videos)},
        timeout=120,
    )


def json_lines(output: bytes | str) -> list[dict]:
    text = output.decode("utf-8") if isinstance(output, bytes) else output
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """Invoke ``plan`` in-process through a Typer app of its own (the shared app's shape depends on which commands exist)."""
    monkeypatch.setattr("cli.plan.console", Console(width=200))  # writes to the runner's stdout
    wrapper = typer.Typer()
    wrapper.callback()(lambda: None)
    wrapper.command("plan")(plan)
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(wrapper, ["plan", *args], input=input)

    return invoke


# --------------------------------------------------------------------------------------------------
# Through a real subprocess


def test_subprocess_json_from_arguments() -> None:
    """Given three forms of one handle, a video and a bad input as arguments, when ytcollect plan --json runs, then each line and a summary come out as JSON."""
    result = run_cli(
        "plan", "@MrBeast", "https://youtube.com/@mrbeast/videos", "youtube.com/@MRBEAST", f"https://youtu.be/{VID}",
        "javascript:alert(1)", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    objects = json_lines(result.stdout)
    lines, summary = objects[:-1], objects[-1]["summary"]
    assert [o["line"] for o in lines] == [1, 2, 3, 4, 5]
    assert [o["kind"] for o in lines] == ["handle", "handle", "handle", "video", "invalid"]
    assert [o["value"] for o in lines] == ["mrbeast", "mrbeast", "mrbeast", VID, ""]
    assert [o["job"] for o in lines] == [1, 1, 1, 2, 3]
    assert lines[1]["input"] == "https://youtube.com/@mrbeast/videos"
    assert lines[4]["reason"]
    assert summary["jobs"] == 3 and summary["duplicate_lines"] == 2 and summary["invalid_lines"] == 1
    assert summary["jobs_by_kind"]["handle"] == 1 and summary["jobs_by_kind"]["video"] == 1
    assert summary["quota"]["min_units"] == 2  # one forHandle, one videos.list
    assert summary["quota"]["max_units_without_search"] == 3  # plus, at most, the video's channel


def test_subprocess_stdin_keeps_file_line_numbers() -> None:
    """Given stdin with blank lines, a BOM, CRLF endings and a bad byte, when plan --file - --json runs, then blank lines are skipped but counted."""
    data = b"\xef\xbb\xbf@MrBeast\r\n\r\n   \r\n" + CID.encode() + b"\r\n@caf\xe9\n"
    result = run_cli("plan", "--file", "-", "--json", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    lines = json_lines(result.stdout)[:-1]
    assert [(o["line"], o["kind"]) for o in lines] == [(1, "handle"), (4, "channel_id"), (5, "invalid")]
    assert lines[0]["input"] == "@MrBeast"  # the byte-order mark is gone
    assert "\ufffd" in lines[2]["input"]  # the undecodable byte is replaced, not fatal


def test_subprocess_without_inputs_exits_2() -> None:
    """Given no inputs at all, when ytcollect plan runs, then it exits 2 with a message saying how to give them."""
    result = run_cli("plan")
    assert result.returncode == 2
    assert b"no inputs" in result.stderr
    assert result.stdout == b""


def test_subprocess_table_output() -> None:
    """Given inputs as arguments, when plan runs without --json, then a table, the jobs and the quota estimate are printed."""
    result = run_cli("plan", "@MrBeast", "MrBeast", f"https://www.youtube.com/channel/{CID}/videos")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    for expected in (
        "handle",
        "channel_id",
        "mrbeast",
        CID,
        "bare word",
        "Unique jobs",
        "Quota estimate",
        "default bucket",
    ):
        assert expected in out


def test_subprocess_prints_each_bucket_apart() -> None:
    """Given channel ids and a custom URL with RECENT_VIDEOS=30, when plan runs, then default units, search calls
    and video_stats units are printed on lines of their own, and the JSON summary carries each."""
    ids = [f"UC{i:022d}" for i in range(49)]
    result = run_cli("plan", *ids, "youtube.com/c/Someone", recent_videos=30)
    assert result.returncode == 0, result.stderr.decode()
    out = " ".join(result.stdout.decode().split())
    # 50 channels: 1 metadata call, 1 forHandle, 50 uploads pages and 30 titles calls; 30 stats units.
    assert "default bucket: at least 82 units" in out
    assert "search bucket: 0 calls; with --allow-search up to 1 call (of the 100 a day)" in out
    assert "video_stats bucket: 30 units" in out
    summary = json_lines(run_cli("plan", *ids, "youtube.com/c/Someone", "--json", recent_videos=30).stdout)[
        -1
    ]
    quota = summary["summary"]["quota"]
    assert (quota["min_units"], quota["search_calls_max"], quota["stats_units_min"]) == (82, 1, 30)


# --------------------------------------------------------------------------------------------------
# In-process, for the rest of the behaviour


def test_file_input(cli, tmp_path: Path) -> None:
    """Given a file of inputs with blank lines, when plan --file PATH --json runs, then every non-blank line is reported with its line number."""
    path = tmp_path / "inputs.txt"
    path.write_text(f"@MrBeast\n\nhttps://www.youtube.com/channel/{CID}\n{CID}\n\n", encoding="utf-8")
    result = cli("--file", str(path), "--json")
    assert result.exit_code == 0, result.output
    objects = json_lines(result.stdout)
    assert [(o["line"], o["job"]) for o in objects[:-1]] == [(1, 1), (3, 2), (4, 2)]
    assert objects[-1]["summary"]["jobs_by_kind"]["channel_id"] == 1


def test_stdin_input(cli) -> None:
    """Given inputs on stdin, when plan --file - runs, then they are read one per line."""
    result = cli("--file", "-", "--json", input=f"@MrBeast\n{CID}\n")
    assert result.exit_code == 0, result.output
    assert [o["kind"] for o in json_lines(result.stdout)[:-1]] == ["handle", "channel_id"]


def test_empty_file_exits_2(cli, tmp_path: Path) -> None:
    """Given a file holding only blank lines, when plan --file runs, then it exits 2 saying there were no inputs."""
    path = tmp_path / "blank.txt"
    path.write_text("\n  \n\t\n", encoding="utf-8")
    result = cli("--file", str(path))
    assert result.exit_code == 2
    assert "no inputs" in result.stderr


def test_missing_file_exits_2(cli, tmp_path: Path) -> None:
    """Given a path that does not exist, when plan --file runs, then it exits 2 naming the file."""
    result = cli("--file", str(tmp_path / "nope.txt"))
    assert result.exit_code == 2
    assert "nope.txt" in result.stderr


def test_arguments_and_file_together_exit_2(cli, tmp_path: Path) -> None:
    """Given inputs both as arguments and with --file, when plan runs, then it exits 2 instead of guessing the line numbers."""
    path = tmp_path / "inputs.txt"
    path.write_text("@MrBeast\n", encoding="utf-8")
    result = cli("@PewDiePie", "--file", str(path))
    assert result.exit_code == 2


def test_table_is_summarized_unless_all(cli, tmp_path: Path) -> None:
    """Given more lines than the table shows, when plan runs, then it says how many more there are, and --all shows them all."""
    count = DEFAULT_SHOWN_LINES + 25
    path = tmp_path / "many.txt"
    path.write_text("".join(f"@channel{i:04d}\n" for i in range(count)), encoding="utf-8")
    short = cli("--file", str(path))
    assert short.exit_code == 0, short.output
    assert "… 25 more lines not shown, 0 of them invalid: --all shows every line" in short.stdout
    assert f"channel{count - 1:04d}" not in short.stdout
    full = cli("--file", str(path), "--all")
    assert full.exit_code == 0, full.output
    assert f"channel{count - 1:04d}" in full.stdout
    assert "more lines not shown" not in full.stdout


def test_json_emits_every_line(cli, tmp_path: Path) -> None:
    """Given more lines than the table shows, when plan --json runs, then every line is emitted."""
    count = DEFAULT_SHOWN_LINES * 3
    path = tmp_path / "many.txt"
    path.write_text("".join(f"@channel{i:04d}\n" for i in range(count)), encoding="utf-8")
    result = cli("--file", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert len(json_lines(result.stdout)) == count + 1


def test_markup_and_control_characters_are_shown_safely(cli) -> None:
    """Given inputs holding rich markup and a terminal escape, when the table is printed, then they appear as text, never as styling."""
    result = cli("[bold]@MrBeast[/bold]", "\x1b[31m@red")
    assert result.exit_code == 0, result.output
    assert "[bold]@MrBeast[/bold]" in result.stdout
    assert "\x1b[31m" not in result.stdout
    assert "\\x1b" in result.stdout


def test_json_keeps_unicode_and_the_raw_input(cli) -> None:
    """Given a unicode handle with surrounding spaces, when plan --json runs, then the input is kept as given and the value is decoded."""
    result = cli("  https://www.youtube.com/@%E3%81%82%E3%81%84  ", "--json")
    assert result.exit_code == 0, result.output
    first = json_lines(result.stdout)[0]
    assert first["input"] == "  https://www.youtube.com/@%E3%81%82%E3%81%84  "
    assert (first["kind"], first["value"]) == ("handle", "あい")
