"""Benchmark: ``channels.list`` by 50 ids against the emulator, from concurrent keep-alive clients.

The emulator runs in its own process (as ``ytcollect emulator`` would); several client processes,
each with a few threads holding one keep-alive ``http.client`` connection apiece, send
``GET /youtube/v3/channels?id=<50 ids>&part=snippet,statistics,contentDetails&key=…`` for a fixed
time. Three runs; the median requests per second is the figure. Loopback only, bounded in time.

    .venv/bin/python bench/bench_emulator.py [--runs 3] [--seconds 5] [--clients 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KEY = "bench-key"
PART = "snippet,statistics,contentDetails"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int, channels: int, uvicorn_options: dict) -> None:
    from emulator import Emulator, EmulatorConfig
    from emulator.server import serve_forever

    serve_forever(
        Emulator(EmulatorConfig(seed=7, channels=channels, keys=[KEY], quota_per_key=10**12)),
        "127.0.0.1",
        port,
        **uvicorn_options,
    )


def _wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/_emulator/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the emulator did not come up")


def _paths(channels: int, batches: int = 200) -> list[str]:
    """Request targets of 50 random live channels each; ids come from the same seeded catalogue."""
    from emulator import Catalogue

    catalogue = Catalogue(7, channels)
    ids = [catalogue.channel_id(i) for i in range(len(catalogue)) if catalogue.live(i)]
    rng = random.Random(1)
    return [
        f"/youtube/v3/channels?id={quote(','.join(rng.sample(ids, 50)))}&part={quote(PART)}&key={KEY}"
        for _ in range(batches)
    ]


_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def _client(
    port: int, paths: list[str], threads: int, start_at: float, stop_at: float, out: mp.Queue, kind: str
) -> None:
    counts = [0] * threads
    failures = [0] * threads

    def with_http_client(slot: int, rng: random.Random) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.time() < stop_at:
            conn.request("GET", rng.choice(paths))
            answer = conn.getresponse()
            body = answer.read()
            if answer.status == 200 and body.endswith(b"]}"):
                counts[slot] += 1
            else:
                failures[slot] += 1
        conn.close()

    def with_raw_socket(slot: int, rng: random.Random) -> None:
        # The same keep-alive HTTP/1.1, minus http.client's header parsing: a lighter client leaves
        # more of the two cores to the server, so the figure is closer to the server's own limit.
        requests = [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for path in paths]
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        buffer = bytearray()
        while time.time() < stop_at:
            sock.sendall(rng.choice(requests))
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                buffer += sock.recv(1 << 18)
            head = bytes(buffer[:end])
            length = int(_CONTENT_LENGTH.search(head).group(1))  # type: ignore[union-attr]
            while len(buffer) < end + 4 + length:
                buffer += sock.recv(1 << 18)
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            if head[9:12] == b"200" and body.endswith(b"]}"):
                counts[slot] += 1
            else:
                failures[slot] += 1
        sock.close()

    def loop(slot: int) -> None:
        rng = random.Random(slot + os.getpid())
        while time.time() < start_at:
            time.sleep(0.001)
        (with_raw_socket if kind == "raw" else with_http_client)(slot, rng)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((sum(counts), sum(failures)))


def _warm_up(port: int, paths: list[str]) -> None:
    """Ask for every batch once, unmeasured: a channel's first answer draws and serializes it (~0.1 ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths:
        conn.request("GET", path)
        conn.getresponse().read()
    conn.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(
    port: int, paths: list[str], seconds: float, clients: int, threads: int, kind: str, server_pid: int
) -> tuple[float, int, float]:
    """``(requests/s, failures, server CPU seconds per request)`` over one measured window."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.5  # spawn and connect first; count only the measured window
    stop_at = start_at + seconds
    procs = [
        ctx.Process(target=_client, args=(port, paths, threads, start_at, stop_at, out, kind))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_start = _cpu_seconds(server_pid)
    time.sleep(max(0.0, stop_at - time.time()))
    cpu_used = _cpu_seconds(server_pid) - cpu_start
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    done = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return done / seconds, failed, cpu_used / max(1, done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="keep-alive connections per client process")
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument(
        "--batches", type=int, default=200, help="distinct 50-id requests the clients pick from"
    )
    parser.add_argument(
        "--client", choices=("http.client", "raw"), default="http.client", help="how clients speak HTTP/1.1"
    )
    parser.add_argument(
        "--http", choices=("httptools", "h11"), help="uvicorn's HTTP parser (default: fastest)"
    )
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), help="uvicorn's event loop (default: fastest)"
    )
    args = parser.parse_args()
    uvicorn_options = {name: value for name in ("http", "loop") if (value := getattr(args, name))}

    port = _free_port()
    ctx = mp.get_context("spawn")
    server = ctx.Process(target=_serve, args=(port, args.channels, uvicorn_options), daemon=True)
    server.start()
    try:
        _wait_ready(port)
        paths = _paths(args.channels, args.batches)
        _warm_up(port, paths)
        load = os.getloadavg()[0]
        rates, costs = [], []
        for run in range(args.runs):
            rate, failed, cost = run_once(
                port, paths, args.seconds, args.clients, args.threads, args.client, server.pid
            )
            rates.append(rate)
            costs.append(cost)
            # The server's CPU per request says what one core could serve if the clients were elsewhere.
            print(
                f"run {run + 1}: {rate:,.0f} req/s ({failed} failed; server used {rate * cost:.0%} of a core, "
                f"{cost * 1e6:,.0f} us CPU a request)",
                flush=True,
            )
        cost = statistics.median(costs)
        print(f"load average before the runs: {load:.2f} (other work on the machine skews the request rate)")
        print(
            f"server capacity on one core (1 / median CPU per request): {1 / cost:,.0f} req/s"
            if cost
            else "server CPU not measurable here (no /proc)"
        )
        print(
            f"median of {args.runs}: {statistics.median(rates):,.0f} req/s "
            f"(channels.list, 50 ids, part={PART}; {args.clients} client processes x {args.threads} {args.client} "
            f"keep-alive connections; {os.cpu_count()} cores; uvicorn {uvicorn_options or 'httptools+uvloop'})"
        )
    finally:
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
            server.join()


if __name__ == "__main__":
    main()
