"""The video part of a run on the real services: upload checks, the statistics barrier, storage, figures."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from emulator.testing import RawClient
from models import Channel, RunVideoBatch, RunVideoChannel, Video, VideoSnapshot
from pipeline.runs import get_run_status, start_run
from pipeline.videos import compare_run
from tests.integration.pipeline_harness import wait_until

pytestmark = pytest.mark.services


def finished(ctx: Any, run_id: str) -> dict[str, Any] | None:
    status = get_run_status(run_id, ctx=ctx)
    return status if status["run_status"] == "FINISHED" else None


def channels_with(emulator: Any, *, videos: bool, count: int) -> list[dict[str, Any]]:
    """Live channels of the emulator's catalogue with (at least 6) or without public videos."""
    found = []
    for entry in emulator.catalogue.sample(600):
        if entry["terminated"]:
            continue
        if (videos and len(entry["video_ids"]) >= 6) or (not videos and entry["no_videos"]):
            found.append(entry)
        if len(found) == count:
            break
    assert len(found) == count
    return found


def admin(emulator: Any, name: str, payload: Any) -> Any:
    """One POST to the emulator's admin API over HTTP, as an operator's script would send it."""
    answer = RawClient(emulator.base_url).admin("POST", name, payload)
    assert answer.status == 200, answer.body
    return answer.json


def a_day_passes(emulator: Any, clock: Any, hours: float = 25.0) -> None:
    """Move the pipeline's clock and the emulator's (over its admin API) by the same time."""
    clock.advance(timedelta(hours=hours))
    admin(emulator, "clock", {"advance_seconds": hours * 3600})


def rows(ctx: Any, model: Any, *where: Any) -> list[Any]:
    with ctx.session() as s:
        return list(s.execute(sa.select(model).where(*where)).scalars())


def test_a_run_stores_each_channels_newest_uploads_at_the_minimum_quota(worker, pipeline_ctx, emulator):
    """Given channels with and without videos, when a run follows 5 recent videos, then each channel with videos has its 5 newest stored with statistics, the others are NO_VIDEOS, and the units are 1 page per channel with videos plus one titles call and one stats call per 50 new videos."""
    with_videos = channels_with(emulator, videos=True, count=12)
    without = channels_with(emulator, videos=False, count=2)
    run_id = start_run(
        "a",
        "o",
        [c["id"] for c in with_videos + without],
        {"recent_videos": 5},
        ctx=pipeline_ctx,
        send=send_all,
    )

    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=90)

    checks = {c.channel_id: c for c in rows(pipeline_ctx, RunVideoChannel, RunVideoChannel.run_id == run_id)}
    assert {c["id"] for c in without} == {cid for cid, c in checks.items() if c.status == "NO_VIDEOS"}
    stored = rows(pipeline_ctx, Video)
    by_channel: dict[str, set[str]] = {}
    for video in stored:
        by_channel.setdefault(video.channel_id, set()).add(video.id)
    for entry in with_videos:
        assert by_channel[entry["id"]] == set(entry["video_ids"][-5:]), entry["id"]  # the 5 newest uploads
    assert all(v.title and v.view_count is not None and v.duration_seconds is not None for v in stored)
    assert all(v.is_short == (v.duration_seconds <= 180) for v in stored)
    snapshots = rows(pipeline_ctx, VideoSnapshot, VideoSnapshot.run_id == run_id)
    assert len(snapshots) == len(stored) == 60

    usage = emulator.usage()["by_method"]
    assert usage["playlistItems.list"]["units"] == len(with_videos)  # none for the channels without videos
    assert usage["videos.batchGetStats"]["units"] == math.ceil(60 / 50)
    assert usage["videos.list"]["units"] == math.ceil(60 / 50)  # titles, once
    summary = status["summary"]
    assert summary["videos"]["new_videos"] == 60
    assert summary["videos"]["channels_checked"] == {"DONE": 12, "NO_VIDEOS": 2}
    figures = {c["channel_id"]: c for c in summary["channels"]}
    assert figures[with_videos[0]["id"]]["recent_videos"] == 5
    assert figures[with_videos[0]["id"]]["derived"] == "computed by ytcollect"
    assert figures[without[0]["id"]]["recent_videos"] == 0


