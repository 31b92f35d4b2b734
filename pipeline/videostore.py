"""The database queries of the video part: a run's upload checks and statistics batches, videos, snapshots.

Keyword-only functions taking a session, like ``pipeline.store``. Writes are idempotent: upserts on
primary keys, ``ON CONFLICT DO NOTHING`` snapshots unique per (video, run), and guarded updates that
move a task only out of its open states, because every stage may run twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import (
    OPEN_TASK_STATUSES,
    Channel,
    Job,
    JobStatus,
    Run,
    RunVideoBatch,
    RunVideoChannel,
    ShortMethod,
    Video,
    VideoSnapshot,
    VideoTaskStatus,
)
from pipeline.store import _chunks, _insert, _rowcount, _table
from pipeline.youtube.records import VideoRecord

IDS_PER_BATCH = 50  # videos:batchGetStats and videos.list take at most 50 ids


# --- the run's phases -----------------------------------------------------------------------------


def claim_videos_dispatch(session: Session, *, run_id: str, now: datetime) -> bool:
    """Every job of the run has ended: exactly one caller wins the right to start its upload checks."""
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.videos_dispatched_at).is_(None))
        .values(videos_dispatched_at=now)
    )
    return _rowcount(session, stmt) == 1


def claim_stats_dispatch(session: Session, *, run_id: str, now: datetime) -> bool:
    """Every upload check of the run has ended: exactly one caller forms the statistics batches."""
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.video_stats_dispatched_at).is_(None))
        .values(video_stats_dispatched_at=now)
    )
    return _rowcount(session, stmt) == 1


def done_channel_ids(session: Session, *, run_id: str) -> list[str]:
    """The distinct channels the run's DONE jobs landed on."""
    stmt = (
        sa.select(col(Job.channel_id))
        .where(col(Job.run_id) == run_id, col(Job.status) == JobStatus.DONE, col(Job.channel_id).is_not(None))
        .distinct()
        .order_by(col(Job.channel_id))
    )
    return [cid for cid in session.execute(stmt).scalars() if cid]


def create_upload_checks(session: Session, *, run_id: str, channel_ids: Sequence[str], now: datetime) -> None:
    rows = [
        {
            "run_id": run_id,
            "channel_id": cid,
            "status": VideoTaskStatus.PENDING,
            "new_videos": 0,
            "updated_at": now,
        }
        for cid in channel_ids
    ]
    for chunk in _chunks(rows):
        stmt = _insert(session, _table(RunVideoChannel)).on_conflict_do_nothing(
            index_elements=["run_id", "channel_id"]
        )
        session.execute(stmt, list(chunk))


def upload_checks(
    session: Session,
    *,
    run_id: str,
    channel_ids: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
) -> list[RunVideoChannel]:
    query = select(RunVideoChannel).where(RunVideoChannel.run_id == run_id)
    if channel_ids is not None:
        query = query.where(col(RunVideoChannel.channel_id).in_(list(channel_ids)))
    if statuses is not None:
        query = query.where(col(RunVideoChannel.status).in_(list(statuses)))
    return list(session.exec(query.order_by(col(RunVideoChannel.channel_id))))


def count_open_checks(session: Session, *, run_id: str) -> int:
    stmt = sa.select(sa.func.count()).where(
        col(RunVideoChannel.run_id) == run_id, col(RunVideoChannel.status).in_(list(OPEN_TASK_STATUSES))
    )
    return int(session.execute(stmt).scalar_one())


def count_open_batches(session: Session, *, run_id: str) -> int:
    stmt = sa.select(sa.func.count()).where(
        col(RunVideoBatch.run_id) == run_id, col(RunVideoBatch.status).in_(list(OPEN_TASK_STATUSES))
    )
    return int(session.execute(stmt).scalar_one())


def settle_check(session: Session, *, run_id: str, channel_id: str, now: datetime, **values: Any) -> bool:
    """Guarded: a check moves only out of PENDING or WAITING_QUOTA."""
    stmt = (
        sa.update(RunVideoChannel)
        .where(
            col(RunVideoChannel.run_id) == run_id,
            col(RunVideoChannel.channel_id) == channel_id,
            col(RunVideoChannel.status).in_(list(OPEN_TASK_STATUSES)),
        )
        .values(updated_at=now, **values)
    )
    return _rowcount(session, stmt) == 1


