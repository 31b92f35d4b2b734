"""``fetch_video_stats``: one 50-id batch of a run's new and due videos, read in one call.

Batches are formed once every upload check of the run has ended (``advance``), across all its
channels, new videos first so they fill whole batches. Per batch:

- titles of videos that have none yet: ``videos.list`` ``part=snippet,contentDetails`` once (1 unit);
- statistics: ``videos:batchGetStats`` (1 unit in its own ``video_stats`` bucket) when
  ``VIDEO_STATS_BATCH_GET`` is on; when it answers 403/404 for a key, that key is remembered for the
  Pacific day and the batch falls back to ``videos.list`` ``part=snippet,statistics,contentDetails``,
  which brings the titles in the same unit;
- an id missing from the answer is a removed (or private) video: marked ``removed_at``, not failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from models import Run, RunStatus, VideoTaskStatus
from pipeline import store, videostore
from pipeline.context import Context
from pipeline.messages import Send
from pipeline.stages.advance import Progress, advance
from pipeline.stages.outcome import Wait, priority
from pipeline.youtube.errors import MethodUnavailable, NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.records import VideoRecord

log = logging.getLogger(__name__)

BATCH_GET = "videos.batchGetStats"
DETAIL_PARTS = "snippet,contentDetails"


def fetch_video_stats(ctx: Context, run_id: str, batch_nos: Sequence[int]) -> list[Send]:
    """Read the message's open batches, commit statistics and removals, and let the run advance."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        open_batches = videostore.batches(
            session, run_id=run_id, batch_nos=batch_nos, statuses=[VideoTaskStatus.PENDING]
        )
    for batch in open_batches:
        ids = [str(i) for i in batch.video_ids]
        try:
            method, details, stats = _read(ctx, run, ids)
        except QuotaExhausted as exc:
            wait = Wait.of(exc)  # the video_stats bucket, or default for videos.list
            _settle(
                ctx,
                run_id,
                batch.batch_no,
                status=VideoTaskStatus.WAITING_QUOTA,
                waiting_until=wait.resets_at,
                error_code=wait.code,
                error_message=wait.message,
            )
            with ctx.session() as session:
                store.set_run_waiting(session, run_id=run_id, until=exc.resets_at)
            continue
        except NoApiKeys as exc:
            _settle(
                ctx,
                run_id,
                batch.batch_no,
                status=VideoTaskStatus.FAILED,
                error_code="no_api_keys",
                error_message=str(exc),
            )
            continue
        except PermanentYouTubeError as exc:
            _settle(
                ctx,
                run_id,
                batch.batch_no,
                status=VideoTaskStatus.FAILED,
                error_code=exc.error_code[:64],
                error_message=str(exc)[:1000],
            )
            continue
        _save(ctx, run, batch.batch_no, ids, method, details, stats)
    return advance(ctx, run_id, Progress(stats_fetched=True))


def _read(
    ctx: Context, run: Run, ids: list[str]
) -> tuple[str, dict[str, VideoRecord], dict[str, VideoRecord]]:
    """``(method, details, statistics)`` for the batch, at the fewest units."""
    kw = {"run_id": run.id, "priority": priority(run)}
    with ctx.session() as session:
        untitled = videostore.ids_needing_details(session, video_ids=ids)
    if _batch_get_usable(ctx):
        details = ctx.youtube.videos_by_ids(untitled, parts=DETAIL_PARTS, **kw) if untitled else {}
        try:
            return BATCH_GET, details, ctx.youtube.video_stats(ids, **kw)
        except MethodUnavailable as exc:
            if exc.key_fingerprint:
                ctx.unavailable.remember(exc.key_fingerprint, BATCH_GET)
            log.warning(
                "videos:batchGetStats is not available to key %s (%s): videos.list until the Pacific day turns",
                exc.key_fingerprint,
                exc.reason,
            )
        stats = ctx.youtube.videos_by_ids(ids, parts="statistics,contentDetails", **kw)
        return "videos.list", details, stats
    # videos.list brings titles and statistics in one unit: one call for both.
    both = ctx.youtube.videos_by_ids(ids, **kw)
    return "videos.list", {k: v for k, v in both.items() if k in untitled}, both


def _batch_get_usable(ctx: Context) -> bool:
    if not ctx.settings.video_stats_batch_get:
        return False
    fingerprints = ctx.ledger.fingerprints
    return len(ctx.unavailable.unavailable(fingerprints, BATCH_GET)) < len(fingerprints)


def _save(
    ctx: Context,
    run: Run,
    batch_no: int,
    ids: list[str],
    method: str,
    details: dict[str, VideoRecord],
    stats: dict[str, VideoRecord],
) -> None:
    now = ctx.now()
    s = ctx.settings
    gone = [i for i in ids if i not in stats]
    with ctx.session() as session:
        videostore.save_details(
            session, records=details.values(), now=now, shorts_max_seconds=s.shorts_max_seconds
        )
        videostore.save_stats(
            session,
            records=[stats[i] for i in ids if i in stats],
            run_id=run.id,
            now=now,
            shorts_max_seconds=s.shorts_max_seconds,
            fixed_age_tolerance=timedelta(hours=s.video_fixed_age_tolerance_hours),
        )
        removed = videostore.mark_removed(session, video_ids=gone, now=now)
        videostore.settle_batch(
            session,
            run_id=run.id,
            batch_no=batch_no,
            now=now,
            status=VideoTaskStatus.DONE,
            method=method,
            removed=removed,
        )


def _settle(
    ctx: Context, run_id: str, batch_no: int, *, status: VideoTaskStatus, **values: str | datetime | None
) -> None:
    with ctx.session() as session:
        videostore.settle_batch(
            session, run_id=run_id, batch_no=batch_no, now=ctx.now(), status=status, **values
        )
