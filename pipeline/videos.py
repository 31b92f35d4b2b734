"""Recent-video performance: the seed's video operations and the per-channel aggregates.

The Python API (every function takes ``ctx=``; the HTTP API and the CLI call these):
``track_videos``, ``untrack_videos``, ``list_videos``, ``video_metrics`` (by interval, with growth),
``delete_videos``, ``channel_aggregates`` and ``compare_run`` (one row per channel of a run).

**Derived metrics.** Every aggregate here (uploads per window, medians, engagement, Shorts share,
views per day, rankings) is computed by ytcollect in SQL from the counts YouTube reported; under
YouTube's derived-metrics policy it is labelled as such (``DERIVED_LABEL``) wherever it is shown and
never presented as a YouTube figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import Channel, Video, VideoSnapshot
from pipeline import store, videostore
from pipeline.context import Context
from pipeline.errors import InvalidRequest, RunNotFound, YtCollectError
from pipeline.inputs import InputKind, parse_channel_input
from pipeline.store import _rowcount

DERIVED_LABEL = "computed by ytcollect"
INTERVALS = ("hour", "day", "week", "month")
UPLOAD_WINDOWS = (7, 30, 90)
TOP_VIDEOS = 3


class VideoNotFound(YtCollectError):
    """No such video is stored (or YouTube does not know it)."""


# --- per-channel aggregates (SQL) ---------------------------------------------------------------


def _median_by_group(values: Any, group: Sequence[Any]) -> Any:
    """A portable median per group (PostgreSQL and SQLite): the mean of the middle one or two rows."""
    rank = sa.func.row_number().over(partition_by=group, order_by=values.c.value).label("r")
    total = sa.func.count().over(partition_by=group).label("n")
    ranked = sa.select(*[values.c[g.name] for g in group], values.c.value, rank, total).subquery()
    middle = sa.or_(ranked.c.r == (ranked.c.n + 1) // 2, ranked.c.r == (ranked.c.n + 2) // 2)
    return (
        sa.select(*[ranked.c[g.name] for g in group], sa.func.avg(ranked.c.value).label("median"))
        .where(middle)
        .group_by(*[ranked.c[g.name] for g in group])
    )


def channel_aggregates(
    session: Session, *, channel_ids: Sequence[str], now: datetime, recent: int = 30
) -> dict[str, dict[str, Any]]:
    """Per channel: uploads in the last 7/30/90 days, days since the last upload, median and mean views of
    the last ``recent`` long videos and of the last ``recent`` Shorts, median engagement
    ((likes + comments) / views), the share of Shorts and the top videos by views and by views per day.

    Counted over the videos ytcollect knows (each upload check follows the ``recent`` newest), public
    (not removed) and published by ``now`` (a scheduled premiere is not an upload yet).
    """
    ids = sorted(set(channel_ids))
    out: dict[str, dict[str, Any]] = {cid: _empty_aggregate() for cid in ids}
    if not ids:
        return out
    recent = max(1, recent)
    published = col(Video.published_at)
    public = sa.and_(
        col(Video.channel_id).in_(sa.bindparam("ids", expanding=True)),
        col(Video.removed_at).is_(None),
        published.is_not(None),
        published <= now,
    )
    params = {"ids": ids}
    windows = [
        sa.func.sum(sa.case((published > now - timedelta(days=d), 1), else_=0)).label(f"uploads_{d}d")
        for d in UPLOAD_WINDOWS
    ]
    for row in session.execute(
        sa.select(col(Video.channel_id), sa.func.max(published).label("last"), *windows)
        .where(public)
        .group_by(col(Video.channel_id)),
        params,
    ):
        agg = out[row.channel_id]
        for d in UPLOAD_WINDOWS:
            agg[f"uploads_{d}d"] = int(getattr(row, f"uploads_{d}d") or 0)
        last = _aware(row.last)
        agg["last_upload_at"] = last.isoformat() if last else None
        agg["days_since_last_upload"] = round((now - last).total_seconds() / 86_400, 1) if last else None

    # The last `recent` videos of each kind (long, Short) and of all kinds, newest first.
    kind = sa.func.coalesce(col(Video.is_short), sa.false()).label("short")
    by_kind = sa.func.row_number().over(partition_by=(Video.channel_id, kind), order_by=published.desc())
    overall = sa.func.row_number().over(partition_by=Video.channel_id, order_by=published.desc())
    latest = (
        sa.select(
            col(Video.channel_id),
            kind,
            col(Video.view_count).label("views"),
            col(Video.like_count).label("likes"),
            col(Video.comment_count).label("comments"),
            by_kind.label("rank_kind"),
            overall.label("rank_all"),
        )
        .where(public, col(Video.view_count).is_not(None))
        .subquery()
    )
    per_kind = (
        sa.select(latest.c.channel_id, latest.c.short, latest.c.views.label("value"))
        .where(latest.c.rank_kind <= recent)
        .subquery()
    )
    medians = _median_by_group(per_kind, [per_kind.c.channel_id, per_kind.c.short])
    for row in session.execute(medians, params):
        key = "median_views_recent_shorts" if row.short else "median_views_recent"
        out[row.channel_id][key] = round(float(row.median), 1)
    means = sa.select(
        per_kind.c.channel_id, per_kind.c.short, sa.func.avg(per_kind.c.value), sa.func.count()
    ).group_by(per_kind.c.channel_id, per_kind.c.short)
    for cid, short, mean, n in session.execute(means, params):
        prefix = "shorts" if short else "long"
        out[cid][f"mean_views_recent_{'shorts' if short else 'long'}"] = round(float(mean), 1)
        out[cid][f"recent_{prefix}_videos"] = int(n)
    last_n = latest.c.rank_all <= recent
    share = (
        sa.select(
            latest.c.channel_id, sa.func.avg(sa.case((latest.c.short, 1.0), else_=0.0)), sa.func.count()
        )
        .where(last_n)
        .group_by(latest.c.channel_id)
    )
    for cid, ratio, n in session.execute(share, params):
        out[cid]["shorts_share"] = round(float(ratio), 4)
        out[cid]["recent_videos"] = int(n)
    engagement = (
        sa.select(
            latest.c.channel_id,
            (
                sa.cast(
                    sa.func.coalesce(latest.c.likes, 0) + sa.func.coalesce(latest.c.comments, 0), sa.Float
                )
                / latest.c.views
            ).label("value"),
        )
        .where(last_n, latest.c.views > 0)
        .subquery()
    )
    for row in session.execute(_median_by_group(engagement, [engagement.c.channel_id]), params):
        out[row.channel_id]["engagement_rate"] = round(float(row.median), 5)

    for cid, top in top_videos(session, channel_ids=ids, now=now, recent=recent).items():
        out[cid].update(top)
    return out


def _empty_aggregate() -> dict[str, Any]:
    return {
        **{f"uploads_{d}d": 0 for d in UPLOAD_WINDOWS},
        "last_upload_at": None,
        "days_since_last_upload": None,
        "recent_videos": 0,
        "recent_long_videos": 0,
        "recent_shorts_videos": 0,
        "median_views_recent": None,
        "median_views_recent_shorts": None,
        "mean_views_recent_long": None,
        "mean_views_recent_shorts": None,
        "engagement_rate": None,
        "shorts_share": None,
        "top_by_views": [],
        "top_by_views_per_day": [],
    }


def top_videos(
    session: Session, *, channel_ids: Sequence[str], now: datetime, recent: int, limit: int = TOP_VIDEOS
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each channel's top recent videos by views and by views per day since publication (a day at least)."""
    published = col(Video.published_at)
    overall = (
        sa.func.row_number().over(partition_by=Video.channel_id, order_by=published.desc()).label("rank_all")
    )
    base = (
        sa.select(
            col(Video.channel_id),
            col(Video.id),
            col(Video.title),
            col(Video.view_count).label("views"),
            published,
            overall,
        )
        .where(
            col(Video.channel_id).in_(sa.bindparam("ids", expanding=True)),
            col(Video.removed_at).is_(None),
            published.is_not(None),
            published <= now,
            col(Video.view_count).is_not(None),
        )
        .subquery()
    )
    rows = session.execute(sa.select(base).where(base.c.rank_all <= recent), {"ids": list(channel_ids)})
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        age_days = max(1.0, (now - _aware(row.published_at)).total_seconds() / 86_400)  # type: ignore[operator]
        by_channel.setdefault(row.channel_id, []).append(
            {
                "video_id": row.id,
                "title": row.title,
                "views": int(row.views),
                "views_per_day": round(row.views / age_days, 1),
            }
        )
    return {
        cid: {
            "top_by_views": sorted(videos, key=lambda v: (-v["views"], v["video_id"]))[:limit],
            "top_by_views_per_day": sorted(videos, key=lambda v: (-v["views_per_day"], v["video_id"]))[
                :limit
            ],
        }
        for cid, videos in by_channel.items()
    }


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the competitor table -------------------------------------------------------------------------

