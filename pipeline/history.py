"""Channel history and growth, run growth, operator statistics and the growth chart.

Keyword-only functions taking a session, like ``pipeline.store``; the queries that store does not
have live here so this module owns them. No CLI code and no API calls.

YouTube rounds ``subscriberCount`` *down* to three significant figures (youtube-api.md), so a
reported count ``r`` stands for any true count in ``[r, r + step - 1]`` where ``step`` is
``10**(digits - 3)`` (1 below 1,000). Two equal reports therefore mean "changed by less than a
step", never "no growth", and every subscriber change carries the range the true change lies in.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import TERMINAL_STATUSES, Channel, ChannelSnapshot, JobStatus, Resolution
from pipeline import store
from pipeline.errors import RunNotFound, YtCollectError
from pipeline.inputs import InputKind, parse_channel_input

METRICS = ("subscribers", "views", "videos")
_CHUNK = 1_000  # channel ids per IN (...) list
_SECONDS_PER_DAY = 86_400.0
MIN_RATE_DAYS = 1.0
"""Per-day rates only over at least a day: two snapshots 58 s apart once read as "+47.2M views/day"."""
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class HistoryError(YtCollectError):
    """A history request that cannot be answered (nothing to plot, an unwritable chart path...)."""


# --- the rounding of subscriber counts (pure) ---------------------------------------------------


def subscriber_step(count: int) -> int:
    """The rounding step of a reported subscriber count: ``10**(digits - 3)`` from 1,000 up, else 1."""
    if count < 1_000:
        return 1
    return 10 ** (len(str(count)) - 3)


def subscriber_change_bounds(previous: int, current: int) -> tuple[int, int]:
    """The (min, max) true change between two reported (rounded-down) subscriber counts."""
    diff = current - previous
    return diff - (subscriber_step(previous) - 1), diff + (subscriber_step(current) - 1)


def describe_subscriber_change(previous: int, current: int) -> str:
    """Human wording of a subscriber change: exact, approximate (≈) or below the rounding step."""
    diff = current - previous
    step = max(subscriber_step(previous), subscriber_step(current))
    if diff == 0:
        return "0" if step == 1 else f"≤ {step:,} (below rounding step)"
    return f"{diff:+,}" if step == 1 else f"≈ {diff:+,}"


# --- parsing and display helpers (pure) ----------------------------------------------------------


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` day; ValueError with a readable message otherwise."""
    if not _DATE_RE.fullmatch(text.strip()):
        raise ValueError(f"expected a date as YYYY-MM-DD, not {text!r}")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None


def short_number(value: float | None, *, signed: bool = False) -> str:
    """``1,234``, ``12.3k``, ``1.25M``, ``4.56B`` (``+`` in front of a positive change when ``signed``).

    Lossless for subscriber counts, which YouTube already rounds to 3 significant figures.
    """
    if value is None:
        return "–"
    sign = "+" if signed and value > 0 else ""
    size = abs(value)
    if size < 10_000:
        return sign + (f"{value:,.0f}" if size >= 100 or float(value).is_integer() else f"{value:,.1f}")
    rounded = float(f"{value:.3g}")  # round first, so 999,999 becomes 1.00M rather than 1000k
    limit, suffix = next(
        (lim, suf) for lim, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if abs(rounded) >= lim
    )
    scaled = rounded / limit
    decimals = max(0, 2 - math.floor(math.log10(abs(scaled))))
    return f"{sign}{scaled:.{decimals}f}{suffix}"


# --- history points -------------------------------------------------------------------------------


