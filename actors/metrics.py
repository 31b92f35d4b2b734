"""Prometheus metrics: Dramatiq's per-message metrics plus quota, run and job gauges, on one endpoint.

Each ``dramatiq`` master (one per queue in the Procfile) serves ``METRICS_HOST:METRICS_PORT``
(127.0.0.1:9191 unless configured; ``METRICS_PORT=0`` turns it off) from a fork process:

- Dramatiq's own middleware (``dramatiq.middleware.prometheus.Prometheus``) counts messages,
  errors, retries, dead letters and durations in every worker process, in multiprocess files;
- :class:`YtcollectCollector` reads, at scrape time, each API key's units used and left today by
  fingerprint (``QuotaLedger.status()``; a key never leaves the ledger), the runs and jobs by
  status, and the feed fallbacks of upload checks by reason (``ytcollect_feed_fallbacks``: feeds go
  down for hours, and each fallback costs a unit) from the database, and from Redis how many items
  of a periodic job raised and were skipped (``ytcollect_periodic_failures{job}``).

The domain gauges describe shared state, so every worker endpoint shows the same values: aggregate
them with ``max without (instance)`` rather than ``sum``.

Why not Dramatiq's middleware as it comes: it binds 0.0.0.0 unless its environment says otherwise,
and its exposition handler builds a registry holding only the multiprocess collector, so our gauges
could not join it. :class:`WorkerMetrics` wraps it: it sets Dramatiq's variables from Settings,
imports it only once a worker process has booted (``prometheus_client`` picks its multiprocess mode
at import time), and serves both registries from :func:`serve_metrics`. Nothing here opens a port or
touches a file outside a ``dramatiq`` worker: the embedded CLI, the periodiq scheduler and tests
running a worker in-process never emit ``process_boot``.

This module knows Dramatiq (a middleware is where worker metrics come from) but never imports
``prometheus_client`` at module level, for the reason above.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from models.job import JobStatus
from models.run import RunStatus
from pipeline import db, resources, store, videostore
from pipeline.config import Settings, get_settings
from pipeline.failures import failure_counts
from pipeline.youtube.quota import QuotaLedger
from pipeline.youtube.redact import redact

log = logging.getLogger(__name__)

_STATES = ("ok", "spent", "disabled")


# --- the domain gauges ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """Runs and jobs by status, every known status present (0 when none)."""

    runs: dict[str, int]
    jobs: dict[str, int]


def status_counts(session: Session) -> StatusCounts:
    """Count runs and jobs by status (two indexed GROUP BYs), filling in the statuses with none."""
    runs, jobs = store.status_totals(session)
    return StatusCounts(
        runs={**{s.value: 0 for s in RunStatus}, **runs},
        jobs={**{s.value: 0 for s in JobStatus}, **jobs},
    )


class YtcollectCollector:
    """A custom collector: quota per key fingerprint and runs/jobs by status, read on every scrape.

    Either source may be None (not configured) or fail (down): the other still reports, and
    ``ytcollect_collector_up{source=…}`` says which one answered.
    """

    def __init__(
        self,
        *,
        ledger: QuotaLedger | None,
        sessions: sessionmaker[Session] | None,
        redis: Any = None,
    ) -> None:
        self.ledger = ledger
        self.sessions = sessions
        self.redis = redis  # for the periodic jobs' failure counts

    def _families(self) -> dict[str, Any]:
        from prometheus_client.core import GaugeMetricFamily

        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels or [])

        fp, state, status, source = ["fingerprint"], ["fingerprint", "state"], ["status"], ["source"]
        return {
            "used": gauge(
                "ytcollect_quota_units_used",
                "YouTube API default-bucket units reserved today (Pacific day), per key fingerprint.",
                fp,
            ),
            "left": gauge(
                "ytcollect_quota_units_left",
                "YouTube API default-bucket units still usable today per key fingerprint (0 when spent or disabled).",
                fp,
            ),
            "bucket_used": gauge(
                "ytcollect_quota_bucket_used",
                "Reserved today per key and bucket (default and video_stats: units; search: calls).",
                ["fingerprint", "bucket"],
            ),
            "bucket_left": gauge(
                "ytcollect_quota_bucket_left",
                "Still usable today per key and bucket (0 when the bucket is spent or the key disabled).",
                ["fingerprint", "bucket"],
            ),
            "bucket_state": gauge(
                "ytcollect_quota_bucket_state",
                "1 for the bucket's current state on the key (ok, spent, disabled), 0 for the others.",
                ["fingerprint", "bucket", "state"],
            ),
            "bucket_cap": gauge(
                "ytcollect_quota_bucket_cap",
                "Per key per Pacific day, by bucket (default: the daily units capped by the budget).",
                ["bucket"],
            ),
            "state": gauge(
                "ytcollect_quota_key_state",
                "1 for the key's current state (ok, spent, disabled), 0 for the others.",
                state,
            ),
            "cap": gauge(
                "ytcollect_quota_units_cap",
                "Units per key per Pacific day ytcollect allows itself (the daily units, capped by the budget).",
            ),
            "reset": gauge(
                "ytcollect_quota_reset_timestamp_seconds",
                "When the quota day turns (the next Pacific midnight), as Unix time.",
            ),
            "runs": gauge("ytcollect_runs", "Runs by status.", status),
            "jobs": gauge("ytcollect_jobs", "Jobs by status.", status),
            "fallbacks": gauge(
                "ytcollect_feed_fallbacks",
                "Upload checks of stored runs that fell back from the channel feed to the playlist, by reason.",
                ["reason"],
            ),
            "periodic_failures": gauge(
                "ytcollect_periodic_failures",
                "Items of a periodic job (a run reconcile could not handle, a watchlist discover_due could "
                "not schedule) that raised and were skipped, by job, since Redis last lost them.",
                ["job"],
            ),
            "up": gauge(
                "ytcollect_collector_up",
                "1 when the source (quota: Redis; database) answered this scrape, else 0.",
                source,
            ),
        }

    def describe(self) -> Iterator[Any]:
        # Registering calls describe(), not collect(): no Redis or database round trip at start-up.
        yield from self._families().values()

    def collect(self) -> Iterator[Any]:
        families = self._families()
        up = families.pop("up")
        if self.ledger is not None:
            up.add_metric(["quota"], self._collect_quota(families))
        if self.sessions is not None:
            up.add_metric(["database"], self._collect_statuses(families))
        if self.redis is not None:
            try:
                for job, n in sorted(failure_counts(self.redis).items()):
                    families["periodic_failures"].add_metric([job], n)
            except Exception as exc:
                log.warning("metrics: cannot read the periodic failures: %s", type(exc).__name__)
        yield from families.values()
        yield up

    def _collect_quota(self, families: dict[str, Any]) -> int:
        assert self.ledger is not None
        try:
            statuses = self.ledger.status()
            resets_at = self.ledger.resets_at()
        except Exception as exc:  # a scrape must answer even when Redis does not
            log.warning("metrics: cannot read the quota ledger: %s", redact(f"{type(exc).__name__}: {exc}"))
            return 0
        for status in statuses:
            families["used"].add_metric([status.fingerprint], status.used)
            families["left"].add_metric([status.fingerprint], status.left)
            for state in _STATES:
                families["state"].add_metric([status.fingerprint, state], 1 if status.state == state else 0)
            for name, bucket in status.buckets.items():
                labels = [status.fingerprint, name]
                families["bucket_used"].add_metric(labels, bucket.used)
                families["bucket_left"].add_metric(labels, bucket.left)
                for state in _STATES:
                    families["bucket_state"].add_metric([*labels, state], 1 if bucket.state == state else 0)
        families["cap"].add_metric([], self.ledger.cap)
        for name, cap in self.ledger.caps.items():
            families["bucket_cap"].add_metric([name], cap)
        families["reset"].add_metric([], resets_at.timestamp())
        return 1

    def _collect_statuses(self, families: dict[str, Any]) -> int:
        assert self.sessions is not None
        try:
            with db.session_scope(self.sessions) as session:
                counts = status_counts(session)
                fallbacks = videostore.feed_fallback_totals(session)
        except Exception as exc:
            log.warning("metrics: cannot count runs and jobs: %s", redact(f"{type(exc).__name__}: {exc}"))
            return 0
        for status, n in sorted(counts.runs.items()):
            families["runs"].add_metric([status], n)
        for status, n in sorted(counts.jobs.items()):
            families["jobs"].add_metric([status], n)
        for reason, n in sorted(fallbacks.items()):
            families["fallbacks"].add_metric([reason], n)
        return 1


def open_collector(settings: Settings) -> tuple[YtcollectCollector, Callable[[], None]]:
    """A collector wired from settings, and the function that closes its connections.

    The quota gauges need a shared ledger, so they appear only with ``REDIS_URL`` set (the embedded
    stand-in lives in another process's memory).
    """
    closers: list[Callable[[], None]] = []
    ledger = None
    redis = None
    if settings.redis_url:
        redis = resources.open_redis(settings, timeout=3)
        closers.append(redis.close)
        ledger = resources.quota_ledger(settings, redis)
    engine = db.make_engine(settings.sqlalchemy_url, pool_size=1)
    closers.append(engine.dispose)
    collector = YtcollectCollector(ledger=ledger, sessions=db.session_factory(engine), redis=redis)

    def close() -> None:
        for closer in reversed(closers):
            closer()

    return collector, close


# --- Dramatiq's middleware, bound where Settings says ----------------------------------------------


def multiprocess_dir(settings: Settings) -> str:
    """Where a master's worker processes keep their metric files: one directory per port, so two
    masters on one host (each with its own METRICS_PORT) never mix their files."""
    return os.path.join(tempfile.gettempdir(), f"ytcollect-prometheus-{settings.metrics_port}")


def dramatiq_environment(settings: Settings) -> dict[str, str]:
    """The variables Dramatiq's Prometheus module reads (at import time) for its address and files."""
    return {
        "dramatiq_prom_host": settings.metrics_host,
        "dramatiq_prom_port": str(settings.metrics_port),
        "dramatiq_prom_db": multiprocess_dir(settings),
    }


_PID_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes that are gone (a crash skips Dramatiq's clean-up), and ours
    from a previous life: after a container restart a new worker can have an old worker's pid."""
    from prometheus_client import multiprocess

    for name in os.listdir(path):
        match = _PID_FILE.match(name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or not _alive(pid):
            multiprocess.mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# --- the exposition server (a Dramatiq fork process) ------------------------------------------------


def build_registry(collector: YtcollectCollector | None, multiprocess_path: str | None = None) -> Any:
    """A registry with the workers' multiprocess metrics (when ``multiprocess_path``) and ours."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if multiprocess_path is not None:
        os.makedirs(multiprocess_path, exist_ok=True)
        MultiProcessCollector(registry, path=multiprocess_path)
    if collector is not None:
        registry.register(collector)
    return registry


def make_server(host: str, port: int, registry: Any) -> ThreadingHTTPServer:
    """An HTTP server answering every GET with the registry's exposition text."""
    from prometheus_client.exposition import MetricsHandler

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    class Handler(MetricsHandler.factory(registry)):  # type: ignore[misc]
        def log_message(self, format: str, *args: Any) -> None:  # scrapes every 15 s are not news
            log.debug(format, *args)

    return Server((host, port), Handler)


def _stop_when_orphaned(server: ThreadingHTTPServer, parent: int) -> None:
    # A master killed outright (SIGKILL) never stops its forks; this one would hold the port forever.
    while os.getppid() == parent:
        time.sleep(1)
    server.shutdown()


def serve_metrics() -> int:
    """The fork process each ``dramatiq`` master runs: serve until the master stops it (SIGTERM)."""
    settings = get_settings()
    collector, close = open_collector(settings)
    registry = build_registry(collector, multiprocess_dir(settings))
    try:
        server = make_server(settings.metrics_host, settings.metrics_port, registry)
    except OSError as exc:
        log.error(
            "metrics: cannot listen on %s:%s (%s); give each worker group on this host its own METRICS_PORT",
            settings.metrics_host,
            settings.metrics_port,
            exc,
        )
        close()
        return 1
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    threading.Thread(target=_stop_when_orphaned, args=(server, os.getppid()), daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        close()
    return 0
