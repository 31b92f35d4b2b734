"""Reliability: a real ``dramatiq`` worker process killed, its broker connections cut, its Redis state
lost, its database restarted, its API failing, its input hostile. Every run must still finish exactly
once with exact counts, and no API key may show up in anything the system writes.

The worker is a subprocess started as an operator would (``python -m dramatiq actors``, settings from
the environment); the test process records runs with ``start_run`` (or publishes ``start_run`` like a
foreign backend), hosts the YouTube emulator, and plays the periodiq scheduler's reconcile tick where
production would have it. Every wait has a deadline and every process group is killed in a finally.

The broker side lives in a RabbitMQ vhost of its own: a worker process consuming ``resolve`` on the
default vhost would take other test sessions' messages (and they ours), and cutting connections must
cut this system's connections, not every session's on the machine. PostgreSQL and Redis are the
pipeline tests' (database ``test``, Redis db 2).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest
import redis as redis_lib
import sqlalchemy as sa
from pytest_mock import MockerFixture

from actors.dispatch import send_all
from emulator import EmulatorConfig, EmulatorServer, fingerprint
from models import Job, JobStatus, Run
from pipeline import maintenance
from pipeline.completion import RunCompletion
from pipeline.errors import RunNotFound
from pipeline.events import AmqpEventPublisher
from pipeline.runs import get_run_results, get_run_status, start_run
from pipeline.youtube.quota import QuotaLedger
from tests.conftest import AMQP_URL, PG_URL, named
from tests.factories import make_settings
from tests.integration.pipeline_harness import (
    KEYS,
    PIPELINE_REDIS_URL,
    QUEUES,
    RUN_FINISHED_QUEUE,
    make_pipeline_ctx,
    redeclare_stage_queues,
    snapshot_integrity,
    truncate,
    wait_until,
)
from tests.integration.pipeline_harness import purge_queues as harness_purge_queues
from tests.integration.worker_process import WorkerProcess, worker_env

# Each test takes 10 to 60 s; the bound stops a wedged one early (its finally still kills the worker group).
pytestmark = [pytest.mark.services, pytest.mark.reliability, pytest.mark.timeout(150)]

# Keys of test 7: one good, one the emulator calls invalid (API_KEY_INVALID), one of a project whose
# API is disabled (SERVICE_DISABLED). None of them has the shape of a Google key (AIza + 35), so only
# the registered-secret redaction can hide them, not the shape-based one.
GOOD_KEY = "AIzaFakeKey-DISTINCTIVE-rel-0001"
INVALID_KEY = "AIzaFakeKey-DISTINCTIVE-rel-0002-bad"
DISABLED_KEY = "AIzaFakeKey-DISTINCTIVE-rel-0003-off"
ALL_KEYS = [*KEYS, GOOD_KEY, INVALID_KEY, DISABLED_KEY]
KEY_FRAGMENTS = ["DISTINCTIVE", "FakeKey"]  # a key cut, re-encoded or partly redacted still shows these

VHOST = named("ytc_reliability")
BROKER_URL = AMQP_URL.rsplit("/", 1)[0] + "/" + VHOST

EXPECTED_PERMANENT = {"not_found", "invalid_input", "needs_search"}
TABLES = [
    "runs",
    "run_inputs",
    "jobs",
    "channels",
    "channel_snapshots",
    "resolutions",
    "resolution_changes",
    "api_calls",
]
OPEN = [str(s) for s in (JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING, JobStatus.WAITING_QUOTA)]
TERMINAL = [str(s) for s in (JobStatus.DONE, JobStatus.FAILED, JobStatus.NEEDS_SEARCH, JobStatus.CANCELLED)]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rel_emulator() -> Iterator[EmulatorServer]:
    """An emulator of its own: the harness's keys and test 7's good key are valid, two more are bad."""
    config = EmulatorConfig(
        seed=23,
        channels=3_000,
        keys=[*KEYS, GOOD_KEY],
        invalid_keys=[INVALID_KEY],
        disabled_keys=[DISABLED_KEY],
    )
    with EmulatorServer(config, host="127.0.0.1", port=0) as emu:
        yield emu


def ensure_vhost() -> None:
    """Create the tests' vhost and give ``guest`` every permission on it (idempotent)."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, timeout=60, check=True
    )
    if VHOST not in listed.stdout.split():
        subprocess.run(["rabbitmqctl", "add_vhost", VHOST], capture_output=True, timeout=60, check=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
        capture_output=True,
        timeout=60,
        check=True,
    )


@pytest.fixture(scope="module")
def rel_broker(services: None) -> Iterator[Any]:
    """The actors on a RabbitMQ broker in the tests' vhost (with confirms), for sending from this process."""
    import dramatiq

    import actors  # noqa: F401
    from actors.broker import rabbitmq_broker, rebind

    ensure_vhost()
    redeclare_stage_queues(BROKER_URL, make_settings())
    original = dramatiq.get_broker()
    broker = rebind(rabbitmq_broker(BROKER_URL, make_settings()))
    yield broker
    broker.close()
    rebind(original)


def purge_queues() -> None:
    harness_purge_queues(BROKER_URL)


