"""``check_uploads``: each channel's newest uploads, incrementally, at one unit a channel or none.

Sent once every job of the run has ended (``advance``), ``UPLOADS_BATCH_SIZE`` channels a message.
Per channel, either

- **playlist**: one ``playlistItems.list`` page of the uploads playlist (``part=contentDetails``,
  ``maxResults`` = the run's ``recent_videos``, 1 unit), read newest first and **stopped at the first
  video already known**. The playlist is in upload order, not publish order: a premiere scheduled days
  ahead appears when uploaded, with ``videoPublishedAt`` in the future, and is known from then on.
  404 ``playlistNotFound`` is a channel with no public videos: ``NO_VIDEOS``, not an error; or
- **feed** (``VIDEO_DISCOVERY=feed``): the public feed, no key and no quota, trusted only when it
  accounts for the channel's uploads (its new entries cover the rise of ``videoCount`` since the last
  check); when it fails, is empty for a channel with videos, or falls short, the playlist is read
  instead and the reason is kept (``feed_fallback``, counted in the summary and the metrics).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from models import Channel, Run, RunStatus, VideoTaskStatus
from pipeline import store, videostore
from pipeline.context import Context
from pipeline.messages import Send
from pipeline.stages.advance import Progress, advance, recent_videos
from pipeline.stages.outcome import Wait, priority
from pipeline.videostore import Discovered
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.feed import FeedUnavailable
from pipeline.youtube.records import FeedEntry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ChannelCheck:
    """What one channel's check found, applied in the delivery's one transaction."""

    status: VideoTaskStatus
    method: str | None = None
    feed_fallback: str | None = None
    found: list[Discovered] = field(default_factory=list)
    shorts: set[str] | None = None  # ids listed in the UUSH… playlist, when it was asked
    error_code: str | None = None
    error_message: str | None = None
    waiting_until: datetime | None = None


def check_uploads(ctx: Context, run_id: str, channel_ids: Sequence[str]) -> list[Send]:
    """Check the message's open channels, commit what was found, and let the run advance."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        open_ids = [
            c.channel_id
            for c in videostore.upload_checks(
                session, run_id=run_id, channel_ids=channel_ids, statuses=[VideoTaskStatus.PENDING]
            )
        ]
        channels = store.channels_by_ids(session, channel_ids=open_ids)
    checks: dict[str, ChannelCheck] = {}
    try:
        _check_into(ctx, run, open_ids, channels, checks)
    finally:
        # What was settled before an error is kept (a transient one is re-raised for a retry).
        _apply(ctx, run, checks, channels)
    return advance(ctx, run_id, Progress(uploads_checked=True))


def _check_into(
    ctx: Context,
    run: Run,
    channel_ids: list[str],
    channels: dict[str, Channel],
    checks: dict[str, ChannelCheck],
) -> None:
    limit = recent_videos(ctx, run)
    pending = list(channel_ids)
    try:
        while pending:
            cid = pending[0]
            try:
                checks[cid] = _check_one(ctx, run, cid, channels.get(cid), limit)
            except PermanentYouTubeError as exc:
                checks[cid] = ChannelCheck(
                    VideoTaskStatus.FAILED, error_code=exc.error_code[:64], error_message=str(exc)[:1000]
                )
            pending.pop(0)
    except QuotaExhausted as exc:
        wait = Wait.of(exc)
        for cid in pending:
            checks[cid] = ChannelCheck(
                VideoTaskStatus.WAITING_QUOTA,
                waiting_until=wait.resets_at,
                error_code=wait.code,
                error_message=wait.message,
            )
    except NoApiKeys as exc:
        for cid in pending:
            checks[cid] = ChannelCheck(
                VideoTaskStatus.FAILED, error_code="no_api_keys", error_message=str(exc)
            )


def _check_one(ctx: Context, run: Run, channel_id: str, channel: Channel | None, limit: int) -> ChannelCheck:
    if channel is not None and channel.video_count == 0:
        # The metadata just fetched says no public videos: the playlist would only answer 404 for a unit.
        return ChannelCheck(VideoTaskStatus.NO_VIDEOS)
    fallback = None
    if ctx.settings.video_discovery == "feed":
        found, fallback = _from_feed(ctx, run, channel_id, channel, limit)
        if found is not None:
            return ChannelCheck(
                VideoTaskStatus.DONE if found or _has_videos(channel) else VideoTaskStatus.NO_VIDEOS,
                "feed",
                found=found,
            )
    check = _from_playlist(ctx, run, channel_id, channel, limit)
    check.feed_fallback = fallback
    if check.found and ctx.settings.shorts_playlist_check:
        shelf = ctx.youtube.uploads_page(
            "UUSH" + channel_id[2:], max_results=50, run_id=run.id, priority=priority(run)
        )
        check.shorts = {item.video_id for item in shelf or ()}
    return check