class SnapshotLike(Protocol):
    channel_id: str
    run_id: str | None
    fetched_at: datetime
    subscriber_count: int | None
    hidden_subscriber_count: bool
    view_count: int | None
    video_count: int | None


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One snapshot of a channel, with its changes since the previous one (None for the first).

    ``subscribers`` is None when the channel hides its count (``hidden``); every subscriber delta is
    then None too. ``subscriber_change`` is the difference of the two *reported* counts; the true
    change lies in ``subscriber_change_bounds``. ``subscribers_per_day`` is None when the change is
    below the rounding step, because 0/day would read as "no growth"; the bounds per day still say
    how much it can have been.
    """

    channel_id: str
    fetched_at: datetime
    run_id: str | None
    subscribers: int | None
    views: int | None
    videos: int | None
    hidden: bool
    subscriber_resolution: int | None
    previous_fetched_at: datetime | None = None
    days_since_previous: float | None = None
    subscriber_change: int | None = None
    subscriber_change_bounds: tuple[int, int] | None = None
    subscribers_per_day: float | None = None
    subscribers_per_day_bounds: tuple[float, float] | None = None
    subscriber_below_step: bool = False
    subscriber_growth: str | None = None
    view_change: int | None = None
    views_per_day: float | None = None
    video_change: int | None = None
    videos_per_day: float | None = None

    def metric(self, name: str) -> int | None:
        """The value of ``subscribers``, ``views`` or ``videos``."""
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; use one of {', '.join(METRICS)}")
        value: int | None = getattr(self, name)
        return value

    def as_row(self) -> dict[str, Any]:
        """A flat dict for CSV and JSON (bounds split into min/max columns, times in ISO 8601)."""
        lo, hi = self.subscriber_change_bounds or (None, None)
        lo_day, hi_day = self.subscribers_per_day_bounds or (None, None)
        return {
            "channel_id": self.channel_id,
            "fetched_at": self.fetched_at.isoformat(),
            "run_id": self.run_id,
            "subscribers": self.subscribers,
            "subscribers_hidden": self.hidden,
            "subscriber_resolution": self.subscriber_resolution,
            "views": self.views,
            "videos": self.videos,
            "previous_fetched_at": self.previous_fetched_at.isoformat() if self.previous_fetched_at else None,
            "days_since_previous": _round(self.days_since_previous, 4),
            "subscriber_change": self.subscriber_change,
            "subscriber_change_min": lo,
            "subscriber_change_max": hi,
            "subscriber_below_step": self.subscriber_below_step,
            "subscriber_growth": self.subscriber_growth,
            "subscribers_per_day": _round(self.subscribers_per_day, 3),
            "subscribers_per_day_min": _round(lo_day, 3),
            "subscribers_per_day_max": _round(hi_day, 3),
            "view_change": self.view_change,
            "views_per_day": _round(self.views_per_day, 3),
            "video_change": self.video_change,
            "videos_per_day": _round(self.videos_per_day, 3),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _visible_subscribers(snap: SnapshotLike) -> int | None:
    return None if snap.hidden_subscriber_count else snap.subscriber_count


def _diff(current: int | None, previous: int | None) -> int | None:
    return None if current is None or previous is None else current - previous


def _per_day(change: int | float | None, days: float | None) -> float | None:
    return None if change is None or not days else change / days


def make_point(current: SnapshotLike, previous: SnapshotLike | None = None) -> HistoryPoint:
    """The history point of ``current``, with daily deltas against ``previous`` when there is one."""
    subscribers = _visible_subscribers(current)
    base = HistoryPoint(
        channel_id=current.channel_id,
        fetched_at=current.fetched_at,
        run_id=current.run_id,
        subscribers=subscribers,
        views=current.view_count,
        videos=current.video_count,
        hidden=bool(current.hidden_subscriber_count),
        subscriber_resolution=None if subscribers is None else subscriber_step(subscribers),
    )
    if previous is None:
        return base
    seconds = (current.fetched_at - previous.fetched_at).total_seconds()
    days = seconds / _SECONDS_PER_DAY if seconds > 0 else None
    # A rate over less than a day extrapolates noise (and at the same instant it has no meaning).
    rate_days = days if days is not None and days >= MIN_RATE_DAYS else None
    view_change = _diff(current.view_count, previous.view_count)
    video_change = _diff(current.video_count, previous.video_count)
    fields: dict[str, Any] = {
        "previous_fetched_at": previous.fetched_at,
        "days_since_previous": days,
        "view_change": view_change,
        "views_per_day": _per_day(view_change, rate_days),
        "video_change": video_change,
        "videos_per_day": _per_day(video_change, rate_days),
    }
    before = _visible_subscribers(previous)
    if subscribers is not None and before is not None:
        change = subscribers - before
        lo, hi = subscriber_change_bounds(before, subscribers)
        below = change == 0 and subscriber_step(subscribers) > 1
        fields.update(
            subscriber_change=change,
            subscriber_change_bounds=(lo, hi),
            subscriber_below_step=below,
            subscriber_growth=describe_subscriber_change(before, subscribers),
            subscribers_per_day=None if below else _per_day(change, rate_days),
            subscribers_per_day_bounds=None if not rate_days else (lo / rate_days, hi / rate_days),
        )
    return replace(base, **fields)


def build_points(
    snapshots: Sequence[SnapshotLike], *, baseline: SnapshotLike | None = None
) -> list[HistoryPoint]:
    """One channel's snapshots (oldest first) as points; ``baseline`` is the snapshot before the window."""
    points: list[HistoryPoint] = []
    previous = baseline
    for snap in snapshots:
        points.append(make_point(snap, previous))
        previous = snap
    return points