COMPARE_COLUMNS = (
    "channel_id",
    "title",
    "subscribers",
    "views",
    "videos",
    "uploads_30d",
    "last_upload_at",
    "median_views_recent",
    "median_views_recent_shorts",
    "shorts_share",
    "engagement_rate",
    "subscriber_change",
    "view_change",
    "video_change",
)


def compare_rows(session: Session, *, run_id: str, now: datetime, recent: int) -> list[dict[str, Any]]:
    """One row per channel of the run, side by side, biggest audience first."""
    rows = store.run_channel_rows(session, run_id=run_id)
    run = store.get_run(session, run_id=run_id)
    if run is None:
        raise RunNotFound(run_id)
    previous = store.previous_snapshots(
        session, channel_ids=[c.id for c, _ in rows], before_run=run_id, taken_before=run.created_at
    )
    aggregates = channel_aggregates(session, channel_ids=[c.id for c, _ in rows], now=now, recent=recent)
    table = []
    for channel, _lines in rows:
        base = previous.get(channel.id)
        agg = aggregates[channel.id]
        subs = None if channel.hidden_subscriber_count else channel.subscriber_count
        table.append(
            {
                "channel_id": channel.id,
                "title": channel.title,
                "handle": channel.handle,
                "subscribers": subs,
                "views": channel.view_count,
                "videos": channel.video_count,
                **{k: v for k, v in agg.items() if not k.startswith("top_")},
                "top_by_views": agg["top_by_views"],
                "top_by_views_per_day": agg["top_by_views_per_day"],
                "subscriber_change": _delta(
                    channel.subscriber_count, base.subscriber_count if base else None
                ),
                "view_change": _delta(channel.view_count, base.view_count if base else None),
                "video_change": _delta(channel.video_count, base.video_count if base else None),
                "previous_snapshot_at": base.fetched_at.isoformat() if base else None,
                "derived": DERIVED_LABEL,
            }
        )
    table.sort(key=lambda r: (r["subscribers"] is None, -(r["subscribers"] or 0), r["channel_id"]))
    return table


