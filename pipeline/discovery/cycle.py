"""``discover_cycle``: search a cycle's keywords within its budgets, fetch the channels found, finish it.

Every step commits before the next and every step is guarded, so a redelivery (or reconcile's resend)
carries on where a dead worker stopped:

1. **Search** each keyword not yet searched. Before a request is sent it is claimed, in one
   transaction, against the keyword's row (a racing delivery loses), the cycle's own budget (spent:
   the rest are skipped) and the day's discovery budget shared by every watchlist (spent: the cycle
   parks until Pacific midnight). A claim whose request never reached the API is given back.
2. When no key can pay for a search (the search bucket is spent), the cycle **parks** in
   ``WAITING_QUOTA`` until the quota day turns and says so; reconcile sends it again after the reset.
3. **Metadata** for the channels found, in shared 50-id ``channels.list`` batches of the default
   bucket (system priority: discovery never touches the interactive reserve), none for channels
   fetched within the freshness window or already by this cycle.
4. **Finish** once (``finish.finish_cycle``): score, store the discoveries, report what is new.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from models import (
    FINAL_SEARCH_STATUSES,
    CycleStatus,
    CycleTrigger,
    DiscoveryCycle,
    DiscoverySearch,
    SearchStatus,
)
from pipeline import store
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.finish import finish_cycle, give_up
from pipeline.discovery.search import channel_hits, search_keyword
from pipeline.messages import Send
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.quota import PACIFIC, next_pacific_midnight, pacific_day

log = logging.getLogger(__name__)

IDS_PER_CALL = 50  # channels.list?id= takes at most 50 ids
# One delivery works a cycle at a time: it holds the lease and renews it after every step (a search is
# one request within HTTP_TIMEOUT_SECONDS; a metadata batch the client's few bounded retries), so a
# duplicate message (a resend, a redelivery after a dropped connection) finds it held and stops.
# A delivery that died leaves it to expire; reconcile resends the cycle once nobody has moved it.
LEASE = timedelta(minutes=2)


class _Parked(Exception):
    """The cycle cannot go on before ``until``; raised to stop the stage, caught by it."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


def run_cycle(ctx: Context, cycle_id: str) -> list[Send]:
    """Carry the cycle as far as it can go now; returns the messages to send (a run for new channels)."""
    with ctx.session() as session:
        if not dstore.start_cycle(session, cycle_id=cycle_id, now=ctx.now(), lease=LEASE):
            # Finished, unknown, parked and not due yet (reconcile resends it then), or another
            # delivery is working on it.
            return []
        cycle = dstore.get_cycle(session, cycle_id=cycle_id)
        searches = dstore.searches_of(session, cycle_id=cycle_id)
    assert cycle is not None
    try:
        if not _search_all(ctx, cycle, searches):
            return []  # another delivery holds a keyword: it finishes the cycle
        fetched = _fetch_metadata(ctx, cycle)
    except _Parked as parked:
        with ctx.session() as session:
            dstore.park_cycle(
                session, cycle_id=cycle.id, until=parked.until, reason=parked.reason, now=ctx.now()
            )
        log.warning(
            "discovery cycle %s parked until %s: %s", cycle.id, parked.until.isoformat(), parked.reason
        )
        return []
    except NoApiKeys as exc:
        return give_up(ctx, cycle.id, f"no usable YouTube API key: {exc}")
    return finish_cycle(ctx, cycle.id, fetched=fetched)


# --- searching ------------------------------------------------------------------------------------


def daily_limit(ctx: Context, cycle: DiscoveryCycle) -> int:
    """The day's discovery searches this cycle may reach: manual cycles may use the manual share."""
    daily = ctx.settings.discovery_daily_searches
    if cycle.trigger == CycleTrigger.MANUAL:
        return daily
    return max(0, daily - ctx.settings.discovery_manual_reserve)


def _search_all(ctx: Context, cycle: DiscoveryCycle, searches: list[DiscoverySearch]) -> bool:
    """Search every keyword not yet settled; False when another delivery holds one, or the cycle ended."""
    complete = True
    for search in searches:
        if search.status in FINAL_SEARCH_STATUSES:
            continue
        claim = _claim(ctx, cycle, search)
        if claim == "settled":
            continue
        if claim == "stopped":
            return False
        if claim == "busy":
            complete = False
            continue
        _search_one(ctx, cycle, search)
    return complete