def drain_events() -> list[bytes]:
    """Every run_finished event waiting in the vhost (consumed), on a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        channel.queue_declare(queue=RUN_FINISHED_QUEUE, durable=True)
        while True:
            method, _props, body = channel.basic_get(RUN_FINISHED_QUEUE, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


@dataclass
class Rig:
    """One test's world: a context on the real services, the emulator, and the worker processes."""

    ctx: Any
    emulator: EmulatorServer
    tmp_path: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def settings_env(self, keys: Sequence[str] = KEYS, **settings: object) -> dict[str, str]:
        return worker_env(
            {
                "BROKER_URL": BROKER_URL,
                "REDIS_URL": PIPELINE_REDIS_URL,
                "DATABASE_URL": PG_URL,
                "YT_API_KEYS": ",".join(keys),
                "YOUTUBE_API_URL": self.emulator.base_url,
                "RUN_FINISHED_QUEUE": RUN_FINISHED_QUEUE,
                "ACTOR_MIN_BACKOFF_MS": 100,
                "ACTOR_MAX_BACKOFF_MS": 1_000,
                "CLIENT_BACKOFF_BASE_SECONDS": 0.05,
                "CLIENT_BACKOFF_MAX_SECONDS": 0.5,
                "METRICS_PORT": 0,  # no Prometheus port: tests running side by side must not fight over 9191
                # These tests prove the channel pipeline under kills and cuts within their time bounds;
                # the video part has its own tests (test_videos_pipeline.py, test_videos_feed.py).
                "RECENT_VIDEOS": 0,
                **settings,
            }
        )

    def worker(
        self, keys: Sequence[str] = KEYS, *, verbose: bool = False, **settings: object
    ) -> WorkerProcess:
        """A started worker process (1 process, 4 threads) with these keys and settings."""
        if verbose:  # DEBUG from Dramatiq's CLI and from the pipeline's own logging setup
            settings.setdefault("LOG_LEVEL", "DEBUG")
        worker = WorkerProcess(
            self.settings_env(keys, **settings),
            self.tmp_path / f"worker-{len(self.workers)}.log",
            extra_args=["-v"] if verbose else [],
        )
        self.workers.append(worker)
        return worker.start()

    def logs(self) -> str:
        return "\n".join(w.log_text() for w in self.workers)

    def diagnose(self) -> str:
        """What a failed wait shows: jobs by status, queue depths, and the tail of every worker log."""
        parts = []
        try:
            with self.ctx.session() as s:
                counts = s.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all()
            parts.append(f"jobs: {dict(counts)}")
        except Exception as exc:
            parts.append(f"jobs: unreadable ({type(exc).__name__})")
        parts.append(f"queues (ready messages): {queue_depths()}")
        parts += [f"--- {w.log_path.name} (tail) ---\n{w.log_tail()}" for w in self.workers]
        return "\n".join(parts)


@pytest.fixture
def rig(
    pg_engine: sa.Engine, rel_broker: Any, rel_emulator: EmulatorServer, clock: Any, tmp_path: Path
) -> Iterator[Rig]:
    truncate(pg_engine)
    rel_emulator.reset()
    purge_queues()
    drain_events()
    # make_pipeline_ctx also flushes the pipeline tests' Redis database.
    ctx = make_pipeline_ctx(rel_emulator, clock, recent_videos=0)
    ctx.events = AmqpEventPublisher(BROKER_URL, RUN_FINISHED_QUEUE)  # reconcile may republish from here
    rig = Rig(ctx, rel_emulator, tmp_path)
    try:
        yield rig
    finally:
        for worker in rig.workers:
            worker.kill()
        ctx.close()
        rel_emulator.reset()
        purge_queues()


class Scheduler:
    """The periodiq scheduler's ``reconcile`` tick, every ``every`` seconds, from a thread of this process.

    Production ticks every minute and calls a job stuck after 10 minutes; a test scales both down
    (stuck after 20 s: longer than most jobs wait in a queue here, so mostly really stuck ones are resent).
    It is the design's safety net for the crash windows redelivery cannot cover (a metadata dispatch
    claimed and not sent, a finalize won and not published); the tests pass without it in practice.
    A tick that fails (the database restarting, the broker cutting connections) is simply the next
    tick's job, as with periodiq.
    """

    def __init__(self, ctx: Any, *, every: float = 1.0, stuck_after_seconds: int = 20) -> None:
        self.ctx = ctx
        self.every = every
        self.stuck_after = stuck_after_seconds
        self.reports: list[maintenance.ReconcileReport] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconcile-tick", daemon=True)

    def __enter__(self) -> Scheduler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                report = maintenance.reconcile(self.ctx, stuck_after_seconds=self.stuck_after)
                send_all(report.sends)
                self.reports.append(report)
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    def rebuilt(self, run_id: str) -> bool:
        return any(run_id in r.rebuilt for r in self.reports)

    def summary(self) -> dict[str, int]:
        return {
            "ticks": len(self.reports),
            "failed_ticks": len(self.errors),
            "rebuilt": sum(len(r.rebuilt) for r in self.reports),
            "finalize_sent": sum(len(r.finalized) for r in self.reports),
            "jobs_resent": sum(r.resent_jobs for r in self.reports),
        }


# --- inputs --------------------------------------------------------------------------------------


def mixed_inputs(
    emulator: EmulatorServer, *, handles: int, ids: int, offset: int = 0
) -> tuple[list[str], list[str]]:
    """Lines of several kinds, each on its own channel, and the status each line must end in.

    Handles resolve one call each (the slow part with latency), ids share 50-id batches after the
    resolution barrier, plus usernames, videos, duplicates, unknown handles, terminated channels
    and invalid lines, so every stage and both outcomes run.
    """
    catalogue = emulator.catalogue.sample(3_000, offset)
    live = [c for c in catalogue if not c["terminated"] and c["handle"]]
    dead = [c for c in catalogue if c["terminated"]]
    lines: list[str] = []
    expected: list[str] = []

    def add(line: str, status: str) -> None:
        lines.append(line)
        expected.append(status)

    pool = iter(live)
    for i in range(handles):
        c = next(pool)
        add(f"@{c['handle']}" if i % 3 else f"https://www.youtube.com/@{c['handle']}/videos", "DONE")
        if i % 25 == 0 and c["handle"].isascii():
            add(f"youtube.com/@{c['handle'].upper()}", "DONE")  # a duplicate: same job
    for i in range(ids):
        c = next(pool)
        add(c["id"] if i % 2 else f"https://www.youtube.com/channel/{c['id']}/about", "DONE")
    rest = list(pool)
    with_username = [c for c in rest if c["username"]][:10]
    for c in with_username:
        add(f"https://www.youtube.com/user/{c['username']}", "DONE")
    for c in [c for c in rest if c["video_ids"] and c not in with_username][:10]:
        add(f"https://youtu.be/{c['video_ids'][0]}?si=rel", "DONE")
    for i in range(10):
        add(f"@no-such-channel-rel-{i}", "FAILED")
    for c in dead[:5]:
        add(c["id"], "FAILED")
    for bad in ("not a channel!", "https://example.com/@x", "javascript:alert(1)", "UCshort", ""):
        add(bad, "FAILED")
    return lines, expected