def insert_batches(session: Session, *, run_id: str, video_ids: Sequence[str], now: datetime) -> int:
    """Cut ``video_ids`` (in the order given) into batches of 50; returns how many."""
    rows = [
        {
            "run_id": run_id,
            "batch_no": n,
            "video_ids": list(video_ids[start : start + IDS_PER_BATCH]),
            "status": VideoTaskStatus.PENDING,
            "removed": 0,
            "updated_at": now,
        }
        for n, start in enumerate(range(0, len(video_ids), IDS_PER_BATCH))
    ]
    for chunk in _chunks(rows, 1_000):
        stmt = _insert(session, _table(RunVideoBatch)).on_conflict_do_nothing(
            index_elements=["run_id", "batch_no"]
        )
        session.execute(stmt, list(chunk))
    return len(rows)


def batches(
    session: Session,
    *,
    run_id: str,
    batch_nos: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
) -> list[RunVideoBatch]:
    query = select(RunVideoBatch).where(RunVideoBatch.run_id == run_id)
    if batch_nos is not None:
        query = query.where(col(RunVideoBatch.batch_no).in_(list(batch_nos)))
    if statuses is not None:
        query = query.where(col(RunVideoBatch.status).in_(list(statuses)))
    return list(session.exec(query.order_by(col(RunVideoBatch.batch_no))))


def settle_batch(session: Session, *, run_id: str, batch_no: int, now: datetime, **values: Any) -> bool:
    stmt = (
        sa.update(RunVideoBatch)
        .where(
            col(RunVideoBatch.run_id) == run_id,
            col(RunVideoBatch.batch_no) == batch_no,
            col(RunVideoBatch.status).in_(list(OPEN_TASK_STATUSES)),
        )
        .values(updated_at=now, **values)
    )
    return _rowcount(session, stmt) == 1


def stuck_checks(
    session: Session, *, run_id: str, updated_before: datetime, now: datetime
) -> list[RunVideoChannel]:
    """Open checks nobody touched for long, and quota waits whose day has turned."""
    query = select(RunVideoChannel).where(
        RunVideoChannel.run_id == run_id,
        sa.or_(
            sa.and_(
                col(RunVideoChannel.status) == VideoTaskStatus.PENDING,
                col(RunVideoChannel.updated_at) < updated_before,
            ),
            sa.and_(
                col(RunVideoChannel.status) == VideoTaskStatus.WAITING_QUOTA,
                sa.or_(
                    col(RunVideoChannel.waiting_until).is_(None), col(RunVideoChannel.waiting_until) <= now
                ),
            ),
        ),
    )
    return list(session.exec(query))


def stuck_batches(
    session: Session, *, run_id: str, updated_before: datetime, now: datetime
) -> list[RunVideoBatch]:
    query = select(RunVideoBatch).where(
        RunVideoBatch.run_id == run_id,
        sa.or_(
            sa.and_(
                col(RunVideoBatch.status) == VideoTaskStatus.PENDING,
                col(RunVideoBatch.updated_at) < updated_before,
            ),
            sa.and_(
                col(RunVideoBatch.status) == VideoTaskStatus.WAITING_QUOTA,
                sa.or_(col(RunVideoBatch.waiting_until).is_(None), col(RunVideoBatch.waiting_until) <= now),
            ),
        ),
    )
    return list(session.exec(query))


def cancel_open_video_tasks(session: Session, *, run_id: str, now: datetime) -> None:
    for table in (RunVideoChannel, RunVideoBatch):
        session.execute(
            sa.update(table)
            .where(col(table.run_id) == run_id, col(table.status).in_(list(OPEN_TASK_STATUSES)))
            .values(status=VideoTaskStatus.CANCELLED, updated_at=now)
        )


def feed_fallback_totals(session: Session) -> dict[str, int]:
    """Upload checks that read the playlist because the feed was not enough, by reason, over stored runs."""
    rows = session.execute(
        sa.select(col(RunVideoChannel.feed_fallback), sa.func.count())
        .where(col(RunVideoChannel.feed_fallback).is_not(None))
        .group_by(col(RunVideoChannel.feed_fallback))
    ).all()
    return {str(reason): int(n) for reason, n in rows}


