"""Shared setup for the pipeline benchmarks: services, the emulator and workers as real processes.

Each benchmark runs on its own resources, so tests running at the same time never meet it:

- PostgreSQL database ``ytc_bench`` (created here, migrated with Alembic, truncated between runs);
- Redis database 5 (flushed between runs: run state and the quota ledger start empty);
- RabbitMQ vhost ``ytc_bench`` (created with ``rabbitmqctl`` when missing, queues purged between runs).

The emulator (``ytcollect emulator``) and the workers (``python -m dramatiq actors …``) run as
subprocesses in their own process groups; :class:`Emulator` and :class:`Workers` kill their group on
exit, so nothing is left running. The driver (this process) only records runs and reads their status,
through the same ``pipeline.runs`` functions a Python backend uses.

All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = str(ROOT / ".venv" / "bin" / "python")
YTCOLLECT = str(ROOT / ".venv" / "bin" / "ytcollect")
OUT = ROOT / "bench" / "out"  # logs (ignored by git)
RESULTS = ROOT / "bench" / "results"  # recorded JSON results (committed; chart.py draws from them)


def machine() -> str:
    """This machine's CPUs and memory, as a result file records them."""
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        memory = f"{round(kib / 2**20)} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = "RAM unknown"
    return f"{os.cpu_count()} cores, {memory}"


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "ytc_bench"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/5"
VHOST = "ytc_bench"
BROKER_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
RUN_FINISHED_QUEUE = "bench_run_finished"
API_KEYS = ["bench-key-0001"]  # the emulator's only valid key; one project with a quota we never reach
QUOTA = 100_000_000
PIPELINE_QUEUES = ["runs", "normalize", "resolve", "metadata", "uploads", "video_stats", "finalize"]
TABLES = (
    "runs, run_inputs, jobs, channels, channel_snapshots, resolutions, resolution_changes, api_calls, "
    "videos, video_snapshots, run_video_channels, run_video_batches, lookup_misses"
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- services ----------------------------------------------------------------------------------------


def ensure_database() -> None:
    """Create ``ytc_bench`` when missing and bring it to the head migration."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    from pipeline import db

    engine = db.make_engine(DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()


def ensure_vhost() -> None:
    """Create the ``ytc_bench`` vhost and give ``guest`` every permission on it (idempotent)."""
    listed = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, check=True)
    if VHOST not in listed.stdout.split():
        subprocess.run(["rabbitmqctl", "add_vhost", VHOST], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )


def prepare_services() -> None:
    ensure_database()
    ensure_vhost()


def reset_state(extra_queues: Sequence[str] = ()) -> None:
    """Empty tables, flush Redis db 5 and purge the vhost's queues: every run starts from nothing."""
    import psycopg
    import redis

    # The queues first, so the workers get nothing new; a delivery still in flight may hold row locks
    # on two tables the TRUNCATE wants at once, and PostgreSQL then breaks the deadlock: try again.
    purge_queues([*PIPELINE_QUEUES, *extra_queues])
    for attempt in range(5):
        try:
            with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
                conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            break
        except psycopg.errors.DeadlockDetected:
            if attempt == 4:
                raise
            time.sleep(0.5)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()
    purge_queues([*PIPELINE_QUEUES, *extra_queues])


def purge_queues(queues: Sequence[str]) -> None:
    import pika

    names = [*queues, *(f"{q}.DQ" for q in queues), *(f"{q}.XQ" for q in queues), RUN_FINISHED_QUEUE]
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        channel = connection.channel()
        for name in names:
            try:
                channel.queue_purge(name)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing to purge
                channel = connection.channel()
    finally:
        connection.close()


def queue_consumers(queue: str) -> int | None:
    """Consumers of ``queue`` in the vhost, None when the queue does not exist yet."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return None
    finally:
        connection.close()


def service_env(emulator_url: str) -> dict[str, str]:
    """The environment a worker (or the driver) reads its Settings from."""
    return {
        "BROKER_URL": BROKER_URL,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "YT_API_KEYS": ",".join(API_KEYS),
        "YOUTUBE_API_URL": emulator_url,
        "QUOTA_DAILY_UNITS_PER_KEY": str(QUOTA),
        "RUN_FINISHED_QUEUE": RUN_FINISHED_QUEUE,
        "METRICS_PORT": "0",  # no Prometheus port: other workers on this machine may hold 9191
        # The channel benchmarks measure the channel part; bench_videos asks for recent videos per run.
        "RECENT_VIDEOS": "0",
        "LOG_LEVEL": "WARNING",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def driver_context(emulator_url: str) -> Any:
    """Point this process at the bench services and return a Context (the actors bind to RabbitMQ).

    Must run before anything imports ``actors``: the broker is chosen at import from BROKER_URL.
    """
    os.environ.update(service_env(emulator_url))
    from pipeline.config import get_settings

    get_settings.cache_clear()
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    import actors  # noqa: F401  (declares the actors on the broker built from BROKER_URL)
    from pipeline.context import build_context

    broker = dramatiq.get_broker()
    if not isinstance(broker, RabbitmqBroker):
        raise RuntimeError("the actors were imported before the bench environment was set")
    # A vhost left by an older version holds queues declared without priorities (empty between runs).
    from actors.broker import redeclare_queues

    purge_queues(PIPELINE_QUEUES)
    redeclare_queues(BROKER_URL, PIPELINE_QUEUES, get_settings().broker_max_priority)
    return build_context(get_settings())


# --- the emulator ------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """``ytcollect emulator`` as a subprocess in its own process group."""

    def __init__(
        self, *, channels: int, seed: int = 7, latency_ms: float = 0, name: str = "emulator"
    ) -> None:
        self.channels, self.seed, self.latency_ms = channels, seed, latency_ms
        self.port = free_port()
        self.log_path = OUT / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        OUT.mkdir(parents=True, exist_ok=True)
        command = [
            YTCOLLECT,
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--seed",
            str(self.seed),
            "--channels",
            str(self.channels),
            "--latency-ms",
            str(self.latency_ms),
            "--quota",
            str(QUOTA),
            "--keys",
            ",".join(API_KEYS),
        ]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "COLUMNS": "200"},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the emulator exited; see {self.log_path}")
            with contextlib.suppress(OSError):
                if self._get("/_emulator/health").get("ok"):
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the emulator did not answer within 60 s")

    def _get(self, path: str) -> Any:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def usage(self) -> dict[str, Any]:
        return self._get("/_emulator/usage")

    def reset(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            self.url + "/_emulator/reset",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with opener.open(request, timeout=10):
            pass

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def units_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Units and requests spent between two usage documents, by method."""
    methods = set(before.get("by_method", {})) | set(after.get("by_method", {}))
    by_method = {}
    for method in sorted(methods):
        a = after.get("by_method", {}).get(method, {"units": 0, "requests": 0})
        b = before.get("by_method", {}).get(method, {"units": 0, "requests": 0})
        if a["units"] - b["units"] or a["requests"] - b["requests"]:
            by_method[method] = {"units": a["units"] - b["units"], "requests": a["requests"] - b["requests"]}
    return {
        "units": after["units_total"] - before["units_total"],
        "requests": after["requests_total"] - before["requests_total"],
        "by_method": by_method,
    }


# --- workers -----------------------------------------------------------------------------------------


def stop_group(proc: subprocess.Popen[Any] | None, grace: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    tree = _children()
    found, stack = [], list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """``(VmRSS, Pss)`` of a process in KiB (0 when it is gone). Pss shares copy-on-write pages fairly."""
    rss = pss = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    return rss, pss


class Workers:
    """``python -m dramatiq actors [modules] --processes P --threads T --queues …`` in its own group."""

    def __init__(
        self,
        emulator_url: str,
        *,
        processes: int,
        threads: int,
        queues: Sequence[str] = PIPELINE_QUEUES,
        modules: Sequence[str] = (),
        name: str = "workers",
        env: dict[str, str] | None = None,
    ) -> None:
        self.emulator_url = emulator_url
        self.processes, self.threads = processes, threads
        self.queues, self.modules = list(queues), list(modules)
        self.log_path = OUT / f"{name}-{processes}x{threads}.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Workers:
        OUT.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(filter(None, (str(ROOT), self.extra_env.get("PYTHONPATH"))))
        env = {**os.environ, **service_env(self.emulator_url), **self.extra_env, "PYTHONPATH": path}
        command = [
            PYTHON,
            "-m",
            "dramatiq",
            "actors",
            *self.modules,
            "--processes",
            str(self.processes),
            "--threads",
            str(self.threads),
            "--queues",
            *self.queues,
        ]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the workers exited; see {self.log_path}")
            counts = [queue_consumers(q) for q in self.queues]
            if all(c is not None and c >= self.processes for c in counts):
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the workers did not start consuming within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The worker processes (the master's descendants; the master itself only supervises)."""
        return descendants(self.proc.pid) if self.proc else []

    def memory(self) -> dict[str, int]:
        """Summed VmRSS and Pss (KiB) of the worker processes, and the master's RSS apart."""
        pids = self.worker_pids()
        rss = pss = 0
        for pid in pids:
            r, p = memory_kb(pid)
            rss += r
            pss += p
        master_rss = memory_kb(self.proc.pid)[0] if self.proc else 0
        return {"rss_kb": rss, "pss_kb": pss, "processes": len(pids), "master_rss_kb": master_rss}

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def __enter__(self) -> Workers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- runs --------------------------------------------------------------------------------------------


def run_row(ctx: Any, run_id: str) -> dict[str, Any] | None:
    import sqlalchemy as sa

    with ctx.engine.connect() as conn:
        row = (
            conn.execute(
                sa.text("SELECT status, created_at, finished_at, total_jobs FROM runs WHERE id = :id"),
                {"id": run_id},
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def wait_finished(ctx: Any, run_id: str, *, timeout: float, interval: float = 0.02) -> dict[str, Any]:
    """Poll the runs table until the run is FINISHED (fail after ``timeout`` seconds).

    A failed poll (PostgreSQL restarted by someone else's test) is retried, not fatal.
    """
    import sqlalchemy as sa

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            row = run_row(ctx, run_id)
        except sa.exc.OperationalError:
            time.sleep(0.5)
            continue
        if row and row["status"] in ("FINISHED", "CANCELLED"):
            return row
        time.sleep(interval)
    raise TimeoutError(
        f"run {run_id} did not finish within {timeout:.0f} s (last state: {run_row(ctx, run_id)})"
    )


def job_counts(ctx: Any, run_id: str) -> dict[str, int]:
    import sqlalchemy as sa

    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, count(*) FROM jobs WHERE run_id = :id GROUP BY status"), {"id": run_id}
        ).all()
    return dict(rows)


def timed_run(
    ctx: Any,
    lines: Sequence[str],
    *,
    timeout: float,
    label: str = "bench",
    run_id: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``start_run`` → FINISHED: seconds from just before the call to the run's ``finished_at``."""
    from datetime import UTC, datetime

    from actors.dispatch import send_all
    from pipeline.runs import start_run

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    run_id = start_run(label, "bench", list(lines), options, ctx=ctx, send=send_all, run_id=run_id)
    row = wait_finished(ctx, run_id, timeout=timeout)
    polled = time.perf_counter() - t0
    seconds = (row["finished_at"] - started).total_seconds()
    return {
        "run_id": run_id,
        "seconds": seconds,
        "polled_seconds": polled,
        "jobs": job_counts(ctx, run_id),
        "total_jobs": row["total_jobs"],
    }


def pg_started_at() -> Any:
    """When the PostgreSQL server last started (None when it does not answer)."""
    import psycopg

    try:
        with psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=5) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]  # type: ignore[index]
    except psycopg.Error:
        return None


def undisturbed(action: Any, *, tries: int = 3, what: str = "measurement") -> tuple[Any, int]:
    """Run ``action()`` until it completes with PostgreSQL up all along (this machine is shared: other
    engineers' reliability tests restart it); returns its answer and how many tries were thrown away."""
    for attempt in range(tries):
        started = pg_started_at()
        try:
            answer = action()
        except Exception as exc:
            log(f"{what} failed ({type(exc).__name__}: {str(exc)[:200]}); trying again")
            time.sleep(5)
            continue
        if started is not None and pg_started_at() == started:
            return answer, attempt
        log(f"PostgreSQL restarted during the {what}; measuring again")
        time.sleep(5)
    raise RuntimeError(f"the {what} was disturbed {tries} times in a row")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def code_version() -> dict[str, Any]:
    """The commit the measured code came from, and whether pipeline code outside bench/ had local edits."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip()

    dirty = [
        line[3:] for line in git("status", "--porcelain", "--", "pipeline", "actors", "models").splitlines()
    ]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_pipeline_files": dirty}


def save_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    document = {
        "date": measured_at[:10],
        "measured_at": measured_at,
        "machine": machine(),
        **code_version(),
        **data,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path


# --- workloads ---------------------------------------------------------------------------------------

# Shares of a mixed workload; the remaining 5% are duplicates of earlier lines (another form of the
# same input, as people paste them).
MIX = (
    ("channel_id", 0.30),
    ("channel_url", 0.10),
    ("handle", 0.25),
    ("username", 0.05),
    ("custom_url", 0.05),
    ("video", 0.10),
    ("playlist", 0.05),
    ("invalid", 0.05),
)
DUPLICATES = 0.05
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_HOSTS = (
    "https://www.youtube.com",
    "https://youtube.com",
    "youtube.com",
    "www.youtube.com",
    "https://m.youtube.com",
)
_TABS = ("", "", "/videos", "/featured", "/about", "/shorts", "/streams", "/playlists")


@dataclass(frozen=True)
class Intent:
    """What a generated line means, from the catalogue's truth (not from the project's parser).

    ``kind`` is the parser's kind the line must get; ``key`` the value it must normalize to (the job's
    identity); ``index`` the catalogue slot it names (None for inputs that name nothing).
    """

    kind: str
    key: str
    index: int | None = None


@dataclass
class Workload:
    lines: list[str] = field(default_factory=list)
    intents: list[Intent] = field(default_factory=list)

    def add(self, line: str, intent: Intent) -> None:
        self.lines.append(line)
        self.intents.append(intent)


def _mixed_case(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.3:
        return text
    if roll < 0.5:
        return text.upper()
    return "".join(ch.upper() if rng.random() < 0.4 else ch for ch in text)


def _token(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_ID_CHARS) for _ in range(size))


def _handle_line(rng: random.Random, handle: str) -> str:
    cased = _mixed_case(rng, handle)
    bare_ok = handle.isascii() and "." not in handle and not cased.startswith("UC")
    forms = ["at", "url", "url_tab", "mobile"] + (["bare"] if bare_ok else [])
    form = rng.choice(forms)
    if form == "at":
        return "@" + cased
    if form == "bare":
        return cased
    encoded = cased if cased.isascii() or rng.random() < 0.5 else quote(cased)
    if form == "url":
        return f"{rng.choice(_HOSTS)}/@{encoded}"
    if form == "url_tab":
        return f"{rng.choice(_HOSTS)}/@{encoded}{rng.choice(_TABS)}"
    return f"https://m.youtube.com/@{encoded}?si={_token(rng, 16)}"


def _video_line(rng: random.Random, video_id: str) -> str:
    return rng.choice(
        (
            f"https://youtu.be/{video_id}?si={_token(rng, 16)}",
            f"https://www.youtube.com/watch?v={video_id}&t={rng.randint(1, 900)}s",
            f"{rng.choice(_HOSTS)}/watch?v={video_id}",
            f"https://www.youtube.com/shorts/{video_id}",
            f"https://m.youtube.com/watch?v={video_id}&feature=share",
        )
    )


def _playlist_line(rng: random.Random, playlist_id: str) -> str:
    return rng.choice(
        (
            f"https://www.youtube.com/playlist?list={playlist_id}",
            f"{rng.choice(_HOSTS)}/playlist?list={playlist_id}",
        )
    )


def _invalid_line(rng: random.Random, n: int) -> str:
    tag = f"{n}{_token(rng, 6)}".replace("-", "x").replace("_", "y")
    return rng.choice(
        (
            f"javascript:alert({n})",
            f"https://vimeo.com/{tag}",
            f"https://youtube.com.evil.com/@{tag}",
            "UC" + _token(rng, 20),  # 22 characters: a damaged channel id
            f"https://www.youtube.com/results?search_query={tag}",
            f"@a{n} b{n}",
            f"ftp://youtube.com/{tag}",
            f"https://www.youtube.com/channel/UC{tag}",
            f"https://www.youtube.com/watch?v=short{n}",
            f"https://www.youtube.com/playlist?list=RD{tag}",
            f"example.com/@{tag}",
            f"https://www.youtube.com/feed/{tag}",
        )
    )


def _valid_name(name: str) -> bool:
    return all(ch.isalnum() or ch in "_-." for ch in name) and any(ch.isalnum() for ch in name)


def mixed_workload(catalogue: Any, total: int, *, seed: int) -> Workload:
    """``total`` lines in the ``MIX`` shares (plus 5% duplicates), drawn from ``catalogue`` with ``seed``.

    Channels are drawn independently per kind, so a channel may appear under several kinds (a handle
    and a video of the same channel), as in real lists; within a kind each line names a new target.
    Some targets are missing on purpose, as real lists have them: terminated channels, handles and
    usernames nobody has, custom URL names that are not handles.
    """
    from emulator.catalogue import fold

    rng = random.Random(f"bench-workload:{seed}:{total}")
    size = len(catalogue)
    counts = {kind: round(share * total) for kind, share in MIX}
    counts["handle"] += total - round(DUPLICATES * total) - sum(counts.values())  # rounding
    work = Workload()
    planned: list[tuple[str, Any]] = []

    def slots(n: int, ok: Any = None) -> list[int]:
        found: list[int] = []
        seen: set[int] = set()
        while len(found) < n:
            index = rng.randrange(size)
            if index in seen or (ok is not None and not ok(index)):
                continue
            seen.add(index)
            found.append(index)
        return found

    for index in slots(counts["channel_id"]):
        planned.append(("channel_id", index))
    for index in slots(counts["channel_url"]):
        planned.append(("channel_url", index))
    missing_handles = max(1, counts["handle"] // 25)
    for index in slots(counts["handle"] - missing_handles):
        planned.append(("handle", index))
    planned.extend(("handle_missing", n) for n in range(missing_handles))
    missing_users = max(1, counts["username"] // 10)
    for index in slots(counts["username"] - missing_users, lambda i: catalogue.usernames[i] is not None):
        planned.append(("username", index))
    planned.extend(("username_missing", n) for n in range(missing_users))
    for index in slots(counts["custom_url"], lambda i: _valid_name(catalogue.custom_names[i])):
        planned.append(("custom_url", index))
    for index in slots(counts["video"], lambda i: catalogue.detail(i).n_videos > 0):
        planned.append(("video", index))
    for index in slots(counts["playlist"], lambda i: catalogue.detail(i).n_playlists > 0):
        planned.append(("playlist", index))
    planned.extend(("invalid", n) for n in range(counts["invalid"]))
    rng.shuffle(planned)

    for what, ref in planned:
        if what in ("channel_id", "channel_url"):
            channel_id = catalogue.channel_id(ref)
            line = (
                channel_id
                if what == "channel_id"
                else (f"{rng.choice(_HOSTS)}/channel/{channel_id}{rng.choice(_TABS)}")
            )
            work.add(line, Intent("channel_id", channel_id, ref))
        elif what == "handle":
            handle = catalogue.handles[ref]
            work.add(_handle_line(rng, handle), Intent("handle", handle.lower(), ref))
        elif what == "handle_missing":
            handle = f"nobody-{ref}-{_token(rng, 5).lower().replace('-', 'x').replace('_', 'y')}"
            work.add(_handle_line(rng, handle), Intent("handle", handle, None))
        elif what == "username":
            name = catalogue.usernames[ref]
            work.add(
                f"{rng.choice(_HOSTS)}/user/{name}{rng.choice(('', '', '/videos'))}",
                Intent("username", name, ref),
            )
        elif what == "username_missing":
            name = f"NoSuchUser{ref}x{rng.randint(10_000, 99_999)}"
            work.add(f"https://www.youtube.com/user/{name}", Intent("username", name, None))
        elif what == "custom_url":
            name = catalogue.custom_names[ref]
            line = f"{rng.choice(_HOSTS)}/c/{name}{rng.choice(_TABS)}"
            work.add(line, Intent("custom_url", name, ref))
        elif what == "video":
            video_id = rng.choice(catalogue.video_ids(ref))
            work.add(_video_line(rng, video_id), Intent("video", video_id, ref))
        elif what == "playlist":
            ids = catalogue.playlist_ids(ref)
            playlist_id = rng.choice(ids) if rng.random() < 0.8 else "UU" + catalogue.channel_id(ref)[2:]
            work.add(_playlist_line(rng, playlist_id), Intent("playlist", playlist_id, ref))
        else:
            work.add(_invalid_line(rng, ref), Intent("invalid", "", None))

    # Duplicates: an earlier line again, mostly in another form of the same input.
    originals = [i for i, intent in enumerate(work.intents) if intent.kind != "invalid"]
    for position in rng.sample(originals, total - len(work.lines)):
        intent = work.intents[position]
        if intent.kind == "handle":
            line = _handle_line(rng, intent.key)
        elif intent.kind == "channel_id" and rng.random() < 0.5:
            line = f"https://www.youtube.com/channel/{intent.key}/about"
        elif intent.kind == "video":
            line = _video_line(rng, intent.key)
        else:
            line = work.lines[position]
        work.add(line, intent)
    order = list(range(len(work.lines)))
    rng.shuffle(order)
    shuffled = Workload()
    for i in order:
        shuffled.add(work.lines[i], work.intents[i])
    _check_against_parser(shuffled, fold)
    return shuffled


def handles_workload(catalogue: Any, total: int, *, seed: int) -> Workload:
    """``total`` distinct live handles in mixed forms and cases (one forHandle call each)."""
    rng = random.Random(f"bench-handles:{seed}:{total}")
    work = Workload()
    seen: set[int] = set()
    while len(work.lines) < total:
        index = rng.randrange(len(catalogue))
        if index in seen or not catalogue.live(index):
            continue
        seen.add(index)
        handle = catalogue.handles[index]
        work.add(_handle_line(rng, handle), Intent("handle", handle.lower(), index))
    return work


def _check_against_parser(work: Workload, fold: Any) -> None:
    """Every line must parse to the kind and value its intent says; else the truth would be wrong."""
    from pipeline.inputs import plan_inputs

    plan = plan_inputs(work.lines)
    bad = []
    for line, intent in zip(plan.lines, work.intents, strict=True):
        parsed = line.parsed
        if parsed.kind != intent.kind or (intent.kind != "invalid" and parsed.value != intent.key):
            bad.append((line.text, intent, parsed))
    if bad:
        sample = "\n".join(
            f"  {t!r}: meant {i.kind}:{i.key!r}, parsed {p.kind}:{p.value!r} ({p.reason})"
            for t, i, p in bad[:10]
        )
        raise AssertionError(f"{len(bad)} generated line(s) do not parse as intended:\n{sample}")


def ceil50(n: int) -> int:
    return math.ceil(n / 50)


@contextlib.contextmanager
def sampling(interval: float, action: Any) -> Iterator[list[Any]]:
    """Call ``action()`` every ``interval`` seconds in a thread while the block runs; collect its answers."""
    import threading

    samples: list[Any] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                samples.append(action())
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="bench-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=10)


# --- where the CPU goes --------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_snapshot(*, workers: Workers | None = None, emulator: Emulator | None = None) -> dict[str, float]:
    """CPU seconds so far by component: the bench workers, the emulator, PostgreSQL backends of
    ``ytc_bench``, the rest of PostgreSQL, RabbitMQ, Redis, this driver, and the whole machine."""
    split = dict.fromkeys(
        (
            "workers",
            "emulator",
            "postgres_bench",
            "postgres_other",
            "rabbitmq",
            "redis",
            "driver",
            "machine",
            "steal",
        ),
        0.0,
    )
    mine = set()
    if workers is not None and workers.proc is not None:
        mine = {workers.proc.pid, *workers.worker_pids()}
        split["workers"] = sum(_cpu_of(p) for p in mine)
    if emulator is not None and emulator.proc is not None:
        emu = {emulator.proc.pid, *descendants(emulator.proc.pid)}
        mine |= emu
        split["emulator"] = sum(_cpu_of(p) for p in emu)
    split["driver"] = _cpu_of(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        cmd = _cmdline(int(entry))
        if cmd.startswith("postgres") or "/postgres" in cmd.split(" ")[0]:
            split["postgres_bench" if f" {DB_NAME} " in cmd else "postgres_other"] += _cpu_of(int(entry))
        elif "beam.smp" in cmd and "rabbit" in cmd:
            split["rabbitmq"] += _cpu_of(int(entry))
        elif cmd.startswith("redis-server") or "/redis-server" in cmd.split(" ")[0]:
            split["redis"] += _cpu_of(int(entry))
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    split["machine"] = (user + nice + system + irq + softirq) / _TICKS  # every process, ours and others'
    split["steal"] = steal / _TICKS  # taken by the hypervisor
    return split


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 2) for k in before}