def hostile_inputs(
    emulator: EmulatorServer, total: int = 10_000, seed: int = 6
) -> tuple[list[Any], dict[int, str]]:
    """``total`` hostile lines (deterministic for ``seed``) and the valid ones among them: index → DONE."""
    rng = random.Random(seed)
    live = [c for c in emulator.catalogue.sample(3_000, 1_000) if not c["terminated"] and c["handle"]]
    fixed: list[Any] = [
        # SQL injection, bare and inside every URL form
        "'); DROP TABLE jobs;--",
        "@x'); DROP TABLE runs;--",
        "UC' OR '1'='1",
        "1; DELETE FROM channels;",
        "https://www.youtube.com/@a';DELETE FROM channels;--",
        "https://www.youtube.com/channel/UC'||pg_sleep(10)--",
        "https://www.youtube.com/c/x%27%3B%20DROP%20TABLE%20jobs%3B--",
        "Robert'); DROP TABLE run_inputs;--",
        "$$; DROP TABLE api_calls; $$",
        "\\'; TRUNCATE jobs; --",
        "' UNION SELECT key FROM secrets --",
        # HTML and JavaScript
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "javascript:alert(document.cookie)",
        "https://www.youtube.com/@<svg/onload=alert(1)>",
        "data:text/html,<script>alert(1)</script>",
        "<iframe src=//evil.example>",
        "[bold red]rich markup[/]",
        "{{7*7}}${7*7}%s%n",
        # NUL and control characters
        "\x00",
        "@abc\x00def",
        "UCuBIuC4O7_aMu1p1WB_4kqA\x00",
        "https://www.youtube.com/@x%00y",
        "\x00" * 3000,
        "\x1b[2J\x1b[31mred",
        "\x07\x08\x0b\x0c",
        "@a\r\nb",
        # bidi, zero-width, emoji, byte-order marks, lone surrogates
        "\u202e@moc.ebutuoy",
        "@\u200fhandle",
        "@hand\u202ele",
        "\u200d",
        "@a\u200db",
        "@\u200b\u200b",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
        "@\U0001f600\U0001f600\U0001f600",
        "@" + "\U0001f600" * 40,
        "\ufeff@bom",
        "\udc80\udcff",
        "@\ud800",
        "@e\u0301\u0301\u0301",
        # very long unicode handles
        "@" + "ü" * 5_000,
        "@" + "日本" * 2_000,
        "https://www.youtube.com/@" + "é" * 3_000,
        "@" + "a" * 31,
        # percent-encoded garbage
        "%00%ff%fe",
        "https://www.youtube.com/@%F0%9F%98%80",
        "https://www.youtube.com/c/%25%25%25",
        "https://youtube.com/@%E0%A4%A",
        "%" * 500,
        "https://www.youtube.com/redirect?q=" + "%2525" * 300,
        "https://www.youtube.com/attribution_link?u=%2Fattribution_link%3Fu%3D%252Fattribution_link",
        # blanks and a foreign backend's non-strings
        "",
        " ",
        "\t\n",
        None,
        12_345,
        3.14,
        True,
        {"$ne": 1},
        ["@nested"],
    ]
    lines: list[Any] = []
    valid: dict[int, str] = {}
    huge_left = 30  # strings of 10 to 100 KB; each is cut to the input length limit when recorded
    for i in range(total):
        roll = rng.random()
        if i < len(fixed):
            line = fixed[i]
        elif roll < 0.15:  # valid lines among the garbage: they must still come out DONE
            c = live[i % len(live)]
            line = rng.choice(
                [
                    c["id"],
                    f"@{c['handle']}",
                    f"https://www.youtube.com/channel/{c['id']}",
                    f"https://m.youtube.com/@{c['handle']}?feature=share",
                ]
            )
            valid[i] = "DONE"
        elif roll < 0.40:
            line = rng.randbytes(rng.randint(1, 300)).decode("utf-8", "replace")
        elif roll < 0.50:
            line = rng.randbytes(rng.randint(1, 300)).decode("utf-8", "surrogateescape")
        elif roll < 0.51 and huge_left:
            huge_left -= 1
            size = rng.randint(10_000, 100_000)
            line = (
                rng.choice(["@", "https://www.youtube.com/@", "UC", ""]) + rng.choice("a\u00e9\u65e5%") * size
            )
        elif roll < 0.62:
            line = rng.choice(fixed[:19]).replace("1", str(rng.randint(0, 10**9)))
        elif roll < 0.74:
            line = "@" + "".join(
                rng.choice("a\u200d\u200f\u202e\u0301\U0001f600\u65e5\u0627\ufeff_.")
                for _ in range(rng.randint(1, 80))
            )
        elif roll < 0.86:
            line = rng.choice(
                ["https://www.youtube.com/@", "https://www.youtube.com/c/", "youtu.be/", "%"]
            ) + "".join(f"%{rng.randrange(256):02X}" for _ in range(rng.randint(1, 120)))
        else:  # printable ASCII words: some read as bare-word handles and cost one (not-found) lookup
            line = "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_.-/:?=&@ '\"<>;")
                for _ in range(rng.randint(1, 40))
            )
        lines.append(line)
    return lines, valid


