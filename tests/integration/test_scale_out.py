"""Scale-out across hosts: ``resolve`` and ``metadata`` workers on three "hosts", one of which drops off
the network mid-run.

Each host is a network namespace this module creates, joined to this machine by a veth pair; it runs
the two worker groups as the Procfile does (``dramatiq actors --queues resolve`` and ``--queues
metadata``, one process each here, to fit two shared cores), from a temporary directory of its own,
and shares nothing with the others but the services. The services listen on 127.0.0.1 only, so each
host reaches them through ``socat`` forwarders on its veth's host-side address (PostgreSQL, RabbitMQ,
the test Redis and the emulator); traffic goes only to 127.0.0.1 and those addresses. The RabbitMQ
forwarder of host N connects from 127.77.S.N, so ``rabbitmqctl list_channels`` tells which host holds
which unacknowledged messages. ``runs``, ``normalize`` and ``finalize`` run in one worker group on this
machine; the run is recorded from this process as a backend would.

Namespaces, links, forwarders and workers are removed whatever happens (a finally and atexit).
Needs root and ``ip netns``; otherwise every test here is skipped, saying so.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from emulator import EmulatorConfig, EmulatorServer
from models import Job, JobStatus, Run
from pipeline.events import AmqpEventPublisher
from pipeline.runs import get_run_results, get_run_status, start_run
from tests.conftest import AMQP_URL, PG_URL, named
from tests.factories import TestClock, make_settings
from tests.integration.pipeline_harness import (
    KEYS,
    PIPELINE_REDIS_URL,
    RUN_FINISHED_QUEUE,
    make_pipeline_ctx,
    purge_queues,
    redeclare_stage_queues,
    snapshot_integrity,
    truncate,
    wait_until,
)
from tests.integration.worker_process import WorkerProcess, worker_env

pytestmark = [pytest.mark.services, pytest.mark.scaleout, pytest.mark.timeout(600)]

HOSTS = 3
THREADS = 8  # per worker group; the Procfile's 2 x 16 would not fit beside two more hosts on two cores
OUTAGE_SECONDS = 60
VHOST = named("ytc_scaleout")
BROKER_URL = AMQP_URL.rsplit("/", 1)[0] + "/" + VHOST
OPEN = [str(s) for s in (JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING, JobStatus.WAITING_QUOTA)]
# Extra worker settings for a measurement (`YTC_SCALEOUT_SETTINGS="BROKER_HEARTBEAT_SECONDS=5,…"`).
EXTRA_SETTINGS = dict(
    part.split("=", 1) for part in os.environ.get("YTC_SCALEOUT_SETTINGS", "").split(",") if "=" in part
)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the scale-out test creates network namespaces: it needs root"
    for tool in ("ip", "socat", "rabbitmqctl"):
        if shutil.which(tool) is None:
            return f"the scale-out test needs `{tool}` on PATH"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return "the scale-out test needs `ip netns` (it failed: " + probe.stderr.decode()[:200] + ")"
    return None


if (_reason := _why_not()) is not None:
    pytestmark.append(pytest.mark.skip(reason=_reason))


def _die_with_parent() -> None:
    """In a forwarder's child before exec: SIGTERM when this test process dies, even by SIGKILL."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def sh(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.decode(errors='replace').strip()}")


@dataclass
class Host:
    """One "host": a namespace, its link, the forwarders to the services, its worker groups."""

    index: int
    slot: int
    tmp: Path
    forwarders: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def netns(self) -> str:  # with this process's id, so a later run can tell a leftover
        return f"ytcso-{os.getpid()}-{self.index}"

    @property
    def link(self) -> str:
        """The veth end on this machine's side (the one set down to cut the host off)."""
        return f"ytcso{self.slot}h{self.index}"

    @property
    def peer(self) -> str:
        """The veth end inside the namespace."""
        return f"ytcso{self.slot}n{self.index}"

    @property
    def gateway(self) -> str:
        """This machine's address on the host's link: where its forwarders listen."""
        return f"10.77.{self.slot}.{4 * self.index + 1}"

    @property
    def address(self) -> str:
        return f"10.77.{self.slot}.{4 * self.index + 2}"

    @property
    def amqp_source(self) -> str:
        """Where this host's RabbitMQ connections come from, as RabbitMQ sees them."""
        return f"127.77.{self.slot}.{self.index + 1}"


