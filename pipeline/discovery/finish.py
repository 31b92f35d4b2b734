"""Finishing a discovery cycle once: scores, stored discoveries, what is new, one ``discovery_finished``.

Finishing is a guarded transition (``UPDATE … WHERE status IN (open states)``) in the same
transaction as the discoveries it stores, so whatever number of deliveries race, one wins, the
discoveries are counted once, and only the winner publishes. When the winner dies between its
commit and its publish, reconcile publishes a minute later (consumers deduplicate on ``event_id``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models import Channel, CycleStatus, DiscoveryCycle, DiscoverySearch, RunKind, SearchStatus, Watchlist
from pipeline import store
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.scoring import SCORE_LABEL, score_channel
from pipeline.messages import Send
from pipeline.stages.requests import RunRequest, record_run

log = logging.getLogger(__name__)

SUMMARY_CHANNELS = 500  # channels listed in a cycle's summary (new ones first); the counts cover all


def aggregate(searches: Sequence[DiscoverySearch]) -> dict[str, dict[str, Any]]:
    """Channel → the keywords that found it, its videos found and whether it was found by name."""
    found: dict[str, dict[str, Any]] = {}
    for search in searches:
        if search.status != SearchStatus.DONE:
            continue
        for channel_id, hit in (search.hits or {}).items():
            entry = found.setdefault(channel_id, {"keywords": [], "video_hits": 0, "channel_hit": False})
            entry["keywords"].append(search.keyword)
            entry["video_hits"] += int(hit.get("videos", 0))
            entry["channel_hit"] = entry["channel_hit"] or bool(hit.get("channel"))
    return found


def rank(
    found: Mapping[str, Mapping[str, Any]],
    channels: Mapping[str, Channel],
    known: set[str],
    keywords_searched: int,
) -> list[dict[str, Any]]:
    """One entry per channel, scored; new channels first, then by score, then by id."""
    ranked = []
    for channel_id, hit in found.items():
        channel = channels.get(channel_id)
        score = score_channel(
            keywords_hit=len(hit["keywords"]),
            keywords_searched=keywords_searched,
            video_hits=hit["video_hits"],
            subscribers=None
            if channel is None or channel.hidden_subscriber_count
            else channel.subscriber_count,
            views=channel.view_count if channel else None,
            videos=channel.video_count if channel else None,
        )
        ranked.append(
            {
                "channel_id": channel_id,
                "new": channel_id not in known,
                "keywords": hit["keywords"],
                "video_hits": hit["video_hits"],
                "channel_hit": hit["channel_hit"],
                "score": score.total,
                "score_parts": score.parts(),
            }
        )
    ranked.sort(key=lambda e: (not e["new"], -e["score"], e["channel_id"]))
    return ranked


def build_summary(
    cycle: DiscoveryCycle,
    searches: Sequence[DiscoverySearch],
    ranked: list[dict[str, Any]],
    *,
    missing: int,
    units: Mapping[str, int],
    now: datetime,
) -> dict[str, Any]:
    new_ids = [e["channel_id"] for e in ranked if e["new"]]
    searched = [s for s in searches if s.status == SearchStatus.DONE]
    return {
        "keywords": [
            {
                "keyword": s.keyword,
                "status": s.status,
                "results": s.results,
                "channels": len(s.hits or {}),
                "error": s.error,
            }
            for s in searches
        ],
        "keywords_searched": len(searched),
        "keywords_skipped": sum(1 for s in searches if s.status == SearchStatus.SKIPPED),
        "keywords_failed": sum(1 for s in searches if s.status == SearchStatus.FAILED),
        "search_calls": cycle.searches_used,
        "search_budget": cycle.search_budget,
        "channels_total": len(ranked),
        "new_channels_total": len(new_ids),
        "new_channel_ids": new_ids,
        "channels_missing": missing,  # found by a search, then unknown to channels.list (terminated)
        "channels": ranked[:SUMMARY_CHANNELS],
        "score_label": SCORE_LABEL,
        "quota_units": {"by_method": dict(units)},
        "duration_seconds": round((now - cycle.started_at).total_seconds(), 3) if cycle.started_at else None,
    }


def finish_cycle(ctx: Context, cycle_id: str, *, fetched: set[str]) -> list[Send]:
    """Score and store what the cycle found and move it to FINISHED once; only the winner publishes.

    ``fetched``: the channels whose metadata is known (a channel channels.list does not know is left
    out: it was terminated or removed since the search indexed it).
    """
    now = ctx.now()
    with ctx.session() as session:
        cycle = dstore.get_cycle(session, cycle_id=cycle_id)
        if cycle is None or cycle.status != CycleStatus.RUNNING:
            return []
        # Locked, so two cycles of one watchlist finishing at once agree on what is new.
        watchlist = (
            dstore.get_watchlist(session, watchlist_id=cycle.watchlist_id, lock=True)
            if cycle.watchlist_id
            else None
        )
        deleted = cycle.watchlist_id is not None and watchlist is None
        won = False if deleted else _store_finish(session, cycle, watchlist, fetched, now)
    if deleted:
        return give_up(ctx, cycle_id, "the watchlist was deleted before the cycle finished")
    return after_finish(ctx, cycle_id) if won else []


def _store_finish(
    session: Session,
    cycle: DiscoveryCycle,
    watchlist: Watchlist | None,
    fetched: set[str],
    now: datetime,
) -> bool:
    """In the caller's transaction: the guarded FINISHED transition, then the discoveries it found."""
    cycle_id = cycle.id
    searches = dstore.searches_of(session, cycle_id=cycle_id)
    everything = aggregate(searches)
    found = {cid: hit for cid, hit in everything.items() if cid in fetched}
    channels = store.channels_by_ids(session, channel_ids=found)
    # New means: no earlier cycle of this watchlist found it (ad-hoc keywords: none of the owner's).
    baseline = (
        [watchlist.id]
        if watchlist
        else [w.id for w in dstore.owner_watchlists(session, owner_id=cycle.owner_id)]
    )
    known = dstore.known_channels(session, watchlist_ids=baseline, channel_ids=found)
    ranked = rank(found, channels, known, sum(1 for s in searches if s.status == SearchStatus.DONE))
    summary = build_summary(
        cycle,
        searches,
        ranked,
        missing=len(everything) - len(found),
        units=store.units_by_method(session, run_id=cycle_id),
        now=now,
    )
    start_runs = bool((cycle.options or {}).get("start_runs"))
    run_id = new_channels_run_id(cycle_id) if start_runs and summary["new_channel_ids"] else None
    if not dstore.finish_cycle(session, cycle_id=cycle_id, summary=summary, now=now, run_id=run_id):
        return False  # another delivery finished it
    if watchlist is not None:
        rows = [
            (search.keyword, channel_id, int(hit.get("videos", 0)) + (1 if hit.get("channel") else 0))
            for search in searches
            if search.status == SearchStatus.DONE
            for channel_id, hit in (search.hits or {}).items()
            if channel_id in found
        ]
        dstore.record_discoveries(session, watchlist_id=watchlist.id, cycle_id=cycle_id, rows=rows, now=now)
    log.info(
        "discovery cycle %s finished: %d channels, %d new",
        cycle_id,
        summary["channels_total"],
        summary["new_channels_total"],
    )
    return True


