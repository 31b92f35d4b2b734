"""History, run growth, stats and the chart on a real PostgreSQL database of their own, and the CLI end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import Session

import models
from models import ApiCall, Channel, ChannelSnapshot, Job, Resolution, Run, RunInput
from pipeline import db, store
from pipeline import history as hist
from pipeline.errors import RunNotFound
from tests.conftest import named, pg_url

pytestmark = pytest.mark.services

# Its own database: the shared `test` database is dropped and recreated by other test modules.
DB_NAME = named("ytc_history_test")
ADMIN_URL = pg_url("postgres")
DB_URL = pg_url(DB_NAME)
REPO = Path(__file__).resolve().parents[2]

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def cid(n: int) -> str:
    """A well-formed channel id (UC + 22 characters, the last one in [AQgw])."""
    return f"UC{n:021d}A"


# --- plain factories -----------------------------------------------------------------------------


def add_channel(
    session: Session,
    channel_id: str,
    *,
    title: str = "",
    handle: str | None = None,
    subscribers: int | None = 1_000,
    views: int | None = 10_000,
    videos: int | None = 10,
    hidden: bool = False,
    fetched_at: datetime = NOW,
) -> Channel:
    channel = Channel(
        id=channel_id,
        title=title,
        handle=handle,
        subscriber_count=subscribers,
        view_count=views,
        video_count=videos,
        hidden_subscriber_count=hidden,
        fetched_at=fetched_at,
        first_seen_at=fetched_at,
    )
    session.add(channel)
    return channel


def add_snapshot(
    session: Session,
    channel_id: str,
    *,
    at: datetime,
    run_id: str | None,
    subscribers: int | None,
    views: int | None = None,
    videos: int | None = None,
    hidden: bool = False,
) -> ChannelSnapshot:
    snap = ChannelSnapshot(
        channel_id=channel_id,
        run_id=run_id,
        fetched_at=at,
        subscriber_count=subscribers,
        view_count=views,
        video_count=videos,
        hidden_subscriber_count=hidden,
    )
    session.add(snap)
    return snap


def add_run(
    session: Session,
    run_id: str,
    *,
    status: str = "FINISHED",
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> Run:
    run = Run(
        id=run_id,
        analysis_id="a",
        owner_id="o",
        status=status,
        created_at=started_at or NOW,
        started_at=started_at,
        finished_at=finished_at,
    )
    session.add(run)
    session.flush()
    return run


def add_job(
    session: Session,
    run_id: str,
    line_no: int,
    *,
    status: str = "DONE",
    channel_id: str | None = None,
    value: str | None = None,
) -> Job:
    """A job and the input line behind it (run_channel_rows joins the two)."""
    value = value or channel_id or f"line-{line_no}"
    job = Job(
        run_id=run_id,
        kind="channel_id",
        value=value,
        dedupe_key=store.dedupe_key("channel_id", value),
        first_line_no=line_no,
        status=status,
        channel_id=channel_id,
    )
    session.add(job)
    session.flush()
    session.add(RunInput(run_id=run_id, line_no=line_no, text=value, job_id=job.id))
    return job


def add_resolution(session: Session, kind: str, value: str, channel_id: str) -> None:
    session.add(
        Resolution(
            kind=kind,
            value=value,
            dedupe_key=store.dedupe_key(kind, value),
            channel_id=channel_id,
            method="test",
            confidence="certain",
        )
    )


def add_api_call(session: Session, *, at: datetime, units: int, run_id: str | None = None) -> None:
    session.add(
        ApiCall(
            at=at,
            endpoint="channels.list",
            key_fingerprint="abcd1234",
            units=units,
            outcome="ok",
            run_id=run_id,
        )
    )


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    """The module's own database, created if missing and migrated to head."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    eng = db.make_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
    db.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    """A session on emptied tables; the test commits what the code under test must see."""
    tables = ", ".join(t.name for t in models.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    with Session(engine, expire_on_commit=False) as s:
        yield s


def seed_growth_world(session: Session) -> dict[str, str]:
    """Three channels over three runs: one growing under the rounding step, one exact, one hidden."""
    big, small, hidden = cid(1), cid(2), cid(3)
    add_channel(
        session, big, title="Big Channel", handle="@bigchan", subscribers=1_250_000, views=90_000, videos=40
    )
    add_channel(session, small, title="", handle="@smallchan", subscribers=740, views=5_000, videos=5)
    add_channel(session, hidden, title="Hidden Subs", handle="@hiddensubs", subscribers=None, hidden=True)
    runs = {"r1": NOW - 10 * DAY, "r2": NOW - 8 * DAY, "r3": NOW - 2 * DAY}
    for run_id, at in runs.items():
        add_run(session, run_id, started_at=at, finished_at=at + timedelta(minutes=1))
    series = {
        big: [(1_230_000, 50_000, 30), (1_230_000, 58_000, 32), (1_250_000, 90_000, 40)],
        small: [(700, 1_000, 3), (720, 2_000, 4), (740, 5_000, 5)],
        hidden: [(None, 100, 1), (None, 300, 1), (None, 900, 2)],
    }
    for channel_id, values in series.items():
        for (run_id, at), (subs, views, videos) in zip(runs.items(), values, strict=True):
            add_snapshot(
                session,
                channel_id,
                at=at,
                run_id=run_id,
                subscribers=subs,
                views=views,
                videos=videos,
                hidden=channel_id == hidden,
            )
    for line, channel_id in enumerate((big, small, hidden), 1):
        for run_id in runs:
            add_job(session, run_id, line, channel_id=channel_id)
    add_resolution(session, "video", "dQw4w9WgXcQ", big)
    add_resolution(session, "custom_url", "SmallCustom", small)
    add_resolution(session, "handle", "oldname", small)  # a handle known only from the resolution cache
    add_resolution(session, "handle", "ghostchan", cid(9))  # resolved once, but nothing stored for it
    session.commit()
    return {"big": big, "small": small, "hidden": hidden}


@pytest.fixture
def growth_world(session: Session) -> dict[str, str]:
    return seed_growth_world(session)


# --- history -------------------------------------------------------------------------------------


def test_history_lists_each_snapshot_with_daily_deltas_and_the_rounding_caveat(session, growth_world):
    """Given three snapshots per channel, when history is read, then each point has per-day deltas and rounding-aware subscriber changes."""
    result = hist.channel_history(session, channel_ids=[growth_world["big"], growth_world["small"]])

    big = result[growth_world["big"]]
    assert [p.run_id for p in big] == ["r1", "r2", "r3"]
    assert big[0].subscriber_change is None and big[0].views_per_day is None
    assert big[1].subscriber_below_step is True
    assert big[1].subscriber_growth == "≤ 10,000 (below rounding step)"
    assert big[1].subscribers_per_day is None
    assert big[1].views_per_day == pytest.approx(4_000)
    assert big[1].subscriber_change_bounds == (-9_999, 9_999)
    assert big[2].subscriber_change == 20_000
    assert big[2].subscribers_per_day == pytest.approx(20_000 / 6)
    assert big[2].subscriber_change_bounds == (10_001, 29_999)
    assert big[2].videos_per_day == pytest.approx(8 / 6)
    small = result[growth_world["small"]]
    assert [p.subscriber_growth for p in small] == [None, "+20", "+20"]
    assert small[1].subscribers_per_day == pytest.approx(10)
    assert small[2].subscriber_resolution == 1


def test_hidden_subscriber_counts_have_no_subscriber_deltas(session, growth_world):
    """Given a channel that hides its count, when history is read, then subscribers and their deltas are None but views move."""
    points = hist.channel_history(session, channel_ids=[growth_world["hidden"]])[growth_world["hidden"]]

    assert all(p.hidden and p.subscribers is None and p.subscriber_change is None for p in points)
    assert [p.view_change for p in points] == [None, 200, 600]


def test_since_keeps_the_deltas_of_the_first_point_in_the_window(session, growth_world):
    """Given a since date after the first snapshot, when history is read, then earlier points drop and the first kept one still has deltas."""
    since = (NOW - 9 * DAY).date()
    points = hist.channel_history(session, channel_ids=[growth_world["small"]], since=since)[
        growth_world["small"]
    ]

    assert [p.run_id for p in points] == ["r2", "r3"]
    assert points[0].subscriber_change == 20
    assert points[0].days_since_previous == pytest.approx(2)


def test_refs_resolve_by_id_handle_url_and_the_resolution_cache(session, growth_world):
    """Given ids, handles, URLs and unknown inputs, when refs are resolved, then each known one maps and each unknown one has an error."""
    refs = [
        growth_world["small"],
        "@BigChan",
        "https://www.youtube.com/@smallchan/videos",
        f"https://www.youtube.com/channel/{growth_world['hidden']}",
        "https://youtu.be/dQw4w9WgXcQ?si=share",
        "https://www.youtube.com/c/SmallCustom",
        "@OldName",
        "@nobody-here",
        cid(8),
        "@ghostchan",
        "javascript:alert(1)",
    ]
    found, errors = hist.resolve_channel_refs(session, refs)

    assert found == {
        growth_world["small"]: growth_world["small"],
        "@BigChan": growth_world["big"],
        "https://www.youtube.com/@smallchan/videos": growth_world["small"],
        f"https://www.youtube.com/channel/{growth_world['hidden']}": growth_world["hidden"],
        "https://youtu.be/dQw4w9WgXcQ?si=share": growth_world["big"],
        "https://www.youtube.com/c/SmallCustom": growth_world["small"],
        "@OldName": growth_world["small"],
    }
    by_ref = {e.ref: e.reason for e in errors}
    assert set(by_ref) == {"@nobody-here", cid(8), "@ghostchan", "javascript:alert(1)"}
    assert "unknown channel" in by_ref["@nobody-here"] and "@nobody-here" in by_ref["@nobody-here"]
    assert cid(9) in by_ref["@ghostchan"]
    assert "not a channel reference" in by_ref["javascript:alert(1)"]


def test_run_growth_compares_each_run_with_the_snapshot_before_it(session, growth_world):
    """Given three runs, when the growth of the last and of the middle run is read, then each compares with its own previous snapshot."""
    latest = {g.channel_id: g for g in hist.run_growth(session, run_id="r3")}
    middle = {g.channel_id: g for g in hist.run_growth(session, run_id="r2")}

    assert list(latest) == [growth_world["big"], growth_world["small"], growth_world["hidden"]]
    assert latest[growth_world["big"]].title == "Big Channel"
    assert latest[growth_world["big"]].input_lines == [1]
    big_now = latest[growth_world["big"]].point
    assert (big_now.run_id, big_now.subscriber_change) == ("r3", 20_000)
    assert big_now.previous_fetched_at == NOW - 8 * DAY
    # r2 is not the latest run: its baseline is r1's snapshot, not r3's.
    big_mid = middle[growth_world["big"]].point
    assert (big_mid.run_id, big_mid.previous_fetched_at) == ("r2", NOW - 10 * DAY)
    assert big_mid.subscriber_growth == "≤ 10,000 (below rounding step)"
    assert latest[growth_world["hidden"]].point.subscriber_change is None
    assert latest[growth_world["hidden"]].point.view_change == 600


def test_run_growth_uses_the_latest_snapshot_when_the_run_made_none(session, growth_world):
    """Given a run whose channel was still fresh (no snapshot of its own), when its growth is read, then it shows the latest snapshot's growth."""
    add_run(session, "r4", started_at=NOW - DAY, finished_at=NOW - DAY + timedelta(minutes=1))
    add_job(session, "r4", 1, channel_id=growth_world["small"])
    session.commit()

    (growth,) = hist.run_growth(session, run_id="r4")

    assert growth.point.run_id == "r3"
    assert growth.point.subscriber_change == 20


def test_run_history_and_unknown_runs(session, growth_world):
    """Given a run, when the history of its channels is read, then every channel of the run is there; an unknown run raises RunNotFound."""
    histories = hist.channel_history(session, channel_ids=hist.run_channel_ids(session, run_id="r1"))

    assert list(histories) == [growth_world["big"], growth_world["small"], growth_world["hidden"]]
    assert all(len(points) == 3 for points in histories.values())
    with pytest.raises(RunNotFound):
        hist.run_growth(session, run_id="no-such-run")
    with pytest.raises(RunNotFound):
        hist.run_channel_ids(session, run_id="no-such-run")


# --- stats ---------------------------------------------------------------------------------------


def seed_stats(session: Session) -> None:
    add_run(session, "s1", started_at=NOW - DAY, finished_at=NOW - DAY + timedelta(seconds=60))
    add_run(session, "s2", started_at=NOW - DAY, finished_at=NOW - DAY + timedelta(seconds=120))
    add_run(session, "s3", status="RUNNING", started_at=NOW)
    add_run(session, "s4", status="CANCELLED", started_at=NOW, finished_at=NOW)
    for line, status in enumerate(["DONE", "DONE", "DONE", "FAILED", "NEEDS_SEARCH", "CANCELLED"], 1):
        add_job(session, "s1", line, status=status, channel_id=cid(line) if status == "DONE" else None)
    add_job(session, "s3", 1, status="PENDING")
    add_job(session, "s3", 2, status="WAITING_QUOTA")
    add_api_call(session, at=NOW, units=5, run_id="s3")
    add_api_call(session, at=NOW, units=2)
    add_api_call(session, at=NOW - 2 * DAY, units=100)
    add_api_call(session, at=NOW - 40 * DAY, units=1_000)  # outside a 30-day window
    session.commit()


def test_stats_counts_statuses_success_rate_run_time_and_quota_by_day(session):
    """Given runs, jobs and API calls, when stats are read for 30 days, then the totals, rate, mean and days are right."""
    seed_stats(session)

    result = hist.stats(session, days=30, now=NOW)

    assert result["runs_by_status"] == {"CANCELLED": 1, "FINISHED": 2, "RUNNING": 1}
    assert result["jobs_by_status"] == {
        "CANCELLED": 1,
        "DONE": 3,
        "FAILED": 1,
        "NEEDS_SEARCH": 1,
        "PENDING": 1,
        "WAITING_QUOTA": 1,
    }
    assert result["terminal_jobs"] == 6
    assert result["success_rate"] == pytest.approx(3 / 6)
    assert result["mean_run_seconds"] == pytest.approx(90)
    assert result["quota_units_by_day"] == [
        {"day": (NOW - 2 * DAY).date().isoformat(), "units": 100},
        {"day": NOW.date().isoformat(), "units": 7},
    ]
    assert result["quota_units_total"] == 107
    assert hist.stats(session, days=1, now=NOW)["quota_units_total"] == 7


def test_stats_on_an_empty_database_has_no_rate_and_no_mean(session):
    """Given no runs at all, when stats are read, then the rate and mean are None rather than a division by zero."""
    result = hist.stats(session, days=7)

    assert result["success_rate"] is None and result["mean_run_seconds"] is None
    assert result["quota_units_by_day"] == [] and result["runs_total"] == 0


# --- the chart -----------------------------------------------------------------------------------


def assert_real_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert 600 <= width <= 3_000 and 300 <= height <= 2_000
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 20  # lines, text and bands, not a blank canvas


def test_plot_history_writes_a_png_with_one_line_per_channel(session, growth_world, tmp_path):
    """Given the history of a run, when plot_history draws it, then a real PNG of a sensible size is written."""
    histories = hist.channel_history(session, channel_ids=hist.run_channel_ids(session, run_id="r3"))
    channels = store.channels_by_ids(session, channel_ids=list(histories))
    labels = {cid: hist.channel_label(channels.get(cid), cid) for cid in histories}

    written = hist.plot_history(
        histories, tmp_path / "growth.png", metric="views", title="views", labels=labels
    )

    assert written == tmp_path / "growth.png"
    assert labels[growth_world["small"]] == "@smallchan"  # no title: the handle names it
    assert_real_png(written)


# --- the CLI, end to end -------------------------------------------------------------------------


def ytcollect(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process with only DATABASE_URL configured."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": str(REPO),
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "200",
        "DATABASE_URL": DB_URL,
    }
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_history_json_csv_table_and_errors(growth_world, tmp_path):
    """Given stored history, when `ytcollect history` runs as a process, then JSON/CSV rows parse back, unknown refs are errors and bad input exits 2."""
    done = ytcollect(
        "history", "@bigchan", growth_world["small"], "@nobody-here", "--format", "json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["channel_id"] for r in rows] == [growth_world["big"]] * 3 + [growth_world["small"]] * 3
    assert rows[1]["subscriber_below_step"] is True
    assert rows[1]["subscriber_growth"] == "≤ 10,000 (below rounding step)"
    assert rows[2]["subscriber_change_min"] == 10_001 and rows[2]["title"] == "Big Channel"
    assert "@nobody-here" in done.stderr and "unknown channel" in done.stderr

    as_csv = ytcollect(
        "history",
        "@smallchan",
        "--since",
        (NOW - 9 * DAY).date().isoformat(),
        "--format",
        "csv",
        cwd=tmp_path,
    )
    assert as_csv.returncode == 0, as_csv.stderr
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["subscriber_change"] for r in csv_rows] == ["20", "20"]

    table = ytcollect("history", "@bigchan", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "below rounding step" in table.stdout and "+10.0k…+30.0k" in table.stdout
    assert "down to 3 significant figures" in table.stdout

    none_found = ytcollect("history", "@nobody-here", cid(8), cwd=tmp_path)
    assert none_found.returncode == 1
    assert "@nobody-here" in none_found.stderr and cid(8) in none_found.stderr

    bad_date = ytcollect("history", "@bigchan", "--since", "31/12/2025", cwd=tmp_path)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    assert ytcollect("history", "--run", "no-such-run", cwd=tmp_path).returncode == 1


def test_cli_history_of_a_run_plots_a_png(growth_world, tmp_path):
    """Given a run, when `ytcollect history --run R --plot out.png` runs, then it says where it wrote a real PNG."""
    out = tmp_path / "out.png"

    done = ytcollect("history", "--run", "r3", "--plot", str(out), "--metric", "subscribers", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "growth since each channel's previous snapshot" in done.stdout
    assert f"written to {out}" in done.stderr
    assert_real_png(out)
    unwritable = ytcollect(
        "history", "--run", "r3", "--plot", str(tmp_path / "missing" / "x.png"), cwd=tmp_path
    )
    assert unwritable.returncode == 1 and "does not exist" in unwritable.stderr


def test_cli_history_plot_of_a_300_character_title_is_drawn_without_a_traceback(
    session, growth_world, tmp_path
):
    """Given a channel whose title is 300 characters, when `history --plot` draws it, then it writes a PNG and no traceback."""
    session.execute(
        sa.update(models.Channel).where(models.Channel.id == growth_world["big"]).values(title="T" * 300)
    )
    session.commit()
    out = tmp_path / "long.png"

    done = ytcollect("history", "--run", "r3", "--plot", str(out), cwd=tmp_path)

    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert_real_png(out)


def test_cli_stats_json(session, tmp_path):
    """Given seeded runs, jobs and calls, when `ytcollect stats --json` runs as a process, then its numbers match the database."""
    seed_stats(session)

    done = ytcollect("stats", "--days", "30", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["success_rate"] == pytest.approx(0.5)
    assert result["quota_units_total"] == 107
    assert result["runs_total"] == 4
    table = ytcollect("stats", cwd=tmp_path)
    assert table.returncode == 0 and "50.0%" in table.stdout