def stored_text(item: Any, max_length: int) -> str:
    """What ``run_inputs.text`` must hold for a line: the text as sent, cut to the limit, with the
    characters PostgreSQL text cannot hold (NUL, lone surrogates) replaced by U+FFFD."""
    text = item if isinstance(item, str) else ("" if item is None else str(item))
    text = text[: max_length + 1]
    return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


# --- waiting and checking --------------------------------------------------------------------------


def status_of(ctx: Any, run_id: str) -> dict[str, Any] | None:
    try:
        return get_run_status(run_id, ctx=ctx)
    except RunNotFound:
        return None


def progress(ctx: Any, run_id: str) -> float:
    """The share of the run's jobs that are terminal, read from the database (0 before normalize)."""
    with ctx.session() as s:
        rows = s.execute(
            sa.select(Job.status, sa.func.count()).where(Job.run_id == run_id).group_by(Job.status)
        ).all()
    total = sum(n for _s, n in rows)
    return sum(n for st, n in rows if st in TERMINAL) / total if total else 0.0


def wait(
    rig: Rig,
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """``wait_until`` with the worker logs in the failure message; ``tolerate`` errors count as 'not yet'."""

    def check() -> Any:
        try:
            return predicate()
        except tolerate:
            return None

    try:
        return wait_until(check, timeout=timeout, interval=interval)
    except AssertionError:
        raise AssertionError(f"{what}: not within {timeout} s\n{rig.diagnose()}") from None


def wait_finished(
    rig: Rig,
    run_id: str,
    *,
    timeout: float,
    tolerate: tuple[type[BaseException], ...] = (),
    supervise: Supervisor | None = None,
) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        if supervise is not None:
            supervise.check()
        status = status_of(rig.ctx, run_id)
        return status if status and status["run_status"] == "FINISHED" else None

    return wait(rig, done, timeout=timeout, what=f"run {run_id} FINISHED", interval=0.2, tolerate=tolerate)


class Supervisor:
    """An operator's restart policy (compose ``restart: unless-stopped``): a worker that exited is started again."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.restarts = 0

    def check(self) -> None:
        if not self.worker.alive:
            self.restarts += 1
            self.worker.restart()


def settle_events(rig: Rig, run_id: str) -> list[dict[str, Any]]:
    """Once the run's event is marked sent, stop every worker gracefully (nothing left in flight that
    could publish again) and take every event waiting on the queue."""

    def sent() -> bool:
        with rig.ctx.session() as s:
            return s.get(Run, run_id).finished_event_sent_at is not None

    wait(rig, sent, timeout=30, what="run_finished marked sent", interval=0.1)
    for worker in rig.workers:
        worker.stop()
    return [json.loads(body) for body in drain_events()]


def assert_exact(
    rig: Rig,
    run_id: str,
    status: dict[str, Any],
    events: list[dict[str, Any]],
    expected: Sequence[str] | None = None,
) -> None:
    """Summary counts == jobs table == total_jobs; one snapshot per channel DONE; one event; and, when
    given, each input line's status as a fault-free run would have it."""
    counts = status["summary"]["counts_by_status"]
    with rig.ctx.session() as s:
        by_status = dict(
            s.execute(
                sa.select(Job.status, sa.func.count()).where(Job.run_id == run_id).group_by(Job.status)
            ).all()
        )
    twice, snapshots, channels_done = snapshot_integrity(rig.ctx, run_id)
    assert counts == by_status, (counts, by_status)
    assert sum(counts.values()) == status["total_jobs"] > 0
    assert not set(by_status) & set(OPEN), by_status
    assert twice == [], f"channels with two snapshots from one run: {twice}"
    assert snapshots == channels_done, (snapshots, channels_done)
    assert [e["run_id"] for e in events] == [run_id], events
    assert events[0]["counts_by_status"] == counts
    if expected is not None:
        results = get_run_results(run_id, ctx=rig.ctx)
        assert len(results) == len(expected)
        wrong = [
            (r["line"], r["input"], r["status"], r["error_code"], want)
            for r, want in zip(results, expected, strict=True)
            if r["status"] != want
        ]
        assert wrong == [], f"{len(wrong)} lines ended differently from a fault-free run: {wrong[:10]}"


def failed_for_transient_reasons(rig: Rig, run_id: str) -> list[tuple[Any, ...]]:
    with rig.ctx.session() as s:
        return s.execute(
            sa.select(Job.id, Job.kind, Job.value, Job.error_code, Job.error_message).where(
                Job.run_id == run_id,
                Job.status.in_(["FAILED", "NEEDS_SEARCH"]),
                Job.error_code.notin_(EXPECTED_PERMANENT),
            )
        ).all()


def queue_depths() -> dict[str, int | None]:
    """Ready messages per stage queue (and its delay queue); None where the queue does not exist."""
    depths: dict[str, int | None] = {}
    try:
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    except Exception as exc:
        return {"unreachable": None, type(exc).__name__: None}
    try:
        channel = connection.channel()
        for name in [*QUEUES, *(f"{q}.DQ" for q in QUEUES), RUN_FINISHED_QUEUE]:
            try:
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                depths[name] = None
                channel = connection.channel()
    finally:
        connection.close()
    return depths


# --- where a key could leak ----------------------------------------------------------------------------