def video_task_counts(session: Session, *, run_id: str) -> dict[str, Any]:
    """The video part of a run in numbers, for its summary."""
    checks = dict(
        session.execute(
            sa.select(col(RunVideoChannel.status), sa.func.count())
            .where(col(RunVideoChannel.run_id) == run_id)
            .group_by(col(RunVideoChannel.status))
        ).all()
    )
    methods = dict(
        session.execute(
            sa.select(col(RunVideoChannel.method), sa.func.count())
            .where(col(RunVideoChannel.run_id) == run_id, col(RunVideoChannel.method).is_not(None))
            .group_by(col(RunVideoChannel.method))
        ).all()
    )
    fallbacks = dict(
        session.execute(
            sa.select(col(RunVideoChannel.feed_fallback), sa.func.count())
            .where(col(RunVideoChannel.run_id) == run_id, col(RunVideoChannel.feed_fallback).is_not(None))
            .group_by(col(RunVideoChannel.feed_fallback))
        ).all()
    )
    new_videos = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(RunVideoChannel.new_videos), 0)).where(
            col(RunVideoChannel.run_id) == run_id
        )
    ).scalar_one()
    batch_rows = session.execute(
        sa.select(
            col(RunVideoBatch.status),
            col(RunVideoBatch.method),
            sa.func.count(),
            sa.func.sum(RunVideoBatch.removed),
        )
        .where(col(RunVideoBatch.run_id) == run_id)
        .group_by(col(RunVideoBatch.status), col(RunVideoBatch.method))
    ).all()
    batch_status: dict[str, int] = {}
    batch_method: dict[str, int] = {}
    removed = 0
    for status, method, n, gone in batch_rows:
        batch_status[status] = batch_status.get(status, 0) + int(n)
        if method:
            batch_method[method] = batch_method.get(method, 0) + int(n)
        removed += int(gone or 0)
    snapshots = session.execute(
        sa.select(sa.func.count()).select_from(VideoSnapshot).where(col(VideoSnapshot.run_id) == run_id)
    ).scalar_one()
    return {
        "channels_checked": {k: int(v) for k, v in checks.items()},
        "discovery_methods": {k: int(v) for k, v in methods.items()},
        "feed_fallbacks": {k: int(v) for k, v in fallbacks.items()},
        "new_videos": int(new_videos or 0),
        "stats_batches": batch_status,
        "stats_methods": batch_method,
        "videos_read": int(snapshots),
        "videos_removed": removed,
    }


# --- videos ---------------------------------------------------------------------------------------


def known_video_ids(session: Session, *, video_ids: Iterable[str]) -> set[str]:
    ids = list(set(video_ids))
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(
            session.execute(sa.select(col(Video.id)).where(col(Video.id).in_(list(chunk)))).scalars()
        )
    return found


@dataclass(frozen=True, slots=True)
class Discovered:
    """A video an upload check found: its channel, publish time and (from the feed) its title."""

    video_id: str
    channel_id: str
    published_at: datetime | None
    title: str | None = None


def save_discovered(
    session: Session, *, videos: Sequence[Discovered], run_id: str | None, now: datetime
) -> None:
    """Insert new videos; one seen again only has ``last_seen_at`` moved (and a premiere's date kept fresh)."""
    if not videos:
        return
    rows = [
        {
            "id": v.video_id,
            "channel_id": v.channel_id,
            "title": v.title,
            "published_at": v.published_at,
            "added_at": now,
            "tracked": False,
            "first_seen_at": now,
            "last_seen_at": now,
            "last_run_id": run_id,
        }
        for v in sorted(videos, key=lambda v: v.video_id)
    ]
    stmt = _insert(session, _table(Video))
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"last_seen_at": stmt.excluded.last_seen_at, "last_run_id": stmt.excluded.last_run_id},
    )
    for chunk in _chunks(rows, 1_000):
        session.execute(stmt, list(chunk))


def mark_channels_checked(session: Session, *, counts: Mapping[str, int | None], now: datetime) -> None:
    """Remember each channel's last upload check and the videoCount it saw."""
    for channel_id, video_count in sorted(counts.items()):
        session.execute(
            sa.update(Channel)
            .where(col(Channel.id) == channel_id)
            .values(uploads_checked_at=now, uploads_checked_video_count=video_count)
        )


