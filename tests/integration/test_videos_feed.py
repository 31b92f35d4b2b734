"""The zero-unit discovery path (``VIDEO_DISCOVERY=feed``) on the real services, the emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from emulator.testing import RawClient
from models import RunVideoChannel, Video
from pipeline.runs import get_run_status, start_run
from tests.factories import TestClock
from tests.integration.pipeline_harness import make_pipeline_ctx, running_worker, truncate, wait_until
from tests.integration.test_videos_pipeline import a_day_passes, admin

pytestmark = pytest.mark.services


@pytest.fixture
def feed_ctx(pg_engine: sa.Engine, emulator: Any, clock: TestClock) -> Iterator[Any]:
    """A Context reading channel feeds first; clean tables, Redis and emulator state."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(emulator, clock, video_discovery="feed")
    yield ctx
    ctx.close()


@pytest.fixture
def feed_worker(rabbit_broker: Any, feed_ctx: Any) -> Iterator[Any]:
    with running_worker(rabbit_broker, feed_ctx) as w:
        yield w


def run(ctx: Any, channel_ids: list[str], recent: int) -> dict[str, Any]:
    run_id = start_run("a", "o", channel_ids, {"recent_videos": recent}, ctx=ctx, send=send_all)

    def finished() -> dict[str, Any] | None:
        status = get_run_status(run_id, ctx=ctx)
        return status if status["run_status"] == "FINISHED" else None

    return wait_until(finished, timeout=90)


def scrape(ctx: Any) -> str:
    """The worker's metrics exposition (our collector on the database only), as Prometheus reads it."""
    from prometheus_client import generate_latest

    from actors.metrics import YtcollectCollector, build_registry

    return generate_latest(build_registry(YtcollectCollector(ledger=None, sessions=ctx.sessions))).decode()


def busy_channels(emulator: Any, count: int) -> list[str]:
    """Live channels with at least 20 uploads, so their feed is full (15 entries) at any moment."""
    found = [
        e["id"] for e in emulator.catalogue.sample(600) if not e["terminated"] and len(e["video_ids"]) >= 20
    ]
    assert len(found) >= count
    return found[:count]


def newest_published(emulator: Any, channel_id: str, n: int) -> set[str]:
    """The ``n`` most recently published videos of a channel, from the emulator's own account of it."""
    answer = RawClient(emulator.base_url).admin("GET", "videos", channel_id=channel_id)
    now = emulator.now()
    public = [u for u in answer.json["uploads"] if datetime.fromisoformat(u["published_at"]) <= now]
    public.sort(key=lambda u: u["published_at"], reverse=True)
    return {u["id"] for u in public[:n]}


def checks(ctx: Any, run_id: str) -> dict[str, RunVideoChannel]:
    with ctx.session() as s:
        rows = s.execute(sa.select(RunVideoChannel).where(RunVideoChannel.run_id == run_id)).scalars()
        return {r.channel_id: r for r in rows}


def stored_ids(ctx: Any, channel_id: str) -> set[str]:
    with ctx.session() as s:
        return set(s.execute(sa.select(Video.id).where(Video.channel_id == channel_id)).scalars())


def test_a_feed_run_discovers_the_newest_uploads_at_zero_units(feed_worker, feed_ctx, emulator):
    """Given channels with many uploads, when a feed run follows 5 recent videos, then each channel's 5 newest published videos are stored from its feed and no playlistItems.list unit is spent."""
    channels = busy_channels(emulator, 4)

    status = run(feed_ctx, channels, recent=5)

    videos = status["summary"]["videos"]
    assert videos["discovery_methods"] == {"feed": 4} and videos["feed_fallbacks"] == {}
    assert videos["new_videos"] == 20
    for cid in channels:
        assert stored_ids(feed_ctx, cid) == newest_published(emulator, cid, 5), cid
    usage = emulator.usage()
    assert "playlistItems.list" not in usage["by_method"]  # discovery cost nothing
    assert usage["feeds"]["requests"] == 4