def _delta(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


def compare_run(run_id: str, owner_id: str | None = None, *, ctx: Context) -> list[dict[str, Any]]:
    """The competitor table of a run (Python API): see ``compare_rows``."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or (owner_id is not None and run.owner_id != owner_id):
            raise RunNotFound(run_id)
        recent = int((run.options or {}).get("recent_videos", ctx.settings.recent_videos))
        return compare_rows(session, run_id=run_id, now=ctx.now(), recent=recent)


# --- the seed's video operations -----------------------------------------------------------------


_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")


def video_id_of(text: str) -> str:
    """A video id from a bare 11-character id or any video URL form; InvalidRequest otherwise."""
    if _VIDEO_ID.fullmatch(text.strip()):
        return text.strip()
    parsed = parse_channel_input(text)
    if parsed.kind != InputKind.VIDEO:
        raise InvalidRequest(f"not a video URL or id: {text.strip()[:200]!r}")
    return parsed.value


@dataclass(frozen=True, slots=True)
class TrackResult:
    tracked: list[str]
    not_found: list[str]


def track_videos(refs: Sequence[str], *, ctx: Context) -> TrackResult:
    """Register videos to follow (polled past the age cap): one videos.list per 50 brings each one's
    channel, title and first statistics; unknown ids are reported, nothing else is lost."""
    ids = list(dict.fromkeys(video_id_of(r) for r in refs))
    now = ctx.now()
    found: dict[str, Any] = {}
    for start in range(0, len(ids), 50):
        found.update(ctx.youtube.videos_by_ids(ids[start : start + 50]))
    s = ctx.settings
    with ctx.session() as session:
        videostore.save_discovered(
            session,
            videos=[
                videostore.Discovered(r.video_id, r.channel_id or "", r.published_at, r.title)
                for r in found.values()
                if r.channel_id
            ],
            run_id=None,
            now=now,
        )
        videostore.save_details(
            session, records=found.values(), now=now, shorts_max_seconds=s.shorts_max_seconds
        )
        videostore.save_stats(
            session,
            records=found.values(),
            run_id=None,
            now=now,
            shorts_max_seconds=s.shorts_max_seconds,
            fixed_age_tolerance=timedelta(hours=s.video_fixed_age_tolerance_hours),
        )
        session.execute(
            sa.update(Video).where(col(Video.id).in_(list(found))).values(tracked=True, last_run_id=None)
        )
    return TrackResult([i for i in ids if i in found], [i for i in ids if i not in found])


def untrack_videos(refs: Sequence[str], *, ctx: Context) -> int:
    """Stop following videos by hand; they are then polled by age like any other. Returns how many."""
    ids = [video_id_of(r) for r in refs]
    with ctx.session() as session:
        return _rowcount(session, sa.update(Video).where(col(Video.id).in_(ids)).values(tracked=False))


def list_videos(channel_ref: str, *, ctx: Context, limit: int = 100) -> list[dict[str, Any]]:
    """A channel's known videos, newest first, with their latest counts (``channel_ref``: id, URL or @handle)."""
    channel_id = _channel_id_of(channel_ref, ctx)
    with ctx.session() as session:
        query = (
            select(Video)
            .where(Video.channel_id == channel_id)
            .order_by(sa.desc(sa.func.coalesce(col(Video.published_at), col(Video.first_seen_at))))
            .limit(limit)
        )
        return [video_row(v) for v in session.exec(query)]


def _channel_id_of(ref: str, ctx: Context) -> str:
    from pipeline.history import resolve_channel_refs

    with ctx.session() as session:
        found, errors = resolve_channel_refs(session, [ref])
    if errors or not found:
        raise InvalidRequest(str(errors[0]) if errors else f"unknown channel {ref!r}")
    return next(iter(found.values()))


def video_row(v: Video) -> dict[str, Any]:
    return {
        "video_id": v.id,
        "channel_id": v.channel_id,
        "title": v.title,
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "duration_seconds": v.duration_seconds,
        "is_short": v.is_short,
        "short_method": v.short_method,
        "views": v.view_count,
        "likes": v.like_count,
        "comments": v.comment_count,
        "stats_at": v.stats_at.isoformat() if v.stats_at else None,
        "views_24h": v.views_24h,
        "views_7d": v.views_7d,
        "tracked": v.tracked,
        "removed_at": v.removed_at.isoformat() if v.removed_at else None,
    }


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The start of the hour, day, ISO week (Monday) or month ``moment`` falls in (UTC)."""
    moment = moment.astimezone(UTC)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    raise InvalidRequest(f"--interval must be one of {', '.join(INTERVALS)}, not {interval!r}")


@dataclass(frozen=True, slots=True)
class MetricsPoint:
    bucket: str
    views: int | None
    likes: int | None
    comments: int | None
    snapshots: int


def aggregate_points(snapshots: Iterable[Any], interval: str) -> list[MetricsPoint]:
    """Max views, likes and comments per bucket (pure): counts only grow, so the max is the bucket's last read."""
    buckets: dict[datetime, list[Any]] = {}
    for snap in snapshots:
        buckets.setdefault(bucket_start(snap.fetched_at, interval), []).append(snap)
    points = []
    for start in sorted(buckets):
        group = buckets[start]
        points.append(
            MetricsPoint(
                bucket=start.isoformat(),
                views=_max(s.view_count for s in group),
                likes=_max(s.like_count for s in group),
                comments=_max(s.comment_count for s in group),
                snapshots=len(group),
            )
        )
    return points


def _max(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def growth(points: Sequence[MetricsPoint]) -> dict[str, dict[str, float | int | None]]:
    """Absolute and percent growth of each count between the first and the last point."""
    out: dict[str, dict[str, float | int | None]] = {}
    for name in ("views", "likes", "comments"):
        first = getattr(points[0], name) if points else None
        last = getattr(points[-1], name) if points else None
        absolute = None if first is None or last is None else last - first
        percent = None if absolute is None or not first else round(100.0 * absolute / first, 2)
        out[name] = {"first": first, "last": last, "absolute": absolute, "percent": percent}
    return out


def video_metrics(video_ref: str, *, ctx: Context, days: int = 30, interval: str = "day") -> dict[str, Any]:
    """A video's counts over the last ``days`` days, one point per interval, with growth (first → last)."""
    if interval not in INTERVALS:
        raise InvalidRequest(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    if not 1 <= days <= 3_650:
        raise InvalidRequest("days must be between 1 and 3650")
    video_id = video_id_of(video_ref)
    since = ctx.now() - timedelta(days=days)
    with ctx.session() as session:
        video = session.get(Video, video_id)
        if video is None:
            raise VideoNotFound(f"video {video_id} is not stored: track it first (ytcollect videos track)")
        snaps = list(
            session.exec(
                select(VideoSnapshot)
                .where(VideoSnapshot.video_id == video_id, col(VideoSnapshot.fetched_at) >= since)
                .order_by(col(VideoSnapshot.fetched_at))
            )
        )
    points = aggregate_points(snaps, interval)
    return {
        "video": video_row(video),
        "interval": interval,
        "days": days,
        "points": [asdict(p) for p in points],
        "growth": growth(points),
        "derived": DERIVED_LABEL,
    }


def delete_videos(refs: Sequence[str], *, ctx: Context, keep_snapshots: bool = False) -> dict[str, int]:
    """Delete stored videos, with their snapshots unless ``keep_snapshots``."""
    ids = [video_id_of(r) for r in refs]
    with ctx.session() as session:
        snaps = 0
        if not keep_snapshots:
            snaps = _rowcount(session, sa.delete(VideoSnapshot).where(col(VideoSnapshot.video_id).in_(ids)))
        videos = _rowcount(session, sa.delete(Video).where(col(Video.id).in_(ids)))
    return {"videos": videos, "snapshots": snaps}


# --- retention ------------------------------------------------------------------------------------


def purge_video_data(
    session: Session, *, stale_before: datetime, snapshots_before: datetime
) -> dict[str, int]:
    """YouTube's 30-day rule for video data: videos not read since ``stale_before`` go, with their
    snapshots; videos of channels that are gone go too; old snapshots past the retention go."""
    stale = sa.select(col(Video.id)).where(
        sa.or_(
            sa.func.coalesce(col(Video.stats_at), col(Video.last_seen_at)) < stale_before,
            sa.and_(col(Video.tracked).is_(False), col(Video.channel_id).not_in(sa.select(col(Channel.id)))),
        )
    )
    snaps = _rowcount(session, sa.delete(VideoSnapshot).where(col(VideoSnapshot.video_id).in_(stale)))
    snaps += _rowcount(
        session, sa.delete(VideoSnapshot).where(col(VideoSnapshot.fetched_at) < snapshots_before)
    )
    videos = _rowcount(
        session,
        sa.delete(Video).where(
            sa.or_(
                sa.func.coalesce(col(Video.stats_at), col(Video.last_seen_at)) < stale_before,
                sa.and_(
                    col(Video.tracked).is_(False), col(Video.channel_id).not_in(sa.select(col(Channel.id)))
                ),
            )
        ),
    )
    return {"videos": videos, "video_snapshots": snaps}


# --- the competitor chart -------------------------------------------------------------------------

PLOT_METRICS = (
    "median_views_recent",
    "median_views_recent_shorts",
    "uploads_30d",
    "engagement_rate",
    "shorts_share",
    "subscribers",
    "views",
)


def plot_compare(
    rows: Sequence[dict[str, Any]],
    path: str | Any,
    *,
    metric: str = "median_views_recent",
    top: int = 25,
    force: bool = False,
    title: str | None = None,
) -> Any:
    """A horizontal bar chart of the ``top`` channels by ``metric`` into a PNG; returns the path.

    Readable from 2 to 200 channels: only the top N are drawn (the title says how many were left
    out), the figure grows with N, labels are cut to fit, the axis is logarithmic when the values are
    100x apart, and titles in scripts no installed font covers are transliterated (the history
    chart's helpers: ``pipeline.fonts``, ``open_chart_file``, which never overwrites without ``force``).
    """
    from pathlib import Path

    from pipeline.fonts import chart_fonts, printable
    from pipeline.history import (
        LOG_SCALE_RANGE,
        HistoryError,
        _compact,
        _shorten,
        check_chart_path,
        open_chart_file,
    )

    if metric not in PLOT_METRICS:
        raise HistoryError(f"unknown metric {metric!r}; use one of {', '.join(PLOT_METRICS)}")
    check_chart_path(path, force=force)
    valued = [r for r in rows if isinstance(r.get(metric), int | float)]
    if not valued:
        raise HistoryError(f"no channel of the run has a {metric} to plot")
    chosen = sorted(valued, key=lambda r: (-r[metric], r["channel_id"]))[: max(1, top)]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fonts = chart_fonts()
    labels = [
        _shorten(printable((r.get("title") or r["channel_id"]).strip() or r["channel_id"], fonts), 32)
        for r in chosen
    ]
    values = [float(r[metric]) for r in chosen]
    fig = Figure(figsize=(10, max(2.5, 0.3 * len(chosen) + 1.6)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(chosen)))[::-1]  # the largest on top
    ax.barh(positions, values, color="#3b6ea8")
    ax.set_yticks(positions, labels, fontsize=9 if len(chosen) <= 40 else 7)
    positive = [v for v in values if v > 0]
    log_scale = len(positive) == len(values) and max(values) / min(values) >= LOG_SCALE_RANGE
    if log_scale:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _compact(v)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
    heading = (
        printable(title, fonts)
        if title
        else f"{metric.replace('_', ' ')}: top {len(chosen)} of {len(valued)} channels"
    )
    if len(valued) > len(chosen) and not title:
        heading += f" ({len(valued) - len(chosen)} not shown)"
    ax.set_title(heading)
    ax.set_xlabel(metric + (" (log scale)" if log_scale else "") + f" — {DERIVED_LABEL}")
    ax.grid(True, axis="x", alpha=0.3)
    for text in (*ax.get_yticklabels(), ax.title, ax.xaxis.label):
        text.set_fontfamily(fonts)
    with open_chart_file(path, force=force) as out:
        try:
            fig.savefig(out, format="png")
        except OSError as exc:
            raise HistoryError(f"cannot write the chart to {path}: {exc.strerror or exc}") from exc
    return Path(path)
