"""Periodic actors on their own ``scheduled`` queue, fired by the single ``periodiq`` scheduler.

periodiq does not catch up missed ticks, fires once at start-up, and workers skip a tick older than
the skip delay; so each actor here is idempotent and only fans out (starts runs or sends ids).
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from periodiq import cron

from actors.dispatch import send_all
from actors.priority import SYSTEM
from actors.runtime import get_context
from pipeline import maintenance
from pipeline.config import get_settings
from pipeline.discovery import schedule_due

log = logging.getLogger(__name__)
_settings = get_settings()
_OPTIONS: dict[str, Any] = {"queue_name": "scheduled", "max_retries": 0, "time_limit": 10 * 60_000}
# The system work these start (and everything it sends) goes behind interactive runs (actors/priority.py).
# reconcile keeps the interactive default: what it resends is mostly people's runs, stuck.
_SYSTEM: dict[str, Any] = {**_OPTIONS, "broker_priority": SYSTEM}


@dramatiq.actor(periodic=cron(_settings.reconcile_cron), **_OPTIONS)
def reconcile() -> None:
    """Rebuild lost Redis state, finalize finished runs, resend stuck jobs and jobs back from a quota wait;
    the same for discovery cycles (parked ones resume once the quota day turns)."""
    report = maintenance.reconcile(get_context())
    send_all(report.sends)
    if report.sends or report.rebuilt or report.events_republished or report.discovery:
        log.info("reconcile %s", report.as_dict())


@dramatiq.actor(periodic=cron(_settings.refresh_cron), **_SYSTEM)
def refresh() -> None:
    """Start a system run that refetches channels older than the refresh interval."""
    run_id, sends = maintenance.refresh(get_context())
    send_all(sends)
    if run_id:
        log.info("refresh started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.reresolve_cron), **_SYSTEM)
def reresolve() -> None:
    """Start a system run that resolves inputs whose resolution is older than its TTL."""
    run_id, sends = maintenance.reresolve(get_context())
    send_all(sends)
    if run_id:
        log.info("re-resolve started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.purge_cron), **_SYSTEM)
def purge() -> None:
    """Apply retention to API-call records, snapshots and channel data (YouTube's 30-day rule)."""
    log.info("purge removed %s", maintenance.purge(get_context()))


@dramatiq.actor(periodic=cron(_settings.video_repoll_cron), **_SYSTEM)
def repoll_videos() -> None:
    """Start a system run that reads again the statistics of videos due by their age."""
    run_id, sends = maintenance.repoll_videos(get_context())
    send_all(sends)
    if run_id:
        log.info("video re-poll started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.discovery_cron), **_SYSTEM)
def discover_due() -> None:
    """Start a discovery cycle for each watchlist whose interval has come round."""
    cycle_ids, sends = schedule_due(get_context())
    send_all(sends)
    if cycle_ids:
        log.info("discover_due started cycles %s", cycle_ids)
