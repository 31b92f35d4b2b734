"""`ytcollect run --recent-videos`, `compare` and `videos` through the real CLI, embedded (no services)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from emulator.catalogue import Catalogue
from tests.integration.test_cli_embedded import CLI, clean_env


def cli(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=check,
    )


def embedded_channels() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Channels of the embedded emulator's catalogue (seed 7): three with videos, one without."""
    sample = [c for c in Catalogue(seed=7, channels=2_000).sample(300) if not c["terminated"]]
    with_videos = [c for c in sample if len(c["video_ids"]) >= 4][:3]
    without = next(c for c in sample if c["no_videos"])
    return with_videos, without


def test_compare_shows_channels_with_and_without_videos_and_plots_without_overwriting(tmp_path):
    """Given an embedded run with --recent-videos 4 over channels with and without videos, when compare is asked as JSON, CSV and a chart, then every channel has a row labelled as computed by ytcollect and a second --plot to the same file is refused without --force."""
    with_videos, without = embedded_channels()
    ids = [c["id"] for c in with_videos] + [without["id"]]
    run = json.loads(cli(tmp_path, "run", "--recent-videos", "4", "--json", *ids).stdout)
    assert run["run_status"] == "FINISHED"
    assert run["summary"]["videos"]["new_videos"] == 12

    table = json.loads(cli(tmp_path, "compare", run["run_id"], "--format", "json").stdout)
    rows = {r["channel_id"]: r for r in table["channels"]}
    assert table["derived"] == "computed by ytcollect" and set(rows) == set(ids)
    assert rows[without["id"]]["recent_videos"] == 0 and rows[without["id"]]["median_views_recent"] is None
    assert all(rows[c["id"]]["recent_videos"] == 4 for c in with_videos)
    csv_text = cli(tmp_path, "compare", run["run_id"], "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("channel_id,title,subscribers,views,videos,uploads_30d")
    assert len(csv_text.splitlines()) == 5

    chart = tmp_path / "compare.png"
    first = cli(tmp_path, "compare", run["run_id"], "--plot", str(chart), "--metric", "views")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "written" in first.stderr
    again = cli(tmp_path, "compare", run["run_id"], "--plot", str(chart), check=False)
    assert again.returncode != 0 and "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    cli(tmp_path, "compare", run["run_id"], "--plot", str(chart), "--force")

    # A channel title of 300 characters is cut in the chart; a link or a 300-character file name is refused.
    with sqlite3.connect(tmp_path / "state" / "ytcollect.db") as db:
        db.execute("UPDATE channels SET title = ?", ("T" * 300,))
    long_title = cli(tmp_path, "compare", run["run_id"], "--plot", str(tmp_path / "long.png"), check=False)
    assert long_title.returncode == 0 and "Traceback" not in long_title.stderr, long_title.stderr
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "link.png").symlink_to(victim)
    for name, force, says in (
        ("link.png", "--force", "symbolic link"),
        ("a" * 300 + ".png", "--no-force", "too long"),
    ):
        refused = cli(tmp_path, "compare", run["run_id"], "--plot", str(tmp_path / name), force, check=False)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert victim.read_text() == "keep me"


def test_videos_list_metrics_and_delete_read_what_a_run_stored(tmp_path):
    """Given an embedded run that stored a channel's newest videos, when videos list, metrics and delete are asked, then they answer from the stored rows, and a bad video reference is one clear line."""
    with_videos, _ = embedded_channels()
    channel = with_videos[0]
    cli(tmp_path, "run", "--recent-videos", "3", "--json", channel["id"])

    listed = json.loads(cli(tmp_path, "videos", "list", channel["id"], "--format", "json").stdout)
    assert {v["video_id"] for v in listed} == set(channel["video_ids"][-3:])
    newest = channel["video_ids"][-1]
    metrics = json.loads(
        cli(tmp_path, "videos", "metrics", newest, "--days", "3650", "--format", "json").stdout
    )
    assert len(metrics["points"]) == 1 and metrics["growth"]["views"]["absolute"] == 0

    bad = cli(tmp_path, "videos", "metrics", "https://www.youtube.com/@someone", check=False)
    assert bad.returncode == 2 and "not a video" in bad.stderr
    assert "deleted 1 video(s) and 1 snapshot(s)" in cli(tmp_path, "videos", "delete", newest).stdout
    gone = cli(tmp_path, "videos", "metrics", newest, check=False)
    assert gone.returncode == 1 and "not stored" in gone.stderr