def give_up(ctx: Context, cycle_id: str, error: str) -> list[Send]:
    """Finish the cycle with an error and no discoveries (no key left, the watchlist gone, retries spent)."""
    now = ctx.now()
    summary = {"error": error, "channels_total": 0, "new_channels_total": 0, "new_channel_ids": []}
    with ctx.session() as session:
        won = dstore.finish_cycle(session, cycle_id=cycle_id, summary=summary, now=now, error=error)
    if not won:
        return []
    log.warning("discovery cycle %s finished with an error: %s", cycle_id, error)
    return after_finish(ctx, cycle_id)


def new_channels_run_id(cycle_id: str) -> str:
    """The run a cycle starts for its new channels: one id per cycle, so a resend starts it only once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:discovery_run:{cycle_id}"))


def after_finish(ctx: Context, cycle_id: str) -> list[Send]:
    """What follows a finished cycle: its run for new channels (recorded once), then its event."""
    with ctx.session() as session:
        cycle = dstore.get_cycle(session, cycle_id=cycle_id)
    if cycle is None:
        return []
    sends: list[Send] = []
    new_ids = (cycle.summary or {}).get("new_channel_ids") or []
    if cycle.run_id and new_ids:
        request = RunRequest(
            cycle.run_id,
            f"discovery:{cycle.watchlist_name or 'keywords'}"[:200],
            cycle.owner_id,
            list(new_ids),
            {},
        )
        # A system run: like every discovery call, it never dips into the interactive reserve.
        sends = record_run(ctx, request, kind=RunKind.SYSTEM)
    publish_cycle_finished(ctx, cycle_id)
    return sends


def publish_cycle_finished(ctx: Context, cycle_id: str) -> None:
    """Publish the cycle's ``discovery_finished`` event and record that it went out."""
    with ctx.session() as session:
        cycle = dstore.get_cycle(session, cycle_id=cycle_id)
    if cycle is None:
        return
    ctx.discovery_events.publish(finished_event(cycle))
    with ctx.session() as session:
        dstore.mark_cycle_event_sent(session, cycle_id=cycle_id, now=ctx.now())


def finished_event(cycle: DiscoveryCycle) -> dict[str, Any]:
    """The ``discovery_finished`` message body (documented in the README)."""
    summary = cycle.summary or {}
    return {
        "event": "discovery_finished",
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:discovery_finished:{cycle.id}")),
        "cycle_id": cycle.id,
        "owner_id": cycle.owner_id,
        "watchlist_id": cycle.watchlist_id,
        "watchlist": cycle.watchlist_name,
        "trigger": cycle.trigger,
        "status": cycle.status,
        "finished_at": cycle.finished_at.isoformat() if cycle.finished_at else None,
        "keywords_searched": summary.get("keywords_searched", 0),
        "keywords_skipped": summary.get("keywords_skipped", 0),
        "keywords_failed": summary.get("keywords_failed", 0),
        "search_calls": cycle.searches_used,
        "search_budget": cycle.search_budget,
        "channels_total": summary.get("channels_total", 0),
        "new_channels_total": summary.get("new_channels_total", 0),
        "new_channel_ids": summary.get("new_channel_ids", []),
        "run_id": cycle.run_id,
        "error": cycle.error,
    }