def pg_dump() -> str:
    dump = subprocess.run(
        ["pg_dump", "--data-only", "-h", "127.0.0.1", "-U", "postgres", PG_URL.rsplit("/", 1)[-1]],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return dump.stdout.decode("utf-8", "replace")


def redis_dump() -> str:
    """Every key of the pipeline tests' Redis database (as ``redis-cli -n 2 --scan`` lists them) and its value."""
    client = redis_lib.Redis.from_url(PIPELINE_REDIS_URL, decode_responses=False)
    try:
        out = []
        for key in client.scan_iter(count=1_000):
            kind = client.type(key).decode()
            value: Any = {
                "string": client.get,
                "hash": client.hgetall,
                "set": client.smembers,
                "list": lambda k: client.lrange(k, 0, -1),
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            }.get(kind, lambda k: b"")(key)
            out.append(f"{key!r} {kind} {value!r}")
        return "\n".join(out)
    finally:
        client.close()


def cli(rig: Rig, keys: Sequence[str], *args: str) -> str:
    """``ytcollect ARGS`` as an operator runs it, configured like the worker (keys included)."""
    exe = Path(sys.executable).with_name("ytcollect")
    done = subprocess.run(
        [str(exe), *args], env=rig.settings_env(keys), cwd=rig.tmp_path, capture_output=True, timeout=60
    )
    out = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, out
    return out


def assert_no_key_anywhere(
    rig: Rig, run_id: str, events: list[dict[str, Any]], extra: dict[str, str] | None = None
) -> None:
    """No key, whole or in part, in the worker logs, the database, Redis, the events or ``extra`` outputs."""
    places = {
        "worker log": rig.logs(),
        "pg_dump": pg_dump(),
        "redis": redis_dump(),
        "run_finished events": json.dumps(events),
        **(extra or {}),
    }
    assert run_id in places["pg_dump"], "the dump holds nothing of the run: the check would prove nothing"
    assert "ytc:" in places["redis"]
    leaks = [
        (where, needle)
        for where, text in places.items()
        for needle in [*ALL_KEYS, *KEY_FRAGMENTS]
        if needle in text
    ]
    assert leaks == [], f"API key material found in: {leaks}"


# --- the tests -----------------------------------------------------------------------------------------


def metadata_dispatched(ctx: Any, run_id: str) -> bool:
    """The resolution barrier has passed: the run's fetch_metadata batches are going out."""
    with ctx.session() as s:
        return s.get(Run, run_id).metadata_dispatched_at is not None


def test_sigkilled_worker_restarted_finishes_the_run_exactly_once(rig: Rig) -> None:
    """Given a run on a real worker process, when the worker is SIGKILLed right after the start, at ~10% and ~50% of jobs done and as the metadata batches go out, and restarted each time, then the run finishes once with exact counts, one snapshot per channel and one run_finished."""
    rig.emulator.set_faults(latency_ms=30)  # seconds of API work for 4 threads: room to kill it mid-way
    lines, expected = mixed_inputs(rig.emulator, handles=400, ids=200)
    # Batches of 5 ids: the metadata phase lasts long enough for a kill to land in it.
    worker = rig.worker(METADATA_BATCH_SIZE=5)
    kills = []
    with Scheduler(rig.ctx) as scheduler:
        run_id = start_run("rel-kill", "owner-rel", lines, ctx=rig.ctx, send=send_all)
        points: list[tuple[str, Callable[[], bool]]] = [
            (
                "right after the start",
                lambda: (status_of(rig.ctx, run_id) or {}).get("run_status") == "RUNNING",
            ),
            ("~10% done", lambda: progress(rig.ctx, run_id) >= 0.10),
            ("~50% done", lambda: progress(rig.ctx, run_id) >= 0.50),
            ("metadata batches going out", lambda: metadata_dispatched(rig.ctx, run_id)),
        ]
        for number, (when, reached) in enumerate(points):
            wait(rig, reached, timeout=60, what=when, interval=0.01)
            if number % 2 == 0:
                worker.kill()  # the host dies: master and worker processes at once
            else:
                code = worker.kill_worker_process()  # one worker process dies; Dramatiq's master follows
                assert code not in (None, 0), "the master kept running without its worker process"
            kills.append((when, round(progress(rig.ctx, run_id), 3)))
            worker.start()  # the restart policy
        status = wait_finished(rig, run_id, timeout=60)
    events = settle_events(rig, run_id)
    print(f"kills at {kills}; reconcile {scheduler.summary()}")
    assert all(done < 1.0 for _when, done in kills), f"a kill came after every job was done: {kills}"
    assert worker.starts == 5
    assert_exact(rig, run_id, status, events, expected)
    assert_no_key_anywhere(rig, run_id, events)


class Killed(BaseException):
    """Stands for a SIGKILL at one exact point: nothing after it runs, nothing catches it."""


def crash_once(mocker: MockerFixture, target: Any, name: str) -> None:
    """Make ``target.name`` die the next time it is called, and only then."""
    original = getattr(target, name)
    first = [True]

    def die_once(*args: Any, **kwargs: Any) -> Any:
        if first.pop() if first else False:
            raise Killed(name)
        return original(*args, **kwargs)

    mocker.patch.object(target, name, side_effect=die_once)


def test_a_stage_killed_between_its_commit_and_its_redis_marks_counts_on_redelivery(
    rig: Rig, mocker: MockerFixture
) -> None:
    """Given a resolve killed after its commit and before its Redis marks, another killed between its two marks, and a fetch_metadata killed after its commit, when each message is redelivered, then every job is counted once and the run finishes without reconcile."""
    from pipeline.stages import (
        fetch_metadata_jobs,
        finalize_run,
        normalize_run,
        record_run,
        resolve_jobs,
        validate_run_request,
    )

    ctx = rig.ctx
    mocker.patch.object(ctx.settings, "resolve_lookups_per_message", 1)  # a message per lookup, to kill each
    live = [c for c in rig.emulator.catalogue.sample(40) if not c["terminated"] and c["handle"]]
    lines = [f"@{c['handle']}" for c in live[:4]] + [c["id"] for c in live[4:7]]
    run_id = str(uuid.uuid4())
    request = validate_run_request(
        ctx, run_id=run_id, analysis_id="a", owner_id="o", channel_inputs=lines, options={}
    )
    record_run(ctx, request)
    resolves = [send.kwargs["job_ids"] for send in normalize_run(ctx, run_id) if send.actor == "resolve"]
    assert len(resolves) == 4
    sends = []

    crash_once(mocker, ctx.completion, "mark_terminal")  # after the commit, before any Redis mark
    with pytest.raises(Killed):
        resolve_jobs(ctx, run_id, resolves[0])
    assert progress(ctx, run_id) == 1 / 7  # committed DONE, not counted
    sends += resolve_jobs(ctx, run_id, resolves[0])  # RabbitMQ redelivers the unacked message
    assert ctx.completion.live(run_id).counts == {"DONE": 1}, "the redelivery did not count the job"

    crash_once(mocker, ctx.completion, "mark_resolved")  # counted as done, not as resolved
    with pytest.raises(Killed):
        resolve_jobs(ctx, run_id, resolves[1])
    sends += resolve_jobs(ctx, run_id, resolves[1])
    assert ctx.completion.live(run_id).unresolved == 2, "the redelivery did not count the job as resolved"
    for job_ids in resolves[2:]:
        sends += resolve_jobs(ctx, run_id, job_ids)

    fetches = [send.kwargs["job_ids"] for send in sends if send.actor == "fetch_metadata"]
    assert fetches, "the resolution barrier never opened: the metadata of the channel ids is never fetched"
    crash_once(mocker, ctx.completion, "mark_terminal")
    with pytest.raises(Killed):
        fetch_metadata_jobs(ctx, run_id, fetches[0])
    for job_ids in fetches:
        sends += fetch_metadata_jobs(ctx, run_id, job_ids)

    live_state = ctx.completion.live(run_id)
    assert live_state is not None and live_state.remaining == 0, live_state
    assert live_state.counts == {"DONE": 7}
    assert [send.actor for send in sends].count("finalize") == 1
    finalize_run(ctx, run_id)
    assert get_run_status(run_id, ctx=ctx)["run_status"] == "FINISHED"


def test_a_stage_killed_between_its_redis_mark_and_its_sends_resends_finalize_on_redelivery(rig: Rig) -> None:
    """Given a normalize and a fetch_metadata each killed after the Redis mark that emptied their run and before sending finalize, when each message is redelivered, then finalize is sent again and the run finishes without reconcile."""
    from pipeline.stages import fetch_metadata_jobs, normalize_run, record_run, validate_run_request

    ctx = rig.ctx

    def new_run(lines: list[str]) -> str:
        run_id = str(uuid.uuid4())
        record_run(
            ctx,
            validate_run_request(
                ctx, run_id=run_id, analysis_id="a", owner_id="o", channel_inputs=lines, options={}
            ),
        )
        return run_id

    invalid_only = new_run(["not a channel!", "javascript:alert(1)"])
    assert [s.actor for s in normalize_run(ctx, invalid_only)] == ["finalize"]  # killed: never sent
    assert [s.actor for s in normalize_run(ctx, invalid_only)] == ["finalize"], "the redelivery lost finalize"

    ids_only = new_run([c["id"] for c in rig.emulator.catalogue.sample(10) if not c["terminated"]][:3])
    fetches = [s for s in normalize_run(ctx, ids_only) if s.actor == "fetch_metadata"]
    assert len(fetches) == 1
    job_ids = fetches[0].kwargs["job_ids"]
    assert [s.actor for s in fetch_metadata_jobs(ctx, ids_only, job_ids)] == [
        "finalize"
    ]  # killed: never sent
    assert [s.actor for s in fetch_metadata_jobs(ctx, ids_only, job_ids)] == ["finalize"], (
        "the redelivery lost finalize"
    )


def test_rabbitmq_connections_closed_mid_run_the_run_finishes(rig: Rig) -> None:
    """Given a running run, when RabbitMQ closes every connection of the vhost twice (`rabbitmqctl close_all_connections`), then the worker reconnects (and were it to exit instead, its restart policy would start it again) and the run finishes exactly once."""
    rig.emulator.set_faults(latency_ms=30)
    lines, expected = mixed_inputs(rig.emulator, handles=400, ids=200)
    worker = rig.worker()
    supervisor = Supervisor(worker)
    consumer_cut = "Consumer encountered a connection error"  # Dramatiq's line when a consumer loses RabbitMQ
    with Scheduler(rig.ctx) as scheduler:
        run_id = start_run("rel-amqp", "owner-rel", lines, ctx=rig.ctx, send=send_all)
        for share in (0.2, 0.6):
            wait(
                rig,
                lambda share=share: progress(rig.ctx, run_id) >= share,
                timeout=60,
                what=f"{share:.0%} of jobs terminal",
                interval=0.02,
            )
            seen = rig.logs().count(consumer_cut)
            cut = subprocess.run(
                ["rabbitmqctl", "close_all_connections", "--vhost", VHOST, "reliability test"],
                capture_output=True,
                timeout=60,
            )
            assert cut.returncode == 0, cut.stderr
            wait(
                rig,
                lambda seen=seen: rig.logs().count(consumer_cut) > seen or not worker.alive,
                timeout=20,
                what="the worker noticed its connections were closed",
            )
            supervisor.check()
        status = wait_finished(rig, run_id, timeout=90, supervise=supervisor)
    events = settle_events(rig, run_id)  # drain_events opens a new connection: the old ones are gone
    print(f"worker restarts: {supervisor.restarts}; reconcile {scheduler.summary()}")
    assert_exact(rig, run_id, status, events, expected)
    assert_no_key_anywhere(rig, run_id, events)


def test_redis_keys_lost_mid_run_reconcile_finishes_with_exact_counts(rig: Rig) -> None:
    """Given a running run, when its Redis keys are deleted twice mid-run, then the scheduler's reconcile rebuilds them from the database and the run finishes with exact counts."""
    rig.emulator.set_faults(latency_ms=30)
    lines, expected = mixed_inputs(rig.emulator, handles=400, ids=200)
    rig.worker()
    completion = RunCompletion(rig.ctx.redis)
    with Scheduler(rig.ctx, stuck_after_seconds=8) as scheduler:
        run_id = start_run("rel-redis", "owner-rel", lines, ctx=rig.ctx, send=send_all)
        for share in (0.3, 0.7):
            wait(
                rig,
                lambda share=share: progress(rig.ctx, run_id) >= share,
                timeout=60,
                what=f"{share:.0%} of jobs terminal",
                interval=0.02,
            )
            completion.forget(run_id)
            assert completion.live(run_id) is None
            # Meanwhile status comes from the database, until reconcile rebuilds the keys.
            status = get_run_status(run_id, ctx=rig.ctx)
            assert sum(status["status_counts"].values()) == status["total_jobs"], status
            wait(
                rig,
                lambda: scheduler.rebuilt(run_id) or progress(rig.ctx, run_id) == 1.0,
                timeout=10,
                what="reconcile rebuilt the run's keys",
            )
        status = wait_finished(rig, run_id, timeout=60)
    events = settle_events(rig, run_id)
    print(f"reconcile {scheduler.summary()}")
    assert scheduler.rebuilt(run_id)
    assert_exact(rig, run_id, status, events, expected)
    assert_no_key_anywhere(rig, run_id, events)


def test_postgresql_restarted_mid_run_nothing_is_lost(rig: Rig) -> None:
    """Given a running run, when PostgreSQL restarts under it, then failed transactions are retried and the run finishes with every line accounted for."""
    rig.emulator.set_faults(latency_ms=30)
    lines, expected = mixed_inputs(rig.emulator, handles=400, ids=200)
    # Production retries 5 times with backoffs up to a minute: minutes of outage. Backoffs scaled down
    # to 1 s need more retries to span the same restart, or jobs would fail as retries_exhausted.
    rig.worker(ACTOR_MAX_RETRIES=20)
    cluster = os.listdir("/etc/postgresql")[0]
    tolerate = (sa.exc.OperationalError, sa.exc.DBAPIError, psycopg.Error)
    with Scheduler(rig.ctx) as scheduler:
        run_id = start_run("rel-pg", "owner-rel", lines, ctx=rig.ctx, send=send_all)
        wait(
            rig,
            lambda: progress(rig.ctx, run_id) >= 0.3,
            timeout=60,
            what="30% of jobs terminal",
            interval=0.02,
        )
        started = time.monotonic()
        restart = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"],
            capture_output=True,
            timeout=60,
        )
        assert restart.returncode == 0, restart.stderr

        def accepts() -> bool:
            with psycopg.connect(PG_URL, connect_timeout=2):
                return True

        wait(
            rig,
            accepts,
            timeout=30,
            what="PostgreSQL accepting connections",
            interval=0.2,
            tolerate=(psycopg.Error,),
        )
        outage = time.monotonic() - started
        status = wait_finished(rig, run_id, timeout=90, tolerate=tolerate)
    events = settle_events(rig, run_id)
    print(f"restart took {outage:.1f} s; reconcile {scheduler.summary()}")
    assert "OperationalError" in rig.logs() or "AdminShutdown" in rig.logs(), "no transaction saw the restart"
    assert failed_for_transient_reasons(rig, run_id) == []
    assert_exact(rig, run_id, status, events, expected)
    results = get_run_results(run_id, ctx=rig.ctx)
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    assert all(r["job_id"] is not None and r["status"] in TERMINAL for r in results)
    assert_no_key_anywhere(rig, run_id, events)