class Network:
    """Creates the hosts, their links and forwarders; ``remove`` undoes all of it and may run twice."""

    def __init__(self, tmp: Path, ports: Sequence[int]) -> None:
        self.slot = 20 + os.getpid() % 200
        self.hosts = [Host(i, self.slot, tmp / f"host-{i}") for i in range(HOSTS)]
        self.ports = list(ports)
        self.amqp_port = urlsplit(AMQP_URL).port or 5672
        self.removed = False

    def create(self) -> None:
        in_use = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, timeout=10).stdout
        if f"10.77.{self.slot}." in in_use:
            raise RuntimeError(f"10.77.{self.slot}.0/24 is in use on this machine: another scale-out test?")
        for host in self.hosts:
            host.tmp.mkdir(parents=True)
            sh("ip", "netns", "add", host.netns)
            sh("ip", "link", "add", host.link, "type", "veth", "peer", "name", host.peer)
            sh("ip", "link", "set", host.peer, "netns", host.netns)
            sh("ip", "addr", "add", f"{host.gateway}/30", "dev", host.link)
            sh("ip", "link", "set", host.link, "up")
            inside = ("ip", "netns", "exec", host.netns, "ip")
            sh(*inside, "addr", "add", f"{host.address}/30", "dev", host.peer)
            sh(*inside, "link", "set", host.peer, "up")
            sh(*inside, "link", "set", "lo", "up")
            for port in self.ports:
                self._forward(host, port)
        for host in self.hosts:
            for port in self.ports:
                wait_until(lambda h=host, p=port: self._listening(h.gateway, p), timeout=10, interval=0.05)

    def _forward(self, host: Host, port: int) -> None:
        target = f"TCP:127.0.0.1:{port},nodelay"
        if port == self.amqp_port:
            target += f",bind={host.amqp_source}"
        log = open(host.tmp / f"socat-{port}.log", "wb")  # noqa: SIM115  (the child keeps it)
        with log:
            host.forwarders.append(
                subprocess.Popen(
                    [
                        "socat",
                        "-d",
                        "-d",
                        f"TCP-LISTEN:{port},bind={host.gateway},reuseaddr,fork,nodelay,backlog=256",
                        target,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            )

    @staticmethod
    def _listening(address: str, port: int) -> bool:
        out = subprocess.run(
            ["ss", "-Hltn", f"src {address}:{port}"], capture_output=True, text=True, timeout=10
        ).stdout
        return bool(out.strip())

    def set_link(self, host: Host, up: bool) -> None:
        sh("ip", "link", "set", host.link, "up" if up else "down")

    def remove(self) -> None:
        if self.removed:
            return
        self.removed = True
        for host in self.hosts:
            for worker in host.workers:
                with contextlib.suppress(Exception):
                    worker.kill()
            for proc in host.forwarders:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the listener and the children it forked
                with contextlib.suppress(Exception):
                    proc.wait(10)
            subprocess.run(["ip", "link", "del", host.link], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True, timeout=30)


def _remove_leftovers() -> None:
    """Namespaces (and with them their links) of an earlier run killed before its cleanup could run."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    for match in re.finditer(r"^(ytcso-(\d+)-\d+)", listed, re.M):
        if not Path(f"/proc/{match[2]}").exists():
            subprocess.run(["ip", "netns", "del", match[1]], capture_output=True, timeout=30)


def ensure_vhost() -> None:
    listed = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, timeout=60)
    if VHOST not in listed.stdout.split():
        sh("rabbitmqctl", "-q", "add_vhost", VHOST)
    sh("rabbitmqctl", "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")


def unacked_by_source() -> dict[str, int]:
    """Unacknowledged deliveries per client address, over every channel RabbitMQ has open."""
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_channels", "name", "messages_unacknowledged"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    held: dict[str, int] = {}
    for line in out.splitlines():
        match = re.match(r"^(\S+):\d+ -> \S+ \(\d+\)\s+(\d+)$", line.strip())
        if match:
            held[match[1]] = held.get(match[1], 0) + int(match[2])
    return held


def queue_state(queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue`` in the test's vhost."""
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        method = connection.channel().queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count
    finally:
        connection.close()


def drain_events() -> list[dict[str, Any]]:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    bodies = []
    try:
        channel = connection.channel()
        channel.queue_declare(queue=RUN_FINISHED_QUEUE, durable=True)
        while True:
            method, _props, body = channel.basic_get(RUN_FINISHED_QUEUE, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(json.loads(body))
    finally:
        connection.close()


# --- the world ---------------------------------------------------------------------------------------


@dataclass
class Cluster:
    ctx: Any
    emulator: EmulatorServer
    network: Network
    local: WorkerProcess

    @property
    def hosts(self) -> list[Host]:
        return self.network.hosts

    def logs(self) -> str:
        workers = [self.local, *(w for h in self.hosts for w in h.workers)]
        return "\n".join(f"--- {w.log_path} ---\n{w.log_tail(25)}" for w in workers)


def _settings(**urls: object) -> dict[str, str]:
    return worker_env(
        {
            **urls,
            "YT_API_KEYS": ",".join(KEYS),
            "RUN_FINISHED_QUEUE": RUN_FINISHED_QUEUE,
            "ACTOR_MIN_BACKOFF_MS": 100,
            "ACTOR_MAX_BACKOFF_MS": 1_000,
            "CLIENT_BACKOFF_BASE_SECONDS": 0.05,
            "CLIENT_BACKOFF_MAX_SECONDS": 0.5,
            "METRICS_PORT": 0,
            "RECENT_VIDEOS": 0,  # the channel pipeline: resolve and metadata are what the hosts serve
            "NO_PROXY": "127.0.0.1,10.77.0.0/16",
            **EXTRA_SETTINGS,
        }
    )


def _on(address: str, url: str) -> str:
    return url.replace("127.0.0.1", address, 1)


@pytest.fixture(scope="module")
def cluster(pg_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import dramatiq

    import actors  # noqa: F401
    from actors.broker import rabbitmq_broker, rebind

    _remove_leftovers()
    ensure_vhost()
    redeclare_stage_queues(BROKER_URL, make_settings())
    original = dramatiq.get_broker()
    broker = rebind(rabbitmq_broker(BROKER_URL, make_settings()))
    config = EmulatorConfig(seed=31, channels=8_000, keys=KEYS)
    tmp = tmp_path_factory.mktemp("scale-out")
    network: Network | None = None
    local: WorkerProcess | None = None
    ctx = None
    try:
        with EmulatorServer(config, host="127.0.0.1", port=0) as emu:
            redis_port = urlsplit(PIPELINE_REDIS_URL).port or 6379
            network = Network(tmp, [5432, urlsplit(AMQP_URL).port or 5672, redis_port, emu.port])
            atexit.register(network.remove)
            network.create()
            local_env = _settings(
                # normalize fans out one lookup per resolve message: 1,200 messages spread over the
                # hosts, so the host cut mid-run holds deliveries (ten a message would be 120).
                RESOLVE_LOOKUPS_PER_MESSAGE=1,
                BROKER_URL=BROKER_URL,
                REDIS_URL=PIPELINE_REDIS_URL,
                DATABASE_URL=PG_URL,
                YOUTUBE_API_URL=emu.base_url,
            )
            local = WorkerProcess(
                local_env,
                tmp / "local.log",
                threads=4,
                extra_args=["--queues", "runs", "normalize", "finalize"],
            )
            for host in network.hosts:
                env = _settings(
                    BROKER_URL=_on(host.gateway, BROKER_URL),
                    REDIS_URL=_on(host.gateway, PIPELINE_REDIS_URL),
                    DATABASE_URL=_on(host.gateway, PG_URL),
                    YOUTUBE_API_URL=_on(host.gateway, emu.base_url),
                )
                for queue in ("resolve", "metadata"):
                    host.workers.append(
                        WorkerProcess(
                            env,
                            host.tmp / f"{queue}.log",
                            threads=THREADS,
                            extra_args=["--queues", queue],
                            cwd=host.tmp,
                            prefix=["ip", "netns", "exec", host.netns],
                        )
                    )
            ctx = make_pipeline_ctx(emu, TestClock(), recent_videos=0)
            ctx.events = AmqpEventPublisher(BROKER_URL, RUN_FINISHED_QUEUE)
            yield Cluster(ctx, emu, network, local)
    finally:
        if ctx is not None:
            ctx.close()
        if local is not None:
            local.kill()
        if network is not None:
            network.remove()
        purge_queues(BROKER_URL)
        broker.close()
        rebind(original)


@pytest.fixture
def fresh(cluster: Cluster, pg_engine: sa.Engine) -> Iterator[Cluster]:
    """Empty tables, Redis and queues; every worker group started; all of them stopped afterwards."""
    import redis as redis_lib

    truncate(pg_engine)
    client = redis_lib.Redis.from_url(PIPELINE_REDIS_URL)
    client.flushdb()
    client.close()
    cluster.emulator.reset()
    purge_queues(BROKER_URL)
    drain_events()
    workers = [cluster.local, *(w for h in cluster.hosts for w in h.workers)]
    try:
        for worker in workers:
            worker.start(ready_timeout=90)
        wait_until(
            lambda: queue_state("resolve")[1] >= HOSTS and queue_state("metadata")[1] >= HOSTS, timeout=60
        )
        yield cluster
    finally:
        for worker in workers:
            worker.kill()
        for host in cluster.hosts:
            cluster.network.set_link(host, up=True)


# --- inputs and checks -----------------------------------------------------------------------------------


def workload(emulator: EmulatorServer) -> tuple[list[str], list[str]]:
    """5,000 lines and the status each must end in: 1,200 handles (a lookup each), 3,390 channel ids
    (shared 50-id batches), usernames, videos, duplicates, and lines that must fail."""
    catalogue = emulator.catalogue.sample(8_000)
    live = [c for c in catalogue if not c["terminated"] and c["handle"]]
    dead = [c for c in catalogue if c["terminated"]]
    lines: list[str] = []
    expected: list[str] = []

    def add(line: str, status: str) -> None:
        lines.append(line)
        expected.append(status)

    pool = iter(live)
    handles = [next(pool) for _ in range(1_200)]
    for i, c in enumerate(handles):
        add(f"@{c['handle']}" if i % 3 else f"https://www.youtube.com/@{c['handle']}/videos", "DONE")
    for c in [c for c in handles if c["handle"].isascii()][:60]:
        add(f"youtube.com/@{c['handle'].upper()}", "DONE")  # a duplicate: the same job
    for i in range(3_390):
        c = next(pool)
        add(c["id"] if i % 2 else f"https://www.youtube.com/channel/{c['id']}/about", "DONE")
    rest = list(pool)
    with_username = [c for c in rest if c["username"]][:100]
    for c in with_username:
        add(f"https://www.youtube.com/user/{c['username']}", "DONE")
    for c in [c for c in rest if c["video_ids"] and c not in with_username][:100]:
        add(f"https://youtu.be/{c['video_ids'][0]}", "DONE")
    for i in range(50):
        add(f"@no-such-channel-scaleout-{i}", "FAILED")
    for c in dead[:50]:
        add(c["id"], "FAILED")
    for i in range(50):
        add(f"not a channel {i}!", "FAILED")
    assert len(lines) == 5_000, len(lines)
    return lines, expected


def effective_settings() -> dict[str, str]:
    """The recovery settings the hosts' workers ran with (defaults unless YTC_SCALEOUT_SETTINGS)."""
    from pipeline.config import Settings

    names = ("BROKER_HEARTBEAT_SECONDS", "WORKER_QUEUE_PREFETCH", "BROKER_MAX_PRIORITY")
    return {n: EXTRA_SETTINGS.get(n, str(Settings.model_fields[n.lower()].default)) for n in names}


def job_counts(ctx: Any, run_id: str) -> dict[str, int]:
    with ctx.session() as s:
        rows = s.execute(
            sa.select(Job.status, sa.func.count()).where(Job.run_id == run_id).group_by(Job.status)
        ).all()
    return {str(status): n for status, n in rows}


def progress(ctx: Any, run_id: str) -> float:
    counts = job_counts(ctx, run_id)
    total = sum(counts.values())
    return sum(n for st, n in counts.items() if st not in OPEN) / total if total else 0.0


def wait_finished(cluster: Cluster, run_id: str, *, timeout: float) -> dict[str, Any]:
    try:
        return wait_until(
            lambda: (s := get_run_status(run_id, ctx=cluster.ctx))["run_status"] == "FINISHED" and s,
            timeout=timeout,
            interval=0.5,
        )
    except AssertionError:
        raise AssertionError(
            f"run {run_id} not FINISHED within {timeout} s: jobs {job_counts(cluster.ctx, run_id)}\n"
            + cluster.logs()
        ) from None


def settle_events(cluster: Cluster, run_id: str) -> list[dict[str, Any]]:
    """Once the run's event is marked sent, stop every worker (nothing in flight could publish again)
    and take every event waiting."""

    def sent() -> bool:
        with cluster.ctx.session() as s:
            return s.get(Run, run_id).finished_event_sent_at is not None

    wait_until(sent, timeout=30)
    for worker in [cluster.local, *(w for h in cluster.hosts for w in h.workers)]:
        worker.stop()
    return drain_events()


def assert_exact(cluster: Cluster, run_id: str, status: dict[str, Any], expected: list[str]) -> None:
    """Each line ends as it must; summary == jobs table; one snapshot per channel; one run_finished."""
    events = settle_events(cluster, run_id)
    counts = status["summary"]["counts_by_status"]
    by_status = job_counts(cluster.ctx, run_id)
    twice, snapshots, channels_done = snapshot_integrity(cluster.ctx, run_id)
    assert counts == by_status, (counts, by_status)
    assert sum(counts.values()) == status["total_jobs"] > 4_000
    assert twice == [], f"channels with two snapshots from one run: {twice[:10]}"
    assert snapshots == channels_done, (snapshots, channels_done)
    assert [e["run_id"] for e in events] == [run_id], [e.get("run_id") for e in events]
    assert events[0]["counts_by_status"] == counts
    results = get_run_results(run_id, ctx=cluster.ctx)
    wrong = [
        (r["line"], r["input"], r["status"], r["error_code"], want)
        for r, want in zip(results, expected, strict=True)
        if r["status"] != want
    ]
    assert wrong == [], f"{len(wrong)} lines ended differently from a fault-free run: {wrong[:10]}"


# --- the tests -------------------------------------------------------------------------------------------


def test_three_hosts_finish_a_five_thousand_input_run_with_exact_counts(fresh: Cluster) -> None:
    """Given resolve and metadata workers on three hosts that share only the services, when a 5,000-input run is recorded, then every host takes part and the run finishes with exact counts and one run_finished."""
    lines, expected = workload(fresh.emulator)
    t0 = time.monotonic()
    run_id = start_run("scale-out", "owner-so", lines, ctx=fresh.ctx, send=send_all)
    status = wait_finished(fresh, run_id, timeout=300)
    print(f"scale-out: 5,000 inputs on {HOSTS} hosts in {time.monotonic() - t0:.1f} s")
    for host in fresh.hosts:  # every host did work: its workers called the API through its forwarder
        calls = (host.tmp / f"socat-{fresh.emulator.port}.log").read_text().count("accepting connection")
        assert calls > 0, f"host {host.index} made no API call"
    assert_exact(fresh, run_id, status, expected)


def test_a_host_cut_off_for_a_minute_holding_messages_the_run_finishes_exactly_once(fresh: Cluster) -> None:
    """Given the same run on three hosts, when one host's link goes down for 60 s while it holds unacknowledged resolve messages, then RabbitMQ drops its consumers (heartbeat), redelivers what it held to the other hosts, the host rejoins when its link returns, and the run finishes with exact counts, nothing double-counted and one run_finished."""
    lines, expected = workload(fresh.emulator)
    fresh.emulator.set_faults(latency_ms=40)  # the lookups take long enough for messages to be held
    cut = fresh.hosts[0]
    run_id = start_run("scale-out-cut", "owner-so", lines, ctx=fresh.ctx, send=send_all)

    # 1,200 handles are 120 resolve messages of 10 lookups: cut the host once work is under way, plenty
    # is still queued, and it holds deliveries of its own.
    def holding() -> int:
        if progress(fresh.ctx, run_id) < 0.05 or queue_state("resolve")[0] <= 30:
            return 0
        return unacked_by_source().get(cut.amqp_source, 0)

    held = wait_until(holding, timeout=120, interval=0.05)
    _ready, consumers_before = queue_state("resolve")
    fresh.network.set_link(cut, up=False)
    down_at = time.monotonic()
    done_at_cut = progress(fresh.ctx, run_id)
    assert held > 0, "the host to cut held no unacknowledged message: the cut would prove nothing"

    # RabbitMQ notices the lost consumer when its heartbeats stop: its deliveries go back to the queue.
    wait_until(lambda: queue_state("resolve")[1] < consumers_before, timeout=OUTAGE_SECONDS - 5, interval=0.2)
    noticed = time.monotonic() - down_at
    still_held = unacked_by_source().get(cut.amqp_source, 0)
    assert still_held == 0, f"host {cut.index} still holds {still_held} deliveries after RabbitMQ dropped it"
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    fresh.network.set_link(cut, up=True)
    up_at = time.monotonic()

    status = wait_finished(fresh, run_id, timeout=360)
    finished = time.monotonic() - down_at
    rejoined = queue_state("resolve")[1]
    figures = {
        "held_at_cut": held,
        "done_at_cut": round(done_at_cut, 3),
        "noticed_after_s": round(noticed, 1),
        "outage_s": round(up_at - down_at, 1),
        "finished_after_cut_s": round(finished, 1),
        "resolve_consumers_before_and_after": [consumers_before, rejoined],
        "settings": effective_settings(),
    }
    print("scale-out recovery: " + json.dumps(figures))
    assert done_at_cut < 0.9, f"the cut came too late to matter: {done_at_cut:.0%} done"
    assert_exact(fresh, run_id, status, expected)