def test_a_feed_fault_falls_back_to_the_playlist_until_it_ends(feed_worker, feed_ctx, emulator, clock):
    """Given feeds answering 503 until an hour from now, when a run checks channels, then each falls back to one playlist page counted under http503; and the next day, once the fault is over, the feed is used again at no unit."""
    channels = busy_channels(emulator, 3)
    until = emulator.now() + timedelta(hours=1)
    admin(
        emulator,
        "faults",
        {"faults": [{"endpoint": "feeds.videos", "kind": "backend_503", "until": until.isoformat()}]},
    )

    during = run(feed_ctx, channels, recent=5)

    videos = during["summary"]["videos"]
    assert videos["feed_fallbacks"] == {"http503": 3}
    assert videos["discovery_methods"] == {"playlist": 3}
    assert all(c.feed_fallback == "http503" for c in checks(feed_ctx, during["run_id"]).values())
    assert emulator.usage()["by_method"]["playlistItems.list"]["units"] == 3
    assert emulator.usage()["feeds"]["by_status"] == {"503": 3}
    assert 'ytcollect_feed_fallbacks{reason="http503"} 3.0' in scrape(feed_ctx)

    a_day_passes(emulator, clock)
    before = emulator.usage()["by_method"]["playlistItems.list"]["units"]
    after_fault = run(feed_ctx, channels, recent=5)

    videos = after_fault["summary"]["videos"]
    assert videos["discovery_methods"] == {"feed": 3} and videos["feed_fallbacks"] == {}
    assert emulator.usage()["by_method"]["playlistItems.list"]["units"] == before


def test_a_videocount_rise_the_feed_cannot_cover_falls_back_to_the_playlist(
    feed_worker, feed_ctx, emulator, clock
):
    """Given two checked channels, when one uploads 20 videos (more than the feed's 15) and the other 2, then the next run reads the first's playlist (reason video_count) and stores exactly those 20, and the second's feed at no unit."""
    flood, quiet = busy_channels(emulator, 2)
    run(feed_ctx, [flood, quiet], recent=30)
    known = {cid: stored_ids(feed_ctx, cid) for cid in (flood, quiet)}
    uploaded = {
        flood: admin(emulator, "uploads", {"channel_id": flood, "count": 20})["video_ids"],
        quiet: admin(emulator, "uploads", {"channel_id": quiet, "count": 2})["video_ids"],
    }
    a_day_passes(emulator, clock)  # the uploads are public 5-120 s after being added
    before = emulator.usage()["by_method"].get("playlistItems.list", {}).get("units", 0)

    status = run(feed_ctx, [flood, quiet], recent=30)

    found = checks(feed_ctx, status["run_id"])
    assert (found[flood].method, found[flood].feed_fallback) == ("playlist", "video_count")
    assert (found[quiet].method, found[quiet].feed_fallback) == ("feed", None)
    assert status["summary"]["videos"]["feed_fallbacks"] == {"video_count": 1}
    assert emulator.usage()["by_method"]["playlistItems.list"]["units"] == before + 1  # the flooded one only
    assert found[flood].new_videos == 20  # the playlist stopped at the first known video
    for cid in (flood, quiet):
        assert stored_ids(feed_ctx, cid) == known[cid] | set(uploaded[cid]), cid


def test_a_feed_check_stops_at_the_first_known_video(feed_worker, feed_ctx, emulator, clock):
    """Given a channel checked for its 5 newest videos, when it uploads 2 more, then the next feed check stores exactly those 2 and not the older entries past the first known one, which the feed also lists."""
    (channel,) = busy_channels(emulator, 1)
    run(feed_ctx, [channel], recent=5)
    known = stored_ids(feed_ctx, channel)
    uploaded = admin(emulator, "uploads", {"channel_id": channel, "count": 2})["video_ids"]
    a_day_passes(emulator, clock)

    status = run(feed_ctx, [channel], recent=5)

    found = checks(feed_ctx, status["run_id"])[channel]
    assert (found.method, found.feed_fallback, found.new_videos) == ("feed", None, 2)
    assert stored_ids(feed_ctx, channel) == known | set(uploaded)