def videos_by_ids(session: Session, *, video_ids: Iterable[str]) -> dict[str, Video]:
    ids = list(set(video_ids))
    found: dict[str, Video] = {}
    for chunk in _chunks(ids):
        found.update({v.id: v for v in session.exec(select(Video).where(col(Video.id).in_(list(chunk))))})
    return found


def is_short(duration_seconds: int | None, shorts_max_seconds: int) -> bool | None:
    """A Short by duration (YouTube's limit is 180 s since October 2024); None when the duration is unknown."""
    if duration_seconds is None:
        return None
    return 0 < duration_seconds <= shorts_max_seconds


def save_details(
    session: Session, *, records: Iterable[VideoRecord], now: datetime, shorts_max_seconds: int
) -> None:
    """Title, publish time and duration from videos.list (once per video), and the Shorts decision by duration."""
    for r in sorted(records, key=lambda r: r.video_id):
        values: dict[str, Any] = {"details_at": now, "last_seen_at": now}
        if r.title is not None:
            values["title"] = r.title
        if r.published_at is not None:
            values["published_at"] = r.published_at
        if r.duration_seconds is not None:
            values["duration_seconds"] = r.duration_seconds
        session.execute(sa.update(Video).where(col(Video.id) == r.video_id).values(**values))
        if r.duration_seconds is not None:
            _decide_short_by_duration(session, r.video_id, r.duration_seconds, shorts_max_seconds)


def _decide_short_by_duration(session: Session, video_id: str, seconds: int, shorts_max_seconds: int) -> None:
    # The Shorts playlist, when it was asked, is better evidence than the duration: keep its answer.
    session.execute(
        sa.update(Video)
        .where(
            col(Video.id) == video_id,
            sa.or_(col(Video.short_method).is_(None), col(Video.short_method) == ShortMethod.DURATION),
        )
        .values(is_short=is_short(seconds, shorts_max_seconds), short_method=ShortMethod.DURATION)
    )


def mark_shorts_by_playlist(
    session: Session, *, channel_id: str, short_ids: set[str], video_ids: Sequence[str]
) -> None:
    """The channel's UUSH… playlist answered: videos in it are Shorts, the others are not."""
    for video_id in video_ids:
        session.execute(
            sa.update(Video)
            .where(col(Video.id) == video_id, col(Video.channel_id) == channel_id)
            .values(is_short=video_id in short_ids, short_method=ShortMethod.SHORTS_PLAYLIST)
        )


def save_stats(
    session: Session,
    *,
    records: Iterable[VideoRecord],
    run_id: str | None,
    now: datetime,
    shorts_max_seconds: int,
    fixed_age_tolerance: timedelta,
) -> int:
    """Latest counts on each video, one snapshot per (video, run), views at 24 h and 7 d when read near them."""
    recs = sorted(records, key=lambda r: r.video_id)
    if not recs:
        return 0
    known = videos_by_ids(session, video_ids=[r.video_id for r in recs])
    for r in recs:
        video = known.get(r.video_id)
        values: dict[str, Any] = {
            "view_count": r.view_count,
            "like_count": r.like_count,
            "comment_count": r.comment_count,
            "stats_at": now,
            "last_seen_at": now,
            "removed_at": None,
        }
        if run_id is not None:
            values["last_run_id"] = run_id
        if r.published_at is not None:
            values["published_at"] = r.published_at
        if r.duration_seconds is not None:
            values["duration_seconds"] = r.duration_seconds
        published = r.published_at or (video.published_at if video else None)
        if published is not None and r.view_count is not None:
            age = now - published
            if abs(age - timedelta(hours=24)) <= fixed_age_tolerance:
                values["views_24h"] = r.view_count
            if abs(age - timedelta(days=7)) <= fixed_age_tolerance:
                values["views_7d"] = r.view_count
        session.execute(sa.update(Video).where(col(Video.id) == r.video_id).values(**values))
        if r.duration_seconds is not None:
            _decide_short_by_duration(session, r.video_id, r.duration_seconds, shorts_max_seconds)
    snapshot_rows = [
        {
            "video_id": r.video_id,
            "run_id": run_id,
            "fetched_at": now,
            "view_count": r.view_count,
            "like_count": r.like_count,
            "comment_count": r.comment_count,
        }
        for r in recs
        if r.video_id in known
    ]
    if snapshot_rows:
        snap = _insert(session, _table(VideoSnapshot)).on_conflict_do_nothing(
            index_elements=["video_id", "run_id"]
        )
        session.execute(snap, snapshot_rows)
    return len(snapshot_rows)