# --- queries -------------------------------------------------------------------------------------


def _as_utc_datetime(since: date | datetime | None) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware (UTC)")
        return since.astimezone(UTC)
    return datetime.combine(since, time.min, tzinfo=UTC)


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _latest_before(
    session: Session, *, channel_ids: Sequence[str], before: datetime
) -> dict[str, ChannelSnapshot]:
    """Each channel's latest snapshot strictly before ``before``: the baseline of a ``since`` window."""
    found: dict[str, ChannelSnapshot] = {}
    for chunk in _chunks(channel_ids):
        ranked = (
            sa.select(
                ChannelSnapshot,
                sa.func.row_number()
                .over(
                    partition_by=ChannelSnapshot.channel_id,
                    order_by=(col(ChannelSnapshot.fetched_at).desc(), col(ChannelSnapshot.id).desc()),
                )
                .label("rank"),
            )
            .where(col(ChannelSnapshot.channel_id).in_(chunk), col(ChannelSnapshot.fetched_at) < before)
            .subquery()
        )
        latest = aliased(ChannelSnapshot, ranked)
        for snap in session.exec(select(latest).where(ranked.c.rank == 1)):
            found[snap.channel_id] = snap
    return found


def _snapshots_by_channel(
    session: Session, *, channel_ids: Sequence[str], since: datetime | None
) -> dict[str, list[ChannelSnapshot]]:
    by_channel: dict[str, list[ChannelSnapshot]] = {cid: [] for cid in channel_ids}
    for chunk in _chunks(channel_ids):
        for snap in store.snapshots_of(session, channel_ids=chunk, since=since):
            by_channel[snap.channel_id].append(snap)
    for snaps in by_channel.values():
        snaps.sort(key=lambda s: (s.fetched_at, s.id or 0))
    return by_channel


def channel_history(
    session: Session, *, channel_ids: Sequence[str], since: date | datetime | None = None
) -> dict[str, list[HistoryPoint]]:
    """Each channel's snapshots (oldest first) with daily deltas, keyed in the order given.

    With ``since``, only snapshots from then on are listed, but the first one still gets its deltas
    against the last snapshot before the window.
    """
    ids = list(dict.fromkeys(channel_ids))
    start = _as_utc_datetime(since)
    snapshots = _snapshots_by_channel(session, channel_ids=ids, since=start)
    baselines = _latest_before(session, channel_ids=ids, before=start) if start is not None else {}
    return {cid: build_points(snapshots[cid], baseline=baselines.get(cid)) for cid in ids}


# --- channel references --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefError:
    """A channel reference that names no stored channel, and why."""

    ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.reason}"