def test_the_next_check_stops_at_the_first_known_video(worker, pipeline_ctx, emulator, clock):
    """Given a channel whose 5 newest uploads are stored, when it uploads 2 more and a run the next day follows 10, then only those 2 are added: the check stopped at the first known video."""
    entry = channels_with(emulator, videos=True, count=1)[0]
    first = start_run("a", "o", [entry["id"]], {"recent_videos": 5}, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first), timeout=60)
    uploaded = admin(emulator, "uploads", {"channel_id": entry["id"], "count": 2})["video_ids"]

    a_day_passes(emulator, clock)  # uploads turn public 5-120 s after being added
    second = start_run("a", "o", [entry["id"]], {"recent_videos": 10}, ctx=pipeline_ctx, send=send_all)
    status = wait_until(lambda: finished(pipeline_ctx, second), timeout=60)

    check = rows(pipeline_ctx, RunVideoChannel, RunVideoChannel.run_id == second)[0]
    assert check.new_videos == 2
    assert {v.id for v in rows(pipeline_ctx, Video)} == set(entry["video_ids"][-5:]) | set(uploaded)
    assert status["summary"]["videos"]["new_videos"] == 2
    assert emulator.usage()["by_method"]["playlistItems.list"]["units"] == 2  # one page a run


def test_a_removed_video_is_marked_removed_not_failed(worker, pipeline_ctx, emulator, clock):
    """Given a new upload a run has stored, when the channel removes it and a run reads the channel the next day, then the video is marked removed, its batch is done and the run finishes."""
    entry = channels_with(emulator, videos=True, count=1)[0]
    (gone,) = admin(emulator, "uploads", {"channel_id": entry["id"], "count": 1})["video_ids"]
    a_day_passes(emulator, clock, hours=0.1)  # public 5-120 s after being added
    first = start_run("a", "o", [entry["id"]], {"recent_videos": 5}, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first), timeout=60)
    assert rows(pipeline_ctx, Video, Video.id == gone)[0].view_count is not None
    assert admin(emulator, "remove", {"video_ids": [gone]})["removed"] == [gone]

    a_day_passes(emulator, clock)  # a day-old video is due again
    run_id = start_run("a", "o", [entry["id"]], {"recent_videos": 5}, ctx=pipeline_ctx, send=send_all)
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)

    video = rows(pipeline_ctx, Video, Video.id == gone)[0]
    assert video.removed_at is not None
    batches = rows(pipeline_ctx, RunVideoBatch, RunVideoBatch.run_id == run_id)
    assert {b.status for b in batches} == {"DONE"} and sum(b.removed for b in batches) == 1
    assert status["summary"]["videos"]["videos_removed"] == 1


def test_compare_lists_channels_with_and_without_videos(worker, pipeline_ctx, emulator):
    """Given a run of a channel with videos and one without, when compare is asked, then both have a row, the one without videos has no medians and zero uploads."""
    with_videos = channels_with(emulator, videos=True, count=1)[0]
    without = channels_with(emulator, videos=False, count=1)[0]
    run_id = start_run(
        "a", "o", [with_videos["id"], without["id"]], {"recent_videos": 6}, ctx=pipeline_ctx, send=send_all
    )
    wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)

    table = {row["channel_id"]: row for row in compare_run(run_id, ctx=pipeline_ctx)}

    assert set(table) == {with_videos["id"], without["id"]}
    empty = table[without["id"]]
    assert empty["recent_videos"] == 0 and empty["median_views_recent"] is None and empty["uploads_30d"] == 0
    full = table[with_videos["id"]]
    assert full["recent_videos"] == 6 and full["derived"] == "computed by ytcollect"
    assert full["median_views_recent"] is not None or full["median_views_recent_shorts"] is not None


def test_aggregates_split_shorts_from_long_videos_in_sql(pipeline_ctx, clock):
    """Given a channel's videos on both sides of the 180 s limit, when aggregated in SQL, then long and Shorts medians, the Shorts share, engagement and upload windows are each right."""
    from pipeline.videos import channel_aggregates

    now = clock()
    cid = "UC" + "m" * 21 + "A"
    # (id, days ago, seconds, views, likes, comments)
    table = [
        ("long0000001", 1, 600, 1_000, 40, 10),
        ("long0000002", 5, 181, 3_000, 20, 10),
        ("long0000003", 40, 900, 2_000, 10, 10),
        ("long0000004", 100, 1200, 10_000, 0, 0),
        ("short000001", 2, 180, 50_000, 500, 0),
        ("short000002", 3, 30, 70_000, 700, 0),
    ]
    with pipeline_ctx.session() as s:
        s.add(Channel(id=cid, title="medians", fetched_at=now))
        for vid, days, seconds, views, likes, comments in table:
            s.add(
                Video(
                    id=vid,
                    channel_id=cid,
                    published_at=now - timedelta(days=days),
                    duration_seconds=seconds,
                    is_short=seconds <= 180,
                    short_method="duration",
                    view_count=views,
                    like_count=likes,
                    comment_count=comments,
                    stats_at=now,
                )
            )
        s.add(Video(id="premiere001", channel_id=cid, published_at=now + timedelta(days=2), view_count=0))
        s.add(Video(id="removed0001", channel_id=cid, published_at=now, view_count=9, removed_at=now))

    with pipeline_ctx.session() as s:
        agg = channel_aggregates(s, channel_ids=[cid], now=now, recent=3)[cid]

    assert agg["median_views_recent"] == 2_000.0  # the 3 newest long ones: 1,000, 3,000, 2,000
    assert agg["mean_views_recent_long"] == 2_000.0
    assert agg["median_views_recent_shorts"] == 60_000.0  # 50,000 and 70,000
    assert (agg["uploads_7d"], agg["uploads_30d"], agg["uploads_90d"]) == (4, 4, 5)  # no premiere, no removed
    assert agg["shorts_share"] == round(2 / 3, 4)  # the 3 newest of all kinds: long, Short, Short
    assert agg["engagement_rate"] == 0.01  # (1,000: 5%) (50,000: 1%) (70,000: 1%)
    assert agg["days_since_last_upload"] == 1.0
    assert agg["top_by_views"][0]["video_id"] == "short000002"


