"""The run summary computed once at finalize: what was found, what it cost, what needs a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from models import Run
from pipeline import store, videostore
from pipeline.videos import DERIVED_LABEL, channel_aggregates
from pipeline.youtube.quota import quota_units

TOP_CHANNELS = 100  # the summary ranks this many; `ytcollect results` lists every line
ATTENTION_LIMIT = 200


def _delta(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


# The per-channel figures the summary, run_finished and `ytcollect compare` share (top videos stay in compare).
VIDEO_FIGURES = (
    "uploads_7d",
    "uploads_30d",
    "uploads_90d",
    "last_upload_at",
    "days_since_last_upload",
    "median_views_recent",
    "median_views_recent_shorts",
    "mean_views_recent_long",
    "mean_views_recent_shorts",
    "shorts_share",
    "engagement_rate",
    "recent_videos",
)


def _video_figures(aggregate: dict[str, Any] | None) -> dict[str, Any]:
    if aggregate is None:
        return {}
    return {name: aggregate.get(name) for name in VIDEO_FIGURES} | {"derived": DERIVED_LABEL}


def build_summary(
    session: Session, run: Run, *, now: datetime, recent_default: int | None = None
) -> dict[str, Any]:
    counts = store.count_jobs_by_status(session, run_id=run.id)
    units = store.units_by_method(session, run_id=run.id)
    # Only the top channels are kept: ranked and loaded in SQL, never every channel of a big run.
    rows = store.top_run_channels(session, run_id=run.id, limit=TOP_CHANNELS)
    previous = store.previous_snapshots(
        session, channel_ids=[c.id for c, _ in rows], before_run=run.id, taken_before=run.created_at
    )
    recent = int((run.options or {}).get("recent_videos", 30 if recent_default is None else recent_default))
    wants_videos = recent > 0 and run.videos_dispatched_at is not None
    aggregates = (
        channel_aggregates(session, channel_ids=[c.id for c, _ in rows], now=now, recent=recent)
        if wants_videos
        else {}
    )
    channels: list[dict[str, Any]] = []
    for channel, lines in rows:
        base = previous.get(channel.id)
        views, videos = channel.view_count, channel.video_count
        channels.append(
            {
                "channel_id": channel.id,
                "title": channel.title,
                "handle": channel.handle,
                "subscribers": None if channel.hidden_subscriber_count else channel.subscriber_count,
                "subscribers_hidden": channel.hidden_subscriber_count,
                "views": views,
                "videos": videos,
                "views_per_video": round(views / videos, 1) if views is not None and videos else None,
                "input_lines": lines,
                "previous_snapshot_at": base.fetched_at.isoformat() if base else None,
                "subscriber_change": _delta(
                    channel.subscriber_count, base.subscriber_count if base else None
                ),
                "view_change": _delta(views, base.view_count if base else None),
                "video_change": _delta(videos, base.video_count if base else None),
                **_video_figures(aggregates.get(channel.id)),
            }
        )
    channels.sort(key=lambda c: (c["subscribers"] is None, -(c["subscribers"] or 0), c["channel_id"]))
    attention = [
        {
            "line": job.first_line_no,
            "input": text[:300],
            "kind": job.kind,
            "status": job.status,
            "error_code": job.error_code,
            "message": job.error_message,
        }
        for job, text in store.jobs_needing_attention(session, run_id=run.id, limit=ATTENTION_LIMIT)
    ]
    changes = [
        {
            "kind": c.kind,
            "value": c.value,
            "old_channel_id": c.old_channel_id,
            "new_channel_id": c.new_channel_id,
            "changed_at": c.changed_at.isoformat(),
        }
        for c in store.resolution_changes(session, run_id=run.id, limit=ATTENTION_LIMIT)
    ]
    started = run.started_at or run.created_at
    return {
        "total_inputs": run.total_inputs,
        "total_jobs": run.total_jobs,
        "counts_by_status": counts,
        "errors_by_code": store.errors_by_code(session, run_id=run.id),
        "quota_units": quota_units(units),
        "duration_seconds": round((now - started).total_seconds(), 3),
        "channels_total": store.count_run_channels(session, run_id=run.id),
        "channels": channels,
        "needs_attention": attention,
        "needs_attention_total": counts.get("FAILED", 0) + counts.get("NEEDS_SEARCH", 0),
        "resolution_changes": changes,
        "videos": (
            videostore.video_task_counts(session, run_id=run.id)
            if run.videos_dispatched_at is not None
            else None
        ),
    }