def _known_channel_ids(session: Session, channel_ids: Iterable[str]) -> set[str]:
    ids = list(dict.fromkeys(channel_ids))
    known: set[str] = set()
    for chunk in _chunks(ids):
        known.update(session.execute(sa.select(col(Channel.id)).where(col(Channel.id).in_(chunk))).scalars())
        missing = [cid for cid in chunk if cid not in known]
        if missing:  # snapshots can outlive a channel row in principle; they are still its history
            known.update(
                session.execute(
                    sa.select(col(ChannelSnapshot.channel_id))
                    .where(col(ChannelSnapshot.channel_id).in_(missing))
                    .distinct()
                ).scalars()
            )
    return known


def _channel_by_handle(session: Session, handle: str) -> str | None:
    """The channel whose stored handle is ``@handle``; the most recently fetched one if a handle moved."""
    stmt = (
        # customUrl holds "@handle" today; older channels may still carry it without the "@".
        sa.select(col(Channel.id))
        .where(col(Channel.handle).in_([f"@{handle}", handle]))
        .order_by(col(Channel.fetched_at).desc())
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def _resolved(session: Session, kind: str, value: str) -> str | None:
    found = session.exec(
        select(Resolution).where(Resolution.dedupe_key == store.dedupe_key(kind, value))
    ).first()
    return found.channel_id if found else None


def resolve_channel_refs(session: Session, refs: Sequence[str]) -> tuple[dict[str, str], list[RefError]]:
    """Map each reference (channel id, @handle, handle URL or any input already resolved) to a channel id.

    Only what the database knows is used, never the API: a handle is looked up in the stored channels,
    anything else in the resolution cache. Every reference that names no stored channel gets its own
    error; the others are still mapped.
    """
    found: dict[str, str] = {}
    errors: list[RefError] = []
    for ref in dict.fromkeys(refs):
        parsed = parse_channel_input(ref)
        if not parsed.is_valid:
            errors.append(RefError(ref, f"not a channel reference ({parsed.reason})"))
            continue
        channel_id: str | None
        if parsed.kind is InputKind.CHANNEL_ID:
            channel_id = parsed.value
        elif parsed.kind is InputKind.HANDLE:
            channel_id = _channel_by_handle(session, parsed.value) or _resolved(
                session, parsed.kind, parsed.value
            )
        else:
            channel_id = _resolved(session, parsed.kind, parsed.value)
        if channel_id is None:
            what = (
                "handle @" + parsed.value
                if parsed.kind is InputKind.HANDLE
                else f"{parsed.kind} {parsed.value}"
            )
            errors.append(
                RefError(
                    ref,
                    f"unknown channel: no stored channel or resolution for {what} "
                    "(run it through `ytcollect run` first)",
                )
            )
            continue
        found[ref] = channel_id
    known = _known_channel_ids(session, found.values())
    for ref, channel_id in list(found.items()):
        if channel_id not in known:
            del found[ref]
            errors.append(RefError(ref, f"unknown channel: nothing is stored for {channel_id}"))
    return found, errors


def channel_label(channel: Channel | None, channel_id: str) -> str:
    """How a chart or table names a channel: its title, else its handle, else its id."""
    if channel is not None:
        return channel.title or channel.handle or channel_id
    return channel_id


# --- runs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelGrowth:
    """One channel of a run and its growth since the snapshot before the run's.

    ``point`` is the run's own snapshot with its deltas against the previous one; when the run made
    no snapshot (the channel was still fresh) it is the latest snapshot taken by the run's end.
    """

    channel_id: str
    title: str
    handle: str | None
    input_lines: list[int]
    point: HistoryPoint | None


def _run_or_raise(session: Session, run_id: str) -> Any:
    run = store.get_run(session, run_id=run_id)
    if run is None:
        raise RunNotFound(run_id)
    return run


def run_growth(session: Session, *, run_id: str) -> list[ChannelGrowth]:
    """The channels a run found (input order), each with its growth since its previous snapshot."""
    run = _run_or_raise(session, run_id)
    rows = store.run_channel_rows(session, run_id=run_id)
    ids = [channel.id for channel, _ in rows]
    own: dict[str, ChannelSnapshot] = {}
    for chunk in _chunks(ids):
        query = select(ChannelSnapshot).where(
            ChannelSnapshot.run_id == run_id, col(ChannelSnapshot.channel_id).in_(chunk)
        )
        own.update({s.channel_id: s for s in session.exec(query)})
    previous = store.previous_snapshots(session, channel_ids=ids, before_run=run_id)

    points: dict[str, HistoryPoint | None] = {}
    odd: list[str] = []
    for cid in ids:
        current, base = own.get(cid), previous.get(cid)
        # The usual case: this run made the channel's latest snapshot, so "the latest by another run"
        # is the one before it. An older run, or one that made no snapshot, needs the full history.
        if current is not None and (base is None or base.fetched_at < current.fetched_at):
            points[cid] = make_point(current, base)
        else:
            odd.append(cid)
    if odd:
        end = run.finished_at
        history = _snapshots_by_channel(session, channel_ids=odd, since=None)
        for cid in odd:
            snaps = history[cid]
            current = own.get(cid)
            if current is None:
                upto = [s for s in snaps if end is None or s.fetched_at <= end] or snaps
                current = upto[-1] if upto else None
            if current is None:
                points[cid] = None
                continue
            before = [s for s in snaps if s.fetched_at < current.fetched_at and s.id != current.id]
            points[cid] = make_point(current, before[-1] if before else None)
    return [
        ChannelGrowth(
            channel_id=channel.id,
            title=channel.title,
            handle=channel.handle,
            input_lines=lines,
            point=points.get(channel.id),
        )
        for channel, lines in rows
    ]


def run_channel_ids(session: Session, *, run_id: str) -> list[str]:
    """The distinct channels a run's DONE jobs landed on, in input order."""
    _run_or_raise(session, run_id)
    return [channel.id for channel, _ in store.run_channel_rows(session, run_id=run_id)]


# --- operator statistics -------------------------------------------------------------------------


def stats(session: Session, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """Runs and jobs by status, job success rate, mean run time and quota units per UTC day."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or datetime.now(UTC)
    runs, jobs = store.status_totals(session)
    terminal = sum(n for status, n in jobs.items() if status in TERMINAL_STATUSES)
    done = jobs.get(JobStatus.DONE, 0)
    since = datetime.combine(now.astimezone(UTC).date() - timedelta(days=days - 1), time.min, tzinfo=UTC)
    if session.get_bind().dialect.name == "postgresql":
        # units_by_day groups by date(at), which follows the session's time zone: pin it to UTC.
        session.execute(sa.text("SET LOCAL TIME ZONE 'UTC'"))
    by_day = store.units_by_day(session, since=since)
    mean = store.mean_run_seconds(session)
    return {
        "runs_by_status": dict(sorted(runs.items())),
        "runs_total": sum(runs.values()),
        "jobs_by_status": dict(sorted(jobs.items())),
        "jobs_total": sum(jobs.values()),
        "terminal_jobs": terminal,
        "done_jobs": done,
        "success_rate": done / terminal if terminal else None,
        "mean_run_seconds": None if mean is None else round(mean, 3),
        "days": days,
        "since": since.isoformat(),
        "quota_units_by_day": [{"day": day, "units": units} for day, units in by_day],
        "quota_units_total": sum(units for _, units in by_day),
    }


# --- the chart -----------------------------------------------------------------------------------

DEFAULT_TOP = 10
MAX_TOP = 20  # beyond this, colours repeat and the legend outgrows the chart
LOG_SCALE_RANGE = 100  # positive values this many times apart: a log axis, or the small ones lie flat


def check_chart_path(path: str | Path, *, force: bool = False) -> Path:
    """Refuse, before any work, a chart path that :func:`open_chart_file` would refuse; returns it."""
    target = Path(path)
    shown = short_path(target)
    if target.suffix.lower() != ".png":
        raise HistoryError(f"a chart is a PNG: give a file name ending in .png (not {shown})")
    try:
        if target.is_symlink():
            raise HistoryError(f"{shown} is a symbolic link: give the real path (charts never follow links)")
        if target.is_dir():
            raise HistoryError(f"cannot write the chart to {shown}: it is a folder")
        if not target.parent.is_dir():
            raise HistoryError(
                f"cannot write the chart to {shown}: the folder {short_path(target.parent)} does not exist"
            )
        if target.exists() and not force:
            raise HistoryError(f"{shown} exists: --force overwrites it, or give another name")
        os.stat(target.parent)  # a name too long for the file system fails here or at the open
    except OSError as exc:
        raise HistoryError(f"cannot write the chart to {shown}: {exc.strerror or exc}") from None
    return target


def open_chart_file(path: str | Path, *, force: bool = False) -> Any:
    """Open ``path`` for a new PNG: never through a symbolic link, never over a file unless ``force``.

    ``O_NOFOLLOW`` and ``O_EXCL`` make the checks hold at the moment of opening, not only before it.
    Every refusal is a HistoryError whose message is one line (a 300-character name included).
    """
    target = check_chart_path(path, force=force)
    shown = short_path(target)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_TRUNC if force else os.O_EXCL)
    try:
        return os.fdopen(os.open(target, flags, 0o644), "wb")
    except FileExistsError:
        raise HistoryError(f"{shown} exists: --force overwrites it, or give another name") from None
    except OSError as exc:
        raise HistoryError(f"cannot write the chart to {shown}: {exc.strerror or exc}") from None


def short_path(path: Path) -> str:
    """A path for a one-line message: a 300-character name is shown by its ends."""
    text = str(path)
    return text if len(text) <= 120 else text[:60] + "…" + text[-40:]


def top_series(series: Mapping[str, Sequence[tuple[datetime, float]]], top: int) -> tuple[list[str], int]:
    """The ``top`` channels by their latest value (largest first) and how many had data at all."""
    latest = {cid: pts[-1][1] for cid, pts in series.items() if pts}
    ranked = sorted(latest, key=lambda cid: (-latest[cid], cid))
    return ranked[: max(1, min(top, MAX_TOP))], len(ranked)


def plot_history(
    histories: Mapping[str, Sequence[HistoryPoint]],
    path: str | Path,
    *,
    metric: str = "subscribers",
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    top: int = DEFAULT_TOP,
    force: bool = False,
) -> Path:
    """Draw ``metric`` over time for the ``top`` channels into a PNG at ``path``; returns the path.

    For subscribers, a light band shows the rounding: the true count lies between the reported one and
    the next step. Raises HistoryError when there is nothing to draw or the file cannot be written.
    """
    if metric not in METRICS:
        raise HistoryError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    series = {
        cid: [(p.fetched_at, float(value)) for p in points if (value := p.metric(metric)) is not None]
        for cid, points in histories.items()
    }
    if not any(series.values()):
        raise HistoryError(f"no {metric} data to plot (no snapshots, or every count hidden)")
    return plot_series(
        series,
        path,
        metric=metric,
        title=title or f"{metric} over time",
        labels=labels,
        top=top,
        force=force,
        band=subscriber_step if metric == "subscribers" else None,
        notes=["rounded down to 3 significant figures"] if metric == "subscribers" else [],
    )


def plot_series(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    path: str | Path,
    *,
    metric: str,
    title: str,
    labels: Mapping[str, str] | None = None,
    top: int = DEFAULT_TOP,
    force: bool = False,
    band: Any = None,
    notes: Sequence[str] = (),
) -> Path:
    """One line per series over time, readable for 2 channels or 2,000 (the history and comparison charts).

    Only the ``top`` series by their latest value are drawn, each in its own colour, with a legend
    outside the axes in rank order; a log axis when the values span 100× or more; labels in a font
    that has their glyphs, or transliterated to Latin when no installed font has them. Uses the Agg
    canvas directly (no pyplot, no display).
    """
    chosen, available = top_series(series, top)
    if not chosen:
        raise HistoryError(f"no {metric} data to plot")
    with open_chart_file(path, force=force) as out:
        figure = _draw(
            series, chosen, available, metric=metric, title=title, labels=labels or {}, band=band, notes=notes
        )
        try:
            figure.savefig(out, format="png")
        except OSError as exc:
            raise HistoryError(
                f"cannot write the chart to {short_path(Path(path))}: {exc.strerror or exc}"
            ) from exc
    return Path(path)


def _draw(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    chosen: list[str],
    available: int,
    *,
    metric: str,
    title: str,
    labels: Mapping[str, str],
    band: Any,
    notes: Sequence[str],
) -> Any:
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from pipeline.fonts import chart_fonts, printable

    fonts = chart_fonts()
    fig = Figure(figsize=(11, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = [v for cid in chosen for _, v in series[cid]]
    positive = [v for v in values if v > 0]
    log_scale = bool(positive) and max(positive) / min(positive) >= LOG_SCALE_RANGE
    palette = colormaps["tab10" if len(chosen) <= 10 else "tab20"]
    for rank, cid in enumerate(chosen):
        pts = [(t, v) for t, v in series[cid] if v > 0 or not log_scale]  # log axes have no 0
        if not pts:
            continue
        xs = date2num([t for t, _ in pts])
        ys = [v for _, v in pts]
        name = printable(labels.get(cid, cid), fonts)
        label = f"{_shorten(name, 32)}  {short_number(ys[-1])}"
        colour = palette(rank % palette.N)
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, label=label, color=colour)
        if band is not None:
            upper = [v + band(int(v)) - 1 for v in ys]
            ax.fill_between(xs, ys, upper, color=colour, alpha=0.15, linewidth=0)
    if log_scale:  # channels 100x apart: on a linear axis the small ones are a flat line at 0
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _compact(v)))
    else:  # as many decimals as the tick spacing needs, so 1.230M and 1.232M do not both read 1.23M
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _compact(v, spacing=_tick_spacing(ax))))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
    ax.xaxis_date()  # x values are date2num floats: give the axis date semantics (and a date tick locator)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    times = {t for cid in chosen for t, _ in series[cid]}
    if len(times) == 1:  # one instant: a day either side instead of the locator's years
        (only,) = date2num(sorted(times))
        ax.set_xlim(only - 1, only + 1)
    said = [*notes, "log scale"] if log_scale else list(notes)
    ax.set_ylabel(metric + (f" ({', '.join(said)})" if said else ""))
    shown = (
        f"top {len(chosen)} of {available:,} channels by latest {metric}" if available > len(chosen) else ""
    )
    ax.set_title(printable(title, fonts) + (f"\n{shown}" if shown else ""))
    ax.grid(True, alpha=0.3)
    # Outside the axes, in rank order: a legend inside covered a third of the chart at 25 channels.
    legend = ax.legend(
        fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False
    )
    for text in (*legend.get_texts(), ax.title, ax.yaxis.label):
        text.set_fontfamily(fonts)
    return fig


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tick_spacing(ax: Any) -> float | None:
    locs = sorted(ax.yaxis.get_majorticklocs())
    gaps = [b - a for a, b in itertools.pairwise(locs) if b > a]
    return min(gaps) if gaps else None


def _compact(value: float, *, spacing: float | None = None) -> str:
    """An axis label: ``950``, ``12k``, ``1.25M``; with ``spacing``, enough decimals to tell ticks apart."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")):
        if abs(value) >= limit or limit == 1.0:
            if spacing is None:
                text = f"{value / limit:.3g}"
            else:
                decimals = max(0, math.ceil(-math.log10(spacing / limit) - 1e-9)) if spacing < limit else 0
                text = f"{value / limit:.{decimals}f}"
            return text + suffix
    raise AssertionError("unreachable")  # pragma: no cover