def mark_removed(session: Session, *, video_ids: Iterable[str], now: datetime) -> int:
    """Videos missing from a statistics answer are gone (removed, private): marked, never failed."""
    ids = list(video_ids)
    if not ids:
        return 0
    stmt = (
        sa.update(Video).where(col(Video.id).in_(ids), col(Video.removed_at).is_(None)).values(removed_at=now)
    )
    return _rowcount(session, stmt)


# --- what is due --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often a video's statistics are read again, by its age (settings VIDEO_POLL_*)."""

    young: timedelta
    young_every: timedelta
    daily_until: timedelta
    weekly_until: timedelta

    def interval(self, age: timedelta, *, tracked: bool = False) -> timedelta | None:
        """Time between two reads at this age; None past the cap (a tracked video is read weekly forever)."""
        if age < self.young:
            return self.young_every
        if age < self.daily_until:
            return timedelta(days=1)
        if age < self.weekly_until or tracked:
            return timedelta(days=7)
        return None


# A pass runs on a schedule: a read due a little after the tick is taken now rather than a tick late.
_SLACK = 0.9


def _due_clause(policy: PollPolicy, now: datetime) -> Any:
    published = sa.func.coalesce(col(Video.published_at), col(Video.first_seen_at))
    stats_at = col(Video.stats_at)
    day, week = timedelta(days=1), timedelta(days=7)
    return sa.and_(
        col(Video.removed_at).is_(None),
        sa.or_(
            stats_at.is_(None),
            sa.and_(published > now - policy.young, stats_at < now - policy.young_every * _SLACK),
            sa.and_(published > now - policy.daily_until, stats_at < now - day * _SLACK),
            sa.and_(
                sa.or_(published > now - policy.weekly_until, col(Video.tracked).is_(True)),
                stats_at < now - week * _SLACK,
            ),
        ),
    )


def due_video_ids(
    session: Session,
    *,
    policy: PollPolicy,
    now: datetime,
    channel_ids: Sequence[str] | None = None,
    newest_per_channel: int | None = None,
    limit: int | None = None,
) -> list[str]:
    """Videos whose statistics are due, never-read ones first (they need titles too), oldest reads next.

    With ``channel_ids``, only those channels' videos, and of each only the ``newest_per_channel``
    newest (by publish time): what a run reports on.
    """
    published = sa.func.coalesce(col(Video.published_at), col(Video.first_seen_at))
    filters: list[Any] = []
    if channel_ids is not None:
        if not channel_ids:
            return []
        filters.append(col(Video.channel_id).in_(sa.bindparam("channel_ids", expanding=True)))
    if newest_per_channel is not None:
        rank = (
            sa.func.row_number().over(partition_by=Video.channel_id, order_by=published.desc()).label("rank")
        )
        ranked = (
            sa.select(col(Video.id).label("vid"), rank)  # type: ignore[attr-defined]
            .where(col(Video.removed_at).is_(None), *filters)
            .subquery()
        )
        filters.append(col(Video.id).in_(sa.select(ranked.c.vid).where(ranked.c.rank <= newest_per_channel)))
    never = sa.case((col(Video.stats_at).is_(None), 0), else_=1)
    stmt = (
        sa.select(col(Video.id))
        .where(_due_clause(policy, now), *filters)
        .order_by(never, col(Video.stats_at), col(Video.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    params = {"channel_ids": list(channel_ids)} if channel_ids is not None else {}
    return list(session.execute(stmt, params).scalars())


def ids_needing_details(session: Session, *, video_ids: Iterable[str]) -> list[str]:
    ids = list(video_ids)
    if not ids:
        return []
    # A title from the feed is as good as videos.list's: only videos with none need the call.
    stmt = (
        sa.select(col(Video.id))
        .where(col(Video.id).in_(ids), col(Video.title).is_(None))
        .order_by(col(Video.id))
    )
    return list(session.execute(stmt).scalars())
