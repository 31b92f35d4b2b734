"""``discover`` on queue ``discover`` (public: a backend publishes it) and ``discover_cycle`` on the
internal queue ``discovery`` (the cycle's searches, metadata and finish)."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from models import CycleTrigger
from pipeline.discovery import prepare_cycle, record_cycle, reject_cycle, run_cycle
from pipeline.errors import InvalidRequest, WatchlistNotFound
from pipeline.stages import storable_id

log = logging.getLogger(__name__)


# Every field defaults and unknown ones are collected, so a malformed message from a foreign backend
# reaches validation (and is answered with a finished cycle and its reason) instead of failing the
# actor's signature with a TypeError that nobody hears of.
@dramatiq.actor(queue_name="discover", **STAGE_OPTIONS)
def discover(
    cycle_id: Any = None,
    owner_id: Any = None,
    watchlist: Any = None,
    keywords: Any = None,
    options: Any = None,
    **unknown: Any,
) -> None:
    ctx = get_context()
    try:
        if unknown:
            names = sorted(str(name)[:40] for name in unknown)
            raise InvalidRequest(
                f"unknown field(s) {names}; known: cycle_id, owner_id, watchlist, keywords, options"
            )
        request = prepare_cycle(
            ctx,
            cycle_id=cycle_id,
            owner_id=owner_id,
            trigger=CycleTrigger.EVENT,
            watchlist=watchlist,
            keywords=keywords,
            options=options,
        )
    except (InvalidRequest, WatchlistNotFound) as exc:
        if storable_id(cycle_id, 64):  # recorded as rejected, so the backend hears of it
            log.warning("discover %s rejected: %s", cycle_id, exc)
            reject_cycle(ctx, cycle_id=cycle_id, owner_id=owner_id, error=str(exc))
        else:
            log.error("discover message dropped: %s", exc)
        return
    send_all(record_cycle(ctx, request))


@dramatiq.actor(queue_name="discovery", **STAGE_OPTIONS)
def discover_cycle(cycle_id: str) -> None:
    send_all(run_cycle(get_context(), cycle_id))