def test_transient_api_faults_and_a_key_spent_mid_run_fail_no_job(rig: Rig) -> None:
    """Given 10% 5xx, 5% 429, some 403 rate limits and dropped connections, and one key spent mid-run, when a run goes through, then no job fails for a transient reason and the run finishes."""
    transient = [
        {"endpoint": "*", "kind": "backend_500", "rate": 0.05},
        {"endpoint": "*", "kind": "backend_503", "rate": 0.05},
        {"endpoint": "*", "kind": "rate_limit_429", "rate": 0.05},
        {"endpoint": "*", "kind": "rate_limit_403", "rate": 0.02},
        {"endpoint": "*", "kind": "drop", "rate": 0.02},
    ]
    rig.emulator.set_faults(faults=transient, latency_ms=10)
    lines, expected = mixed_inputs(rig.emulator, handles=400, ids=300)
    rig.worker()
    run_id = start_run("rel-faults", "owner-rel", lines, ctx=rig.ctx, send=send_all)
    wait(
        rig, lambda: progress(rig.ctx, run_id) >= 0.3, timeout=60, what="30% of jobs terminal", interval=0.02
    )
    before = rig.emulator.emulator.faults.describe()["faults"]
    spent = fingerprint(KEYS[1])
    rig.emulator.set_faults(
        faults=[{"endpoint": "*", "kind": "quota_exceeded", "key": spent, "count": 1}, *transient],
        latency_ms=10,
    )
    status = wait_finished(rig, run_id, timeout=90)
    after = rig.emulator.emulator.faults.describe()["faults"]
    events = settle_events(rig, run_id)

    fired = {rule["kind"]: rule["fired"] for rule in before}
    for rule in after:
        fired[rule["kind"]] = fired.get(rule["kind"], 0) + rule["fired"]
    print(f"faults fired: {fired}")
    assert all(fired[kind] > 0 for kind in ("backend_500", "backend_503", "rate_limit_429", "quota_exceeded"))
    states = {k.fingerprint: k.state for k in rig.ctx.ledger.status()}
    assert states[spent] == "spent" and states[fingerprint(KEYS[0])] == "ok", states
    assert failed_for_transient_reasons(rig, run_id) == []
    assert "WAITING_QUOTA" not in status["summary"]["counts_by_status"]
    assert_exact(rig, run_id, status, events, expected)
    assert_no_key_anywhere(rig, run_id, events)


