"""Competitor discovery by keyword: watchlists searched on a schedule, on an event or by hand.

A cycle searches each keyword once (``search.list``, the scarce search bucket) within its own budget
and the day's budget shared by every watchlist, collects the channels behind the results, fetches
their metadata in shared 50-id batches (default bucket), scores them (a metric computed by
ytcollect, labelled so), stores the discoveries and reports what is new since the last cycle first.
It finishes once, with one ``discovery_finished`` event; a spent search bucket parks it until the
Pacific day turns.

The Python API (owner-scoped; plain functions taking ``ctx=`` and, to start a cycle, ``send=``)::

    from pipeline.discovery import add_watchlist, discover, get_cycle_status, list_discoveries

    add_watchlist("owner-1", "espresso", ["espresso machine", "latte art"], {"interval_hours": 24}, ctx=ctx)
    cycle_id = discover("owner-1", "espresso", ctx=ctx, send=send)
    get_cycle_status(cycle_id, owner_id="owner-1", ctx=ctx)
    list_discoveries("owner-1", "espresso", new_only=True, ctx=ctx)
"""

from pipeline.discovery.cycle import run_cycle
from pipeline.discovery.cycles import DISCOVERY_CSV_FIELDS, discover, get_cycle_status, list_discoveries
from pipeline.discovery.finish import finished_event, publish_cycle_finished
from pipeline.discovery.record import CycleRequest, prepare_cycle, record_cycle, reject_cycle
from pipeline.discovery.schedule import reconcile_cycles, schedule_due
from pipeline.discovery.scoring import SCORE_LABEL
from pipeline.discovery.watchlists import (
    add_watchlist,
    delete_watchlist,
    edit_watchlist,
    get_watchlist,
    list_watchlists,
)

__all__ = [
    "DISCOVERY_CSV_FIELDS",
    "SCORE_LABEL",
    "CycleRequest",
    "add_watchlist",
    "delete_watchlist",
    "discover",
    "edit_watchlist",
    "finished_event",
    "get_cycle_status",
    "get_watchlist",
    "list_discoveries",
    "list_watchlists",
    "prepare_cycle",
    "publish_cycle_finished",
    "reconcile_cycles",
    "record_cycle",
    "reject_cycle",
    "run_cycle",
    "schedule_due",
]
