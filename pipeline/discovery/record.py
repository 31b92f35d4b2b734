"""Record a discovery cycle once (idempotent on its id), or reject it with a reason the sender hears.

A cycle fixes, when it is recorded, everything its searches depend on (the keywords, region,
language, window, budget), so editing the watchlist later never changes a cycle in flight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from models import CycleStatus, CycleTrigger, DiscoveryCycle, Watchlist
from pipeline import messages
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.finish import publish_cycle_finished
from pipeline.discovery.requests import CYCLE_OPTIONS, clean_keywords, clean_settings
from pipeline.errors import InvalidRequest, WatchlistNotFound
from pipeline.messages import Send
from pipeline.stages.requests import storable_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CycleRequest:
    """A checked request for one cycle, ready to record."""

    cycle_id: str
    owner_id: str
    trigger: CycleTrigger
    keywords: list[str]
    search_budget: int
    options: dict[str, Any] = field(default_factory=dict)  # as stored on the cycle
    watchlist_id: str | None = None
    watchlist_name: str | None = None


def prepare_cycle(
    ctx: Context,
    *,
    cycle_id: Any,
    owner_id: Any,
    trigger: CycleTrigger,
    watchlist: Any = None,
    keywords: Any = None,
    options: Any = None,
    session: Session | None = None,
    keyword_subset: list[str] | None = None,
) -> CycleRequest:
    """Check a discover request: a watchlist of this owner *or* ad-hoc keywords, and bounded options.

    Raises InvalidRequest (or WatchlistNotFound, for another owner's watchlist too) before any write.
    """
    if not storable_id(cycle_id, 64):
        raise InvalidRequest("cycle_id must be a string of 1 to 64 printable characters (a UUID)")
    if not storable_id(owner_id, 200):
        raise InvalidRequest("owner_id must be a string of 1 to 200 characters, without NUL")
    if (watchlist is None) == (keywords is None):
        raise InvalidRequest("give either a watchlist or keywords, not both and not neither")
    given = clean_settings({} if options is None else options, CYCLE_OPTIONS)
    if keywords is not None:
        words = clean_keywords(keywords)
        settings: dict[str, Any] = {"include_channels": True, "start_runs": False}
        return _request(ctx, cycle_id, owner_id, trigger, words, {**settings, **given}, None)
    if not isinstance(watchlist, str) or not storable_id(watchlist, 200):
        raise InvalidRequest("watchlist must be the name or id of one of the owner's watchlists")
    if session is None:
        with ctx.session() as own:
            found = dstore.find_watchlist(own, owner_id=owner_id, ref=watchlist)
    else:
        found = dstore.find_watchlist(session, owner_id=owner_id, ref=watchlist)
    if found is None:
        raise WatchlistNotFound(watchlist)
    settings = {name: getattr(found, name) for name in CYCLE_OPTIONS}
    words = keyword_subset if keyword_subset is not None else list(found.keywords)
    return _request(ctx, cycle_id, owner_id, trigger, words, {**settings, **given}, found)


def _request(
    ctx: Context,
    cycle_id: str,
    owner_id: str,
    trigger: CycleTrigger,
    keywords: list[str],
    settings: dict[str, Any],
    watchlist: Watchlist | None,
) -> CycleRequest:
    budget = settings.pop("search_budget", None) or ctx.settings.discovery_searches_per_cycle
    days = settings.pop("published_within_days", None)
    options = {k: v for k, v in settings.items() if v is not None}
    if days:
        # Fixed now, so every search of the cycle (and every redelivery) asks for the same window.
        options["published_after"] = (ctx.now() - timedelta(days=days)).isoformat()
        options["published_within_days"] = days
    return CycleRequest(
        cycle_id=cycle_id,
        owner_id=owner_id,
        trigger=trigger,
        keywords=keywords,
        search_budget=budget,
        options=options,
        watchlist_id=watchlist.id if watchlist else None,
        watchlist_name=watchlist.name if watchlist else None,
    )


def new_cycle(request: CycleRequest, now: datetime) -> DiscoveryCycle:
    return DiscoveryCycle(
        id=request.cycle_id,
        owner_id=request.owner_id,
        watchlist_id=request.watchlist_id,
        watchlist_name=request.watchlist_name,
        trigger=request.trigger,
        keywords=request.keywords,
        options=request.options,
        search_budget=request.search_budget,
        created_at=now,
        updated_at=now,
    )


def record_cycle(ctx: Context, request: CycleRequest) -> list[Send]:
    """Record the cycle once and ask for it to run; a resend of an open cycle asks again (harmless)."""
    now = ctx.now()
    with ctx.session() as session:
        created = dstore.insert_cycle(session, cycle=new_cycle(request, now), keywords=request.keywords)
        existing = None if created else dstore.get_cycle(session, cycle_id=request.cycle_id)
    if existing is not None:
        if existing.owner_id != request.owner_id:
            log.warning("discover %s resent by another owner; left alone", request.cycle_id)
            return []
        if existing.status == CycleStatus.FINISHED:
            return []
    return [messages.discover_cycle(request.cycle_id)]


def reject_cycle(ctx: Context, *, cycle_id: str, owner_id: Any, error: str) -> bool:
    """A discover request that cannot be accepted still finishes a cycle, once, with the reason, so the
    sender hears of it; an existing cycle of that id is never touched. True when it was recorded."""
    now = ctx.now()
    owner = owner_id if isinstance(owner_id, str) and storable_id(owner_id, 200) else "-"
    cycle = DiscoveryCycle(
        id=cycle_id,
        owner_id=owner,
        trigger=CycleTrigger.EVENT,
        status=CycleStatus.FINISHED,
        error=error[:2000],
        summary={"error": error[:2000], "channels_total": 0, "new_channels_total": 0},
        created_at=now,
        updated_at=now,
        finished_at=now,
    )
    with ctx.session() as session:
        created = dstore.insert_cycle(session, cycle=cycle, keywords=[])
    if not created:
        log.warning("discover %s rejected (%s); an existing cycle of that id is left alone", cycle_id, error)
        return False
    publish_cycle_finished(ctx, cycle_id)
    return True