def test_ten_thousand_hostile_inputs_are_all_accounted_for(rig: Rig) -> None:
    """Given 10,000 hostile lines (random bytes, lone surrogates, NULs, 100 KB strings, SQL and HTML injection, bidi and zero-width characters, percent garbage, non-strings) among valid ones, published as a foreign backend would, when the run goes, then every line has a job and a terminal status in order, the valid ones are DONE, the tables stand and the worker never crashed."""
    lines, valid = hostile_inputs(rig.emulator)
    assert len(lines) == 10_000
    payload = json.dumps(lines)
    assert len(payload) < 8_000_000  # one AMQP message; RabbitMQ's limit is far above
    worker = rig.worker()
    import actors

    run_id = str(uuid.uuid4())
    actors.start_run.send(
        run_id=run_id, analysis_id="rel-hostile", owner_id="owner-rel", channel_inputs=lines, options={}
    )
    started = time.monotonic()
    status = wait_finished(rig, run_id, timeout=90)
    print(f"10,000 hostile lines finished in {time.monotonic() - started:.1f} s")
    assert worker.alive and worker.starts == 1, "the worker crashed"
    events = settle_events(rig, run_id)

    results = get_run_results(run_id, ctx=rig.ctx)
    max_length = rig.ctx.settings.max_input_length
    assert [r["line"] for r in results] == list(range(1, 10_001))
    assert all(r["job_id"] is not None and r["status"] in TERMINAL for r in results)
    wrong_text = [
        r["line"]
        for r, line in zip(results, lines, strict=True)
        if r["input"] != stored_text(line, max_length)
    ]
    assert wrong_text == [], f"lines not stored as sent: {wrong_text[:20]}"
    not_done = [
        (i + 1, lines[i], results[i]["status"], results[i]["error_code"])
        for i in valid
        if results[i]["status"] != "DONE"
    ]
    assert not_done == [], not_done[:10]
    assert failed_for_transient_reasons(rig, run_id) == []
    assert status["total_inputs"] == 10_000
    assert_exact(rig, run_id, status, events)
    with rig.ctx.session() as s:
        present = set(
            s.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalars()
        )
    assert set(TABLES) <= present
    log = rig.logs()
    assert "unhandled exception" not in log and "exited unexpectedly" not in log, rig.diagnose()
    assert_no_key_anywhere(rig, run_id, events)


