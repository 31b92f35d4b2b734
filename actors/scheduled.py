"""Periodic actors on their own ``scheduled`` queue, fired by the single ``periodiq`` scheduler.

periodiq does not catch up missed ticks, fires once at start-up, and workers skip a tick older than
the skip delay; so each actor here is idempotent and only fans out (starts runs or sends ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from periodiq import cron

from actors.dispatch import send_all
from actors.priority import SYSTEM
from actors.runtime import get_context
from pipeline import maintenance
from pipeline.config import get_settings
from pipeline.context import Context
from pipeline.discovery import schedule_due
from pipeline.failures import count_failure

log = logging.getLogger(__name__)
_settings = get_settings()
_OPTIONS: dict[str, Any] = {"queue_name": "scheduled", "max_retries": 0, "time_limit": 10 * 60_000}
# The system work these start (and everything it sends) goes behind interactive runs (actors/priority.py).
# reconcile keeps the interactive default: what it resends is mostly people's runs, stuck.
_SYSTEM: dict[str, Any] = {**_OPTIONS, "broker_priority": SYSTEM}


@contextmanager
def _tick(job: str) -> Iterator[Context]:
    """A tick that raises is logged and counted (``ytcollect_periodic_failures``); the next one tries
    again. Inside, each job isolates its runs, so this catches only what no single run explains."""
    ctx = get_context()
    try:
        yield ctx
    except Exception:
        count_failure(ctx, job, "the tick")


@dramatiq.actor(periodic=cron(_settings.reconcile_cron), **_OPTIONS)
def reconcile() -> None:
    """Rebuild lost Redis state, finalize finished runs, resend stuck jobs and jobs back from a quota wait;
    the same for discovery cycles (parked ones resume once the quota day turns)."""
    with _tick("reconcile") as ctx:
        report = maintenance.reconcile(ctx)
        send_all(report.sends)
        if report.sends or report.rebuilt or report.events_republished or report.discovery or report.failed:
            log.info("reconcile %s", report.as_dict())


@dramatiq.actor(periodic=cron(_settings.refresh_cron), **_SYSTEM)
def refresh() -> None:
    """Start a system run that refetches channels older than the refresh interval."""
    with _tick("refresh") as ctx:
        run_id, sends = maintenance.refresh(ctx)
        send_all(sends)
        if run_id:
            log.info("refresh started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.reresolve_cron), **_SYSTEM)
def reresolve() -> None:
    """Start a system run that resolves inputs whose resolution is older than its TTL."""
    with _tick("reresolve") as ctx:
        run_id, sends = maintenance.reresolve(ctx)
        send_all(sends)
        if run_id:
            log.info("re-resolve started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.purge_cron), **_SYSTEM)
def purge() -> None:
    """Apply retention to API-call records, snapshots and channel data (YouTube's 30-day rule)."""
    with _tick("purge") as ctx:
        log.info("purge removed %s", maintenance.purge(ctx))


@dramatiq.actor(periodic=cron(_settings.video_repoll_cron), **_SYSTEM)
def repoll_videos() -> None:
    """Start a system run that reads again the statistics of videos due by their age."""
    with _tick("repoll_videos") as ctx:
        run_id, sends = maintenance.repoll_videos(ctx)
        send_all(sends)
        if run_id:
            log.info("video re-poll started system run %s", run_id)


@dramatiq.actor(periodic=cron(_settings.discovery_cron), **_SYSTEM)
def discover_due() -> None:
    """Start a discovery cycle for each watchlist whose interval has come round."""
    with _tick("discover_due") as ctx:
        cycle_ids, sends = schedule_due(ctx)
        send_all(sends)
        if cycle_ids:
            log.info("discover_due started cycles %s", cycle_ids)
