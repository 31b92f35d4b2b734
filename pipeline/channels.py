"""Channels and videos as readers see them (the HTTP API and the dashboard), scoped to an owner.

Channel data is public YouTube data shared by every run, but an owner sees only the channels and
videos their own runs found: another owner's channel is "not found", like another owner's run.
History comes from the snapshots (``pipeline.history``), grouped by day, week or month.

Videos are the stored ones (``pipeline.videos``): an owner sees those of the channels their runs
found, and those their inputs named.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import Channel, Job, JobStatus, Run, Video
from pipeline import history, videos
from pipeline.errors import YtCollectError

if TYPE_CHECKING:
    from pipeline.context import Context

INTERVALS = ("day", "week", "month")


class ChannelNotFound(YtCollectError):
    """No such channel among the ones the owner's runs found (or none at all)."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(f"channel {channel_id} not found")


class VideoNotFound(YtCollectError):
    def __init__(self, video_id: str) -> None:
        super().__init__(f"video {video_id} not found")


def _owned(owner_id: str | None) -> Any:
    return sa.select(col(Run.id)).where(col(Run.owner_id) == owner_id)


def _visible(session: Session, channel_id: str, owner_id: str | None) -> Channel | None:
    channel = session.get(Channel, channel_id)
    if channel is None or owner_id is None:
        return channel
    found = session.execute(
        sa.select(col(Job.id))
        .where(col(Job.channel_id) == channel_id, col(Job.run_id).in_(_owned(owner_id)))
        .limit(1)
    ).first()
    return channel if found else None


def period_start(moment: datetime, interval: str) -> date:
    """The first day of the day, ISO week (Monday) or month that ``moment`` (UTC) falls in."""
    day = moment.astimezone(UTC).date()
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")


def aggregate(points: list[history.HistoryPoint], interval: str) -> list[dict[str, Any]]:
    """The last snapshot of each period, with the change since the previous period's last one."""
    last: dict[date, history.HistoryPoint] = {}
    for point in points:  # oldest first: a later snapshot of the same period replaces an earlier one
        last[period_start(point.fetched_at, interval)] = point
    rows: list[dict[str, Any]] = []
    previous: history.HistoryPoint | None = None
    for start in sorted(last):
        point = last[start]

        def change(name: str, point: history.HistoryPoint = point, before: Any = previous) -> int | None:
            now, then = point.metric(name), before.metric(name) if before is not None else None
            return None if now is None or then is None else now - then

        rows.append(
            {
                "period_start": start.isoformat(),
                "fetched_at": point.fetched_at.isoformat(),
                "subscribers": point.subscribers,
                "subscribers_hidden": point.hidden,
                "views": point.views,
                "videos": point.videos,
                "subscriber_change": change("subscribers"),
                "view_change": change("views"),
                "video_change": change("videos"),
            }
        )
        previous = point
    return rows


def get_channel(ctx: Context, channel_id: str, *, owner_id: str | None) -> dict[str, Any]:
    """A channel's latest metadata and statistics, and the owner's runs that found it (newest first)."""
    with ctx.session() as session:
        channel = _visible(session, channel_id, owner_id)
        if channel is None:
            raise ChannelNotFound(channel_id)
        runs_q = (
            sa.select(col(Run.id), col(Run.analysis_id), col(Run.created_at))
            .join(Job, col(Job.run_id) == col(Run.id))
            .where(col(Job.channel_id) == channel_id, col(Job.status) == JobStatus.DONE)
            .group_by(col(Run.id), col(Run.analysis_id), col(Run.created_at))
            .order_by(col(Run.created_at).desc())
            .limit(20)
        )
        if owner_id is not None:
            runs_q = runs_q.where(col(Run.owner_id) == owner_id)
        runs = [
            {"run_id": r, "analysis_id": a, "created_at": c.isoformat()}
            for r, a, c in session.execute(runs_q)
        ]
    return {
        "channel_id": channel.id,
        "title": channel.title,
        "description": channel.description,
        "handle": channel.handle,
        "country": channel.country,
        "published_at": channel.published_at.isoformat() if channel.published_at else None,
        "thumbnail_url": channel.thumbnail_url,
        "subscribers": None if channel.hidden_subscriber_count else channel.subscriber_count,
        "subscribers_hidden": channel.hidden_subscriber_count,
        "views": channel.view_count,
        "videos": channel.video_count,
        "fetched_at": channel.fetched_at.isoformat(),
        "first_seen_at": channel.first_seen_at.isoformat(),
        "runs": runs,
    }


def get_channel_history(
    ctx: Context, channel_id: str, *, owner_id: str | None, since: date | None = None, interval: str = "day"
) -> dict[str, Any]:
    """The channel's statistics over time, one point per day, week or month (its last snapshot)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    with ctx.session() as session:
        if _visible(session, channel_id, owner_id) is None:
            raise ChannelNotFound(channel_id)
        points = history.channel_history(session, channel_ids=[channel_id], since=since)[channel_id]
    return {
        "channel_id": channel_id,
        "interval": interval,
        "since": since.isoformat() if since else None,
        "points": aggregate(points, interval),
    }


def channel_videos(ctx: Context, channel_id: str, *, owner_id: str | None, limit: int = 50) -> dict[str, Any]:
    """The channel's stored videos (recent uploads and tracked ones), newest first, with their latest counts."""
    with ctx.session() as session:
        if _visible(session, channel_id, owner_id) is None:
            raise ChannelNotFound(channel_id)
    return {"channel_id": channel_id, "videos": videos.list_videos(channel_id, ctx=ctx, limit=limit)}


def _video_visible(session: Session, video_id: str, owner_id: str | None) -> bool:
    """A stored video whose channel the owner's runs found, or that the owner's inputs named."""
    video = session.get(Video, video_id)
    if video is None:
        return False
    if owner_id is None or _visible(session, video.channel_id, owner_id) is not None:
        return True
    named = session.execute(
        sa.select(col(Job.id))
        .where(col(Job.kind) == "video", col(Job.value) == video_id, col(Job.run_id).in_(_owned(owner_id)))
        .limit(1)
    ).first()
    return named is not None


def video_metrics(
    ctx: Context, video_id: str, *, owner_id: str | None, days: int = 30, interval: str = "day"
) -> dict[str, Any]:
    """A video's views, likes and comments over the last ``days``, one point per interval, with growth."""
    with ctx.session() as session:
        if not _video_visible(session, video_id, owner_id):
            raise VideoNotFound(video_id)
    return videos.video_metrics(video_id, ctx=ctx, days=days, interval=interval)


def track_video(ctx: Context, video_id: str, *, owner_id: str | None) -> dict[str, Any]:
    """Follow a video the owner can see (polled past the age cap); one videos.list call brings its counts."""
    with ctx.session() as session:
        if not _video_visible(session, video_id, owner_id):
            raise VideoNotFound(video_id)
    result = videos.track_videos([video_id], ctx=ctx)
    if not result.tracked:  # gone from YouTube since it was stored
        raise VideoNotFound(video_id)
    return videos.video_metrics(video_id, ctx=ctx, days=1, interval="day")
