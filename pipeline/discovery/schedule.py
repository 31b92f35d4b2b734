"""Periodic discovery upkeep: start the cycles whose watchlist interval has come round, and reconcile.

Both only fan out and are idempotent, so periodiq firing twice, late or at start-up does no harm:

- ``schedule_due`` claims each due watchlist's slot with a guarded update in the same transaction
  that records its cycle (whose id is derived from the slot), so a duplicate tick records nothing;
  a watchlist with a cycle still open (parked for quota, say) waits for it.
- ``reconcile_cycles`` sends parked cycles again once their quota day has turned, resends cycles
  nobody has moved for a while (a worker died), gives up on one after ``MAX_RESENDS``, and
  publishes the ``discovery_finished`` a dead winner did not get to publish.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from models import CycleStatus, CycleTrigger, DiscoveryCycle, Watchlist
from pipeline import messages
from pipeline.context import Context
from pipeline.discovery import store as dstore
from pipeline.discovery.finish import after_finish, give_up
from pipeline.discovery.record import new_cycle, prepare_cycle
from pipeline.failures import count_failure
from pipeline.messages import Send

log = logging.getLogger(__name__)

EVENT_GRACE_SECONDS = 60  # a finishing winner that died before publishing gets this long
MAX_RESENDS = 6  # then the cycle finishes with an error rather than looping for ever


def rotation(keywords: list[str], cursor: int, per_cycle: int | None) -> tuple[list[str], int]:
    """The next ``per_cycle`` keywords from ``cursor`` (wrapping round), and where the next cycle starts."""
    if not keywords:
        return [], 0
    if per_cycle is None or per_cycle >= len(keywords):
        return list(keywords), 0
    start = cursor % len(keywords)
    taken = [keywords[(start + i) % len(keywords)] for i in range(per_cycle)]
    return taken, (start + per_cycle) % len(keywords)


def scheduled_cycle_id(watchlist: Watchlist) -> str:
    """One id per watchlist slot: a second tick that sees the same slot records the same cycle (once)."""
    assert watchlist.next_due_at is not None
    return str(
        uuid.uuid5(
            uuid.NAMESPACE_URL, f"ytcollect:discovery:{watchlist.id}:{watchlist.next_due_at.isoformat()}"
        )
    )


def schedule_due(ctx: Context, *, limit: int = 200) -> tuple[list[str], list[Send]]:
    """Record a scheduled cycle for each watchlist whose interval has come round; returns their ids."""
    now = ctx.now()
    with ctx.session() as session:
        due = dstore.due_watchlists(session, now=now, limit=limit)
    cycle_ids: list[str] = []
    for watchlist in due:
        try:
            cycle_id = _schedule_one(ctx, watchlist, now)
        except Exception:  # one bad watchlist must not stop the others' schedule
            count_failure(ctx, "discover_due", f"watchlist {watchlist.id}")
            continue
        if cycle_id is not None:
            cycle_ids.append(cycle_id)
    return cycle_ids, [messages.discover_cycle(cycle_id) for cycle_id in cycle_ids]


def _schedule_one(ctx: Context, watchlist: Watchlist, now: Any) -> str | None:
    assert watchlist.next_due_at is not None and watchlist.interval_hours is not None
    keywords, cursor = rotation(
        list(watchlist.keywords), watchlist.keyword_cursor, watchlist.keywords_per_cycle
    )
    cycle_id = scheduled_cycle_id(watchlist)
    with ctx.session() as session:
        if dstore.open_cycles(session, watchlist_id=watchlist.id):
            return None  # the last cycle is still open (parked for quota): the next one waits for it
        request = prepare_cycle(
            ctx,
            cycle_id=cycle_id,
            owner_id=watchlist.owner_id,
            trigger=CycleTrigger.SCHEDULED,
            watchlist=watchlist.id,
            session=session,
            keyword_subset=keywords,
        )
        claimed = dstore.claim_due(
            session,
            watchlist_id=watchlist.id,
            due_at=watchlist.next_due_at,
            next_due_at=now + timedelta(hours=watchlist.interval_hours),
            keyword_cursor=cursor,
        )
        if not claimed:
            return None  # another tick took this slot
        dstore.insert_cycle(session, cycle=new_cycle(request, now), keywords=request.keywords)
    return cycle_id


@dataclass
class CycleReconcileReport:
    resumed: list[str] = field(default_factory=list)  # parked cycles whose quota day has turned
    resent: list[str] = field(default_factory=list)  # cycles nobody moved for too long
    gave_up: list[str] = field(default_factory=list)
    events_republished: list[str] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "sends"}


def reconcile_cycles(ctx: Context, *, stuck_after_seconds: int | None = None) -> CycleReconcileReport:
    """Unstick every open cycle and publish every finished cycle's event; the database is the truth."""
    now = ctx.now()
    stuck_after = (
        stuck_after_seconds if stuck_after_seconds is not None else ctx.settings.reconcile_stuck_after_seconds
    )
    stuck_before = now - timedelta(seconds=stuck_after)
    report = CycleReconcileReport()
    with ctx.session() as session:
        cycles = dstore.open_cycles(session)
    for cycle in cycles:
        try:
            _reconcile_one(ctx, cycle, stuck_before, report)
        except Exception:  # one cycle's trouble must not stop the rest
            count_failure(ctx, "reconcile", f"discovery cycle {cycle.id}")
    with ctx.session() as session:
        unsent = dstore.finished_cycles_without_event(
            session, finished_before=now - timedelta(seconds=EVENT_GRACE_SECONDS)
        )
    for cycle in unsent:
        try:
            report.sends.extend(after_finish(ctx, cycle.id))  # its run (once), then its event
            report.events_republished.append(cycle.id)
        except Exception:
            count_failure(ctx, "reconcile", f"discovery_finished of cycle {cycle.id}")
    return report


def _reconcile_one(
    ctx: Context, cycle: DiscoveryCycle, stuck_before: Any, report: CycleReconcileReport
) -> None:
    now = ctx.now()
    if cycle.status == CycleStatus.WAITING_QUOTA:
        if cycle.waiting_until is None or cycle.waiting_until > now:
            return
        # Back to PENDING (guarded), so the next tick does not send it again while the message waits.
        with ctx.session() as session:
            moved = dstore.resume_parked(session, cycle_id=cycle.id, now=now)
        if moved:
            report.resumed.append(cycle.id)
            report.sends.append(messages.discover_cycle(cycle.id))
        return
    if cycle.updated_at >= stuck_before:
        return
    if cycle.resends >= MAX_RESENDS:
        give_up(
            ctx, cycle.id, f"no worker could finish the cycle after {MAX_RESENDS} resends; see the worker log"
        )
        report.gave_up.append(cycle.id)
        return
    with ctx.session() as session:
        dstore.count_resend(session, cycle_id=cycle.id, now=now)
    report.resent.append(cycle.id)
    report.sends.append(messages.discover_cycle(cycle.id))