def _has_videos(channel: Channel | None) -> bool:
    return bool(channel and channel.video_count)


def _from_playlist(
    ctx: Context, run: Run, channel_id: str, channel: Channel | None, limit: int
) -> ChannelCheck:
    playlist = (channel.uploads_playlist_id if channel else None) or "UU" + channel_id[2:]
    items = ctx.youtube.uploads_page(playlist, max_results=limit, run_id=run.id, priority=priority(run))
    if items is None:
        return ChannelCheck(VideoTaskStatus.NO_VIDEOS, "playlist")
    with ctx.session() as session:
        known = videostore.known_video_ids(session, video_ids=[i.video_id for i in items])
    found = []
    for item in items[:limit]:
        if item.video_id in known:
            break  # newest first: everything after the first known video was seen by an earlier check
        found.append(Discovered(item.video_id, channel_id, item.published_at))
    return ChannelCheck(VideoTaskStatus.DONE, "playlist", found=found)


def _from_feed(
    ctx: Context, run: Run, channel_id: str, channel: Channel | None, limit: int
) -> tuple[list[Discovered] | None, str | None]:
    """The feed's new videos, or ``(None, reason)`` when the playlist must be read instead."""
    try:
        entries = ctx.feeds.entries(channel_id, run_id=run.id)
    except FeedUnavailable as exc:
        return None, exc.reason[:32]
    if not entries:
        return (None, "empty") if _has_videos(channel) else ([], None)
    with ctx.session() as session:
        known = videostore.known_video_ids(session, video_ids=[e.video_id for e in entries])
    new = []
    for entry in sorted(entries, key=_newest_first)[:limit]:
        if entry.video_id in known:
            # Everything older was seen by an earlier check, or lies past the recent_videos window
            # that check kept: taking it now would track old videos as new ones.
            break
        new.append(entry)
    if len(new) < expected_new(channel, limit):
        return None, "video_count"
    return [_discovered(e, channel_id) for e in new], None


def _newest_first(entry: FeedEntry) -> tuple[bool, float]:
    """Feeds list entries by publish time, newest first; sort anyway, undated entries last."""
    published = entry.published_at
    return (published is None, -published.timestamp() if published else 0.0)


def expected_new(channel: Channel | None, limit: int) -> int:
    """How many new uploads the channel's videoCount says there must be (at most ``limit``).

    At the first check every video counts as new; afterwards, the rise since the last check (a fall,
    from removals, asks for none). A feed with fewer new entries than this cannot be trusted.
    """
    count = (channel.video_count if channel else None) or 0
    before = channel.uploads_checked_video_count if channel else None
    rise = count if before is None else count - before
    return max(0, min(rise, limit))


def _discovered(entry: FeedEntry, channel_id: str) -> Discovered:
    return Discovered(entry.video_id, channel_id, entry.published_at, entry.title or None)


def _apply(ctx: Context, run: Run, checks: dict[str, ChannelCheck], channels: dict[str, Channel]) -> None:
    if not checks:
        return
    now = ctx.now()
    with ctx.session() as session:
        found = [v for c in checks.values() for v in c.found]
        videostore.save_discovered(session, videos=found, run_id=run.id, now=now)
        for cid, check in checks.items():
            if check.shorts:
                videostore.mark_shorts_by_playlist(
                    session,
                    channel_id=cid,
                    short_ids=check.shorts,
                    video_ids=[v.video_id for v in check.found],
                )
        checked = {
            cid: (channels[cid].video_count if cid in channels else None)
            for cid, c in checks.items()
            if c.status in (VideoTaskStatus.DONE, VideoTaskStatus.NO_VIDEOS)
        }
        videostore.mark_channels_checked(session, counts=checked, now=now)
        for cid, check in checks.items():
            videostore.settle_check(
                session,
                run_id=run.id,
                channel_id=cid,
                now=now,
                status=check.status,
                method=check.method,
                feed_fallback=check.feed_fallback,
                new_videos=len(check.found),
                error_code=check.error_code,
                error_message=check.error_message,
                waiting_until=check.waiting_until,
            )
        if any(c.waiting_until for c in checks.values()):
            store.set_run_waiting(
                session, run_id=run.id, until=max(c.waiting_until for c in checks.values() if c.waiting_until)
            )