def test_video_metrics_aggregate_by_interval_with_growth_on_postgresql(pipeline_ctx, clock):
    """Given a video read several times over three days, when its metrics are asked per day and per hour, then each bucket has its max counts and growth runs from the first bucket to the last."""
    from pipeline.videos import video_metrics

    now = clock()
    with pipeline_ctx.session() as s:
        s.add(Video(id="grow0000001", channel_id="UC" + "g" * 21 + "A", published_at=now - timedelta(days=4)))
        for hours, views in ((72, 100), (70, 180), (48, 400), (1, 1_000)):
            s.add(
                VideoSnapshot(
                    video_id="grow0000001",
                    run_id=f"r{hours}",
                    fetched_at=now - timedelta(hours=hours),
                    view_count=views,
                    like_count=views // 10,
                    comment_count=1,
                )
            )

    daily = video_metrics("grow0000001", ctx=pipeline_ctx, days=7, interval="day")
    hourly = video_metrics("https://youtu.be/grow0000001", ctx=pipeline_ctx, days=7, interval="hour")
    recent = video_metrics("grow0000001", ctx=pipeline_ctx, days=1, interval="day")

    assert [p["views"] for p in hourly["points"]] == [100, 180, 400, 1_000]
    assert daily["points"][0]["views"] in (
        180,
        400,
    )  # 72 h and 70 h ago share a day unless midnight split them
    assert daily["growth"]["views"]["last"] == 1_000
    assert hourly["growth"]["views"] == {"first": 100, "last": 1_000, "absolute": 900, "percent": 900.0}
    assert [p["views"] for p in recent["points"]] == [1_000]
    assert recent["growth"]["views"]["absolute"] == 0


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_repoll_pass_reads_again_only_the_videos_due_by_age(worker, pipeline_ctx, emulator, clock):
    """Given a run that stored 3 fresh uploads and older videos, when 7 hours pass, then the scheduled repoll is a visible system run that reads again the videos under 48 h old (due every 6 h) in one stats batch and leaves the older ones (due daily or weekly) alone; an immediate second pass starts nothing."""
    from models import RunKind
    from pipeline import maintenance

    entry = channels_with(emulator, videos=True, count=1)[0]
    young = admin(emulator, "uploads", {"channel_id": entry["id"], "count": 3})["video_ids"]
    a_day_passes(emulator, clock, hours=0.1)  # public 5-120 s after being added
    first = start_run("a", "o", [entry["id"]], {"recent_videos": 8}, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first), timeout=60)
    stored = {v.id for v in rows(pipeline_ctx, Video)}
    assert set(young) <= stored and len(stored) == 8
    a_day_passes(emulator, clock, hours=7)
    stats_before = emulator.usage()["by_method"]["videos.batchGetStats"]["units"]

    run_id, sends = maintenance.repoll_videos(pipeline_ctx)
    send_all(sends)
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)

    assert status["kind"] == RunKind.SYSTEM.value
    snapshots = rows(pipeline_ctx, VideoSnapshot, VideoSnapshot.run_id == run_id)
    young_now = {
        v.id for v in rows(pipeline_ctx, Video) if clock() - aware(v.published_at) < timedelta(hours=48)
    }
    assert set(young) <= young_now < stored  # the fresh uploads and any others under 48 h; not the rest
    assert {s.video_id for s in snapshots} == young_now
    assert emulator.usage()["by_method"]["videos.batchGetStats"]["units"] - stats_before == 1
    assert maintenance.repoll_videos(pipeline_ctx) == (None, [])  # nothing is due any more