def _claim(ctx: Context, cycle: DiscoveryCycle, search: DiscoverySearch) -> str:
    """What became of the claim: "ok" (claimed: send it), "settled" (skipped or done meanwhile),
    "busy" (another delivery has it) or "stopped" (the cycle ended meanwhile)."""
    now = ctx.now()
    day = pacific_day(now).isoformat()
    with ctx.session() as session:
        if not dstore.claim_search(
            session, cycle_id=cycle.id, position=search.position, attempts=search.attempts
        ):
            rows = {s.position: s for s in dstore.searches_of(session, cycle_id=cycle.id)}
            return "settled" if rows[search.position].status in FINAL_SEARCH_STATUSES else "busy"
        if not dstore.take_cycle_search(session, cycle_id=cycle.id):
            current = dstore.get_cycle(session, cycle_id=cycle.id)
            if current is None or current.status != CycleStatus.RUNNING:
                session.rollback()  # finished meanwhile (its watchlist deleted): search nothing more
                return "stopped"
            dstore.settle_search(
                session,
                cycle_id=cycle.id,
                position=search.position,
                status=SearchStatus.SKIPPED,
                now=now,
                error=f"the cycle's search budget of {cycle.search_budget} is spent",
            )
            return "settled"
        limit = daily_limit(ctx, cycle)
        if not dstore.take_daily_search(session, day=day, limit=limit):
            session.rollback()  # the keyword's claim goes back with it: nothing was sent
            reserve = (
                "" if cycle.trigger == CycleTrigger.MANUAL else " outside the share kept for manual cycles"
            )
            raise _Parked(
                next_pacific_midnight(now),
                f"the day's discovery search budget is spent ({limit} search.list calls{reserve}); "
                f"the cycle resumes after the quota day turns at {_pacific(next_pacific_midnight(now))}",
            )
    return "ok"


def _search_one(ctx: Context, cycle: DiscoveryCycle, search: DiscoverySearch) -> None:
    try:
        results = search_keyword(ctx, cycle, search.keyword)
    except (QuotaExhausted, NoApiKeys) as exc:
        # Refused before any request reached the API (no key could pay): the claim is given back.
        day = pacific_day(ctx.now()).isoformat()
        with ctx.session() as session:
            dstore.release_search(session, cycle_id=cycle.id, position=search.position, day=day)
        if isinstance(exc, NoApiKeys):
            raise
        raise _Parked(
            exc.resets_at,
            "the search bucket is spent on every API key (100 search.list calls a day per project); "
            f"the cycle resumes after the quota day turns at {_pacific(exc.resets_at)}",
        ) from None
    except PermanentYouTubeError as exc:
        with ctx.session() as session:
            dstore.settle_search(
                session,
                cycle_id=cycle.id,
                position=search.position,
                status=SearchStatus.FAILED,
                now=ctx.now(),
                error=f"{exc.error_code}: {exc}",
            )
        return
    # A transient error leaves the claim standing (the request was sent, and billed): the actor
    # retries the message, and the retry claims again before it sends again.
    now = ctx.now()
    with ctx.session() as session:
        dstore.settle_search(
            session,
            cycle_id=cycle.id,
            position=search.position,
            status=SearchStatus.DONE,
            now=now,
            hits=channel_hits(results),
            results=len(results),
        )
        dstore.touch_cycle(session, cycle_id=cycle.id, now=now, lease=LEASE)


def _pacific(moment: datetime) -> str:
    """``2026-12-03 00:00 PST (08:00 UTC)``: when the quota day turns, as people read it."""
    return f"{moment.astimezone(PACIFIC):%Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%H:%M} UTC)"


# --- metadata -------------------------------------------------------------------------------------


def found_channels(searches: list[DiscoverySearch]) -> list[str]:
    """Every channel the cycle's searches found, deduplicated across keywords, in a stable order."""
    return sorted({cid for s in searches if s.status == SearchStatus.DONE for cid in (s.hits or {})})


def _fetch_metadata(ctx: Context, cycle: DiscoveryCycle) -> set[str]:
    """Make sure every channel found has metadata; returns the ids whose channels.list answered them.

    Channels fetched within the freshness window (or already by this cycle, before a redelivery)
    cost nothing; the rest share 50-id calls. Raises _Parked when the default bucket cannot pay.
    """
    with ctx.session() as session:
        searches = dstore.searches_of(session, cycle_id=cycle.id)
        channel_ids = found_channels(searches)
        window = ctx.now() - timedelta(hours=ctx.settings.metadata_freshness_hours)
        since = min(window, cycle.started_at) if cycle.started_at else window
        fresh = store.fresh_channel_ids(session, channel_ids=channel_ids, fresh_since=since)
    stale = [cid for cid in channel_ids if cid not in fresh]
    answered = set(fresh)
    for start in range(0, len(stale), IDS_PER_CALL):
        chunk = stale[start : start + IDS_PER_CALL]
        try:
            found = ctx.youtube.channels_by_ids(chunk, run_id=cycle.id, priority="system")
        except QuotaExhausted as exc:
            raise _Parked(
                exc.resets_at,
                "no API key has default-bucket units left outside the interactive reserve for the "
                f"channels found; the cycle resumes after the quota day turns at {_pacific(exc.resets_at)}",
            ) from None
        except PermanentYouTubeError as exc:
            log.warning("discovery cycle %s: channels.list refused %d ids: %s", cycle.id, len(chunk), exc)
            continue
        now = ctx.now()
        with ctx.session() as session:
            # The snapshot is keyed by the cycle, so a redelivered batch does not add a second one.
            store.save_channels(session, records=found.values(), run_id=cycle.id, now=now)
            dstore.touch_cycle(session, cycle_id=cycle.id, now=now, lease=LEASE)
        answered.update(found)
    return answered