def test_api_keys_never_leak_on_bad_key_retry_and_crash_paths(rig: Rig) -> None:
    """Given an invalid key, a disabled key and a good one, 5xx faults, dropped connections, a SIGKILLed worker and DEBUG logging, when a run finishes, then no key, whole or in part, is in the logs, the database, Redis, the events or the CLI's output."""
    rig.emulator.set_faults(
        faults=[
            {"endpoint": "*", "kind": "backend_500", "rate": 0.1},
            {"endpoint": "*", "kind": "drop", "rate": 0.03},
            {"endpoint": "*", "kind": "rate_limit_429", "rate": 0.05},
        ],
        latency_ms=20,
    )
    keys = [INVALID_KEY, DISABLED_KEY, GOOD_KEY]  # ties go to the first key: both bad ones are tried first
    lines, expected = mixed_inputs(rig.emulator, handles=200, ids=100, offset=500)
    hostile, _valid = hostile_inputs(rig.emulator, total=300, seed=7)
    lines += [line for line in hostile if isinstance(line, str)]
    worker = rig.worker(keys, verbose=True)  # DEBUG: googleapiclient and httplib2 log their URLs here
    with Scheduler(rig.ctx):
        run_id = start_run("rel-keys", "owner-rel", lines, ctx=rig.ctx, send=send_all)
        wait(
            rig,
            lambda: progress(rig.ctx, run_id) >= 0.4,
            timeout=60,
            what="40% of jobs terminal",
            interval=0.02,
        )
        worker.kill_worker_process()
        worker.start()
        status = wait_finished(rig, run_id, timeout=90)
    events = settle_events(rig, run_id)

    usage = rig.emulator.usage()["by_key"]
    assert (
        usage[fingerprint(INVALID_KEY)]["requests"] >= 1 and usage[fingerprint(DISABLED_KEY)]["requests"] >= 1
    )
    states = {k.fingerprint: k.state for k in QuotaLedger(rig.ctx.redis, keys).status()}
    assert states == {
        fingerprint(INVALID_KEY): "disabled",
        fingerprint(DISABLED_KEY): "disabled",
        fingerprint(GOOD_KEY): "ok",
    }, states
    log = rig.logs()
    for bad in (INVALID_KEY, DISABLED_KEY):  # the reason is logged, by fingerprint
        assert f"YouTube API key {fingerprint(bad)} disabled" in log
    assert "DEBUG" in log and "youtube/v3" in log, "the DEBUG request log did not run: nothing was tested"
    assert failed_for_transient_reasons(rig, run_id) == []
    assert_exact(rig, run_id, status, events)
    results = get_run_results(run_id, ctx=rig.ctx)
    wrong = [
        (r["input"], r["status"]) for r, want in zip(results, expected, strict=False) if r["status"] != want
    ]
    assert wrong == [], wrong[:10]
    assert all(r["status"] in TERMINAL for r in results[len(expected) :])

    outputs = {
        "ytcollect status --json": cli(rig, keys, "status", run_id, "--json"),
        "ytcollect results --format json": cli(rig, keys, "results", run_id, "--format", "json"),
        "ytcollect results (table)": cli(rig, keys, "results", run_id),
        "ytcollect quota --json": cli(rig, keys, "quota", "--json"),
    }
    assert run_id in outputs["ytcollect status --json"]
    assert fingerprint(INVALID_KEY) in outputs["ytcollect quota --json"]
    assert_no_key_anywhere(rig, run_id, events, outputs)
