"""The functions a Python backend (and the CLI, and the HTTP API) calls: start a cycle, read it, read
what a watchlist has found. Owner-scoped: another owner's watchlist or cycle is "not found".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from models import Channel, CycleTrigger, DiscoveryCycle, SearchStatus
from pipeline import store
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.record import prepare_cycle, record_cycle
from pipeline.discovery.scoring import SCORE_LABEL, score_channel
from pipeline.errors import CycleNotFound, WatchlistNotFound
from pipeline.runs import Sender
from pipeline.stages.requests import storable_id


def discover(
    owner_id: str,
    watchlist: str | None = None,
    keywords: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
    *,
    ctx: Context,
    send: Sender,
    cycle_id: str | None = None,
    trigger: CycleTrigger = CycleTrigger.MANUAL,
) -> str:
    """Start a discovery cycle for one of the owner's watchlists, or for ad-hoc ``keywords``; returns its id.

    Raises InvalidRequest (or WatchlistNotFound) before any write. ``options`` override the
    watchlist's settings for this cycle (``search_budget``, ``start_runs``, ``region_code``,
    ``relevance_language``, ``published_within_days``, ``include_channels``). A manual cycle (the
    default) may use the share of the day's searches kept for people; a backend's automatic cycles
    pass ``trigger=CycleTrigger.EVENT``. The same ``cycle_id`` twice starts one cycle.
    """
    request = prepare_cycle(
        ctx,
        cycle_id=cycle_id or str(uuid.uuid4()),
        owner_id=owner_id,
        trigger=CycleTrigger(trigger),
        watchlist=watchlist,
        keywords=list(keywords) if keywords is not None and not isinstance(keywords, str) else keywords,
        options=options,
    )
    send(record_cycle(ctx, request))
    return request.cycle_id


def _owned_cycle(cycle_id: str, owner_id: str | None, ctx: Context) -> DiscoveryCycle:
    with ctx.session() as session:
        # An id the database cannot hold (NUL, a surrogate) names nothing: "not found", not a DataError.
        cycle = dstore.get_cycle(session, cycle_id=cycle_id) if storable_id(cycle_id, 64) else None
    if cycle is None or (owner_id is not None and cycle.owner_id != owner_id):
        raise CycleNotFound(str(cycle_id))
    return cycle


def get_cycle_status(cycle_id: str, owner_id: str | None = None, *, ctx: Context) -> dict[str, Any]:
    """A cycle's state (and why it waits, when it does); its report, new channels first, once finished."""
    cycle = _owned_cycle(cycle_id, owner_id, ctx)
    with ctx.session() as session:
        searches = dstore.searches_of(session, cycle_id=cycle.id)
        entries = (cycle.summary or {}).get("channels") or []
        channels = store.channels_by_ids(session, channel_ids=[e["channel_id"] for e in entries])
    settled = sum(
        1 for s in searches if s.status in (SearchStatus.DONE, SearchStatus.SKIPPED, SearchStatus.FAILED)
    )
    answer: dict[str, Any] = {
        "cycle_id": cycle.id,
        "owner_id": cycle.owner_id,
        "watchlist_id": cycle.watchlist_id,
        "watchlist": cycle.watchlist_name,
        "trigger": cycle.trigger,
        "status": cycle.status,
        "keywords": list(cycle.keywords),
        "progress": round(settled / len(searches), 4) if searches else 1.0,
        "search_budget": cycle.search_budget,
        "search_calls": cycle.searches_used,
        "created_at": _iso(cycle.created_at),
        "started_at": _iso(cycle.started_at),
        "finished_at": _iso(cycle.finished_at),
        "waiting_quota_until": _iso(cycle.waiting_until),
        "waiting_reason": cycle.waiting_reason,
        "run_id": cycle.run_id,
        "error": cycle.error,
    }
    if cycle.summary is not None:
        summary = dict(cycle.summary)
        summary["channels"] = [_with_channel(e, channels.get(e["channel_id"])) for e in entries]
        answer["summary"] = summary
    return answer


def _with_channel(entry: dict[str, Any], channel: Channel | None) -> dict[str, Any]:
    """A report entry with the channel's current metadata (read now, so purged data is never shown)."""
    return {
        **entry,
        "title": channel.title if channel else None,
        "handle": channel.handle if channel else None,
        "subscribers": None
        if channel is None or channel.hidden_subscriber_count
        else channel.subscriber_count,
        "views": channel.view_count if channel else None,
        "videos": channel.video_count if channel else None,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# The columns of a discovery listing as CSV (the CLI's and the HTTP API's), in this order.
DISCOVERY_CSV_FIELDS = (
    "channel_id",
    "new",
    "title",
    "handle",
    "subscribers",
    "views",
    "videos",
    "keywords",
    "hits",
    "cycles",
    "first_seen_at",
    "last_seen_at",
    "score",
    "score_label",
)


def list_discoveries(
    owner_id: str, watchlist: str, *, new_only: bool = False, ctx: Context
) -> list[dict[str, Any]]:
    """What a watchlist has found, one row per channel: new since the last cycle first, then by score.

    ``new`` means the channel was first found by the watchlist's latest finished cycle.
    """
    with ctx.session() as session:
        found = (
            dstore.find_watchlist(session, owner_id=owner_id, ref=watchlist)
            if storable_id(watchlist, 200)
            else None
        )
        if found is None:
            raise WatchlistNotFound(str(watchlist))
        rows = dstore.discoveries_of(session, watchlist_id=found.id)
        latest = dstore.latest_finished_cycle(session, watchlist_id=found.id)
        channels = store.channels_by_ids(session, channel_ids={r.channel_id for r in rows})
        keyword_count = len(found.keywords)
    by_channel: dict[str, list[Any]] = {}
    for row in rows:
        by_channel.setdefault(row.channel_id, []).append(row)
    result = []
    for channel_id, group in by_channel.items():
        channel = channels.get(channel_id)
        first_cycle = min(group, key=lambda r: r.first_seen_at).first_cycle_id
        is_new = latest is not None and all(r.first_cycle_id == latest.id for r in group)
        cycles = max(r.cycles for r in group)
        hits = sum(r.hits for r in group)
        score = score_channel(
            keywords_hit=len(group),
            keywords_searched=max(keyword_count, len(group)),
            video_hits=round(hits / cycles) if cycles else 0,
            subscribers=None
            if channel is None or channel.hidden_subscriber_count
            else channel.subscriber_count,
            views=channel.view_count if channel else None,
            videos=channel.video_count if channel else None,
        )
        entry = {
            "channel_id": channel_id,
            "new": is_new,
            "keywords": sorted(r.keyword for r in group),
            "hits": hits,
            "cycles": cycles,
            "first_seen_at": min(r.first_seen_at for r in group).isoformat(),
            "last_seen_at": max(r.last_seen_at for r in group).isoformat(),
            "first_cycle_id": first_cycle,
            "score": score.total,
            "score_label": SCORE_LABEL,
        }
        result.append(_with_channel(entry, channel))
    result.sort(key=lambda e: (not e["new"], -e["score"], e["channel_id"]))
    return [e for e in result if e["new"]] if new_only else result
