"""The HTTP API under load: status latency while a 10,000-input run works, and 1,000 SSE subscribers.

    .venv/bin/python -m bench.bench_api [--inputs 10000] [--config 2x8] [--subscribers 1000] [--repeats 2]

Real services, ``dramatiq`` workers ``--config`` and ``ytcollect serve`` as its own process (the
``web`` entry of the Procfile, on RabbitMQ, Redis and PostgreSQL), the throughput benchmark's mix of
inputs from a 20,000-channel emulator. Runs are started over HTTP (``POST /v1/runs``).

1. **Status latency.** While one run works, one client asks ``GET /v1/runs/{id}`` back to back over
   a kept-alive connection (as a dashboard or backend polling it would) and times each answer from
   its side: p50 and p99, over the whole run and over the answers served from Redis (while RUNNING).
2. **Subscribers.** The same run with no subscriber, then with ``--subscribers`` SSE clients on
   ``GET /v1/runs/{id}/events`` from its start to ``finished``, alternated ``--repeats`` times on
   emptied state. Reported: the run's time (``created_at`` → ``finished_at``) with and without them,
   how many subscribers got ``finished``, how late after ``finished_at`` the last one did, events per
   subscriber, and the CPU seconds of the API process and of the workers.

The subscribers run in this process on one asyncio loop: on a 2-core machine they compete with the
workers for CPU, which a real deployment's browsers would not. Writes ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from typing import Any

from bench import common
from bench.bench_scale import percentile
from bench.common import log


class Serve:
    """``ytcollect serve`` on the bench services, in its own process group."""

    def __init__(self, emulator_url: str) -> None:
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = common.OUT / "api-serve.log"
        self.env = {**os.environ, **common.service_env(emulator_url)}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Serve:
        import httpx

        common.OUT.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [common.YTCOLLECT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=common.ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ytcollect serve exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("ytcollect serve did not become ready within 60 s")

    def cpu(self) -> float:
        if self.proc is None:
            return 0.0
        return sum(common._cpu_of(p) for p in (self.proc.pid, *common.descendants(self.proc.pid)))

    def __exit__(self, *exc: object) -> None:
        common.stop_group(self.proc)


def post_run(client: Any, token: str, lines: list[str]) -> str:
    response = client.post(
        "/v1/runs",
        json={"analysis_id": "bench-api", "channel_inputs": lines},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["run_id"])


def status_latency(serve: Serve, ctx: Any, token: str, lines: list[str]) -> dict[str, Any]:
    """Phase 1: GET /v1/runs/{id} back to back while the run works."""
    import httpx

    samples: list[tuple[float, str, str]] = []
    with httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {token}"}) as client:
        run_id = post_run(client, token, lines)
        while True:
            t0 = time.perf_counter()
            response = client.get(f"/v1/runs/{run_id}", timeout=30)
            ms = (time.perf_counter() - t0) * 1000
            body = response.json()
            samples.append((ms, body["counts_source"], body["run_status"]))
            if body["run_status"] in ("FINISHED", "CANCELLED"):
                break
    row = common.run_row(ctx, run_id)
    assert row is not None
    all_ms = [s[0] for s in samples]
    live = [s[0] for s in samples if s[1] == "redis"]
    return {
        "run_id": run_id,
        "run_seconds": round((row["finished_at"] - row["created_at"]).total_seconds(), 1),
        "requests": len(samples),
        "requests_live": len(live),
        "p50_ms": round(percentile(all_ms, 50), 2),
        "p99_ms": round(percentile(all_ms, 99), 2),
        "max_ms": round(max(all_ms), 2),
        "live_p50_ms": round(percentile(live, 50), 2) if live else None,
        "live_p99_ms": round(percentile(live, 99), 2) if live else None,
    }


async def _subscribe(client: Any, path: str, token: str, out: dict[str, Any]) -> None:
    events = 0
    async with client.stream("GET", path, headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status_code != 200:
            out["errors"] += 1
            return
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                events += 1
                if line == "event: finished":
                    out["finished_at"].append(time.time())
    out["events"].append(events)


async def _with_subscribers(serve: Serve, token: str, lines: list[str], n: int) -> tuple[str, dict[str, Any]]:
    import httpx

    out: dict[str, Any] = {"finished_at": [], "events": [], "errors": 0}
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    timeout = httpx.Timeout(3600, connect=30, pool=60)
    async with httpx.AsyncClient(base_url=serve.url, limits=limits, timeout=timeout) as client:
        response = await client.post(
            "/v1/runs",
            json={"analysis_id": "bench-api", "channel_inputs": lines},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        run_id = response.json()["run_id"]
        tasks = [
            asyncio.create_task(_subscribe(client, f"/v1/runs/{run_id}/events", token, out)) for _ in range(n)
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    out["errors"] += sum(1 for r in results if isinstance(r, BaseException))
    return run_id, out


def subscribed_run(
    serve: Serve, ctx: Any, workers: Any, token: str, lines: list[str], n: int
) -> dict[str, Any]:
    """Phase 2: one run with ``n`` SSE subscribers (0: none), timed from the database."""
    import httpx

    common.reset_state()
    cpu0, api0 = common.cpu_snapshot(workers=workers), serve.cpu()
    if n:
        run_id, out = asyncio.run(_with_subscribers(serve, token, lines, n))
    else:
        with httpx.Client(base_url=serve.url) as client:
            run_id = post_run(client, token, lines)
        out = {"finished_at": [], "events": [], "errors": 0}
    row = common.wait_finished(ctx, run_id, timeout=3600)
    cpu1, api1 = common.cpu_snapshot(workers=workers), serve.cpu()
    finished_epoch = row["finished_at"].timestamp()
    cpu = common.cpu_between(cpu0, cpu1)
    return {
        "subscribers": n,
        "run_seconds": round((row["finished_at"] - row["created_at"]).total_seconds(), 1),
        "got_finished": len(out["finished_at"]),
        "errors": out["errors"],
        "last_finished_lag_s": round(max(out["finished_at"]) - finished_epoch, 2)
        if out["finished_at"]
        else None,
        "events_per_subscriber_median": statistics.median(out["events"]) if out["events"] else None,
        "cpu_s_api": round(api1 - api0, 1),
        "cpu_s_workers": cpu["workers"],
        "cpu_s_driver": cpu["driver"],
        "cpu_s_machine": cpu["machine"],
    }


def own_resources(namespace: str) -> None:
    """Point bench.common at a database, vhost and Redis db of this benchmark's own (set before use)."""
    common.DB_NAME = common.VHOST = f"ytc_bench_{namespace}"
    common.DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{common.DB_NAME}"
    common.BROKER_URL = f"amqp://guest:guest@127.0.0.1:5672/{common.VHOST}"
    common.REDIS_URL = "redis://127.0.0.1:6379/7"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=20_000)
    parser.add_argument("--config", default="2x8")
    parser.add_argument("--subscribers", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--namespace", default="api", help="own database, vhost and Redis db, so other benchmarks may run"
    )
    args = parser.parse_args()
    own_resources(args.namespace)

    from emulator.catalogue import Catalogue

    catalogue = Catalogue(seed=7, channels=args.channels)
    lines = common.mixed_workload(catalogue, args.inputs, seed=args.seed).lines
    processes, threads = (int(x) for x in args.config.split("x"))
    common.prepare_services()
    with common.Emulator(channels=args.channels, name="api-emulator") as emu:
        ctx = common.driver_context(emu.url)
        try:
            with (
                common.Workers(emu.url, processes=processes, threads=threads, name="api-workers") as workers,
                Serve(emu.url) as serve,
            ):
                from pipeline.tokens import create_token

                token, _info = create_token(ctx.sessions, owner_id="bench")
                common.reset_state()
                latency = status_latency(serve, ctx, token, lines)
                log(
                    f"status: p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms over {latency['requests']}"
                )
                runs = []
                for repeat in range(args.repeats):
                    for n in (0, args.subscribers):
                        result = subscribed_run(serve, ctx, workers, token, lines, n)
                        log(f"repeat {repeat + 1}, {n} subscribers: {result}")
                        runs.append(result)
        finally:
            ctx.close()
    alone = [r["run_seconds"] for r in runs if r["subscribers"] == 0]
    watched = [r["run_seconds"] for r in runs if r["subscribers"] == args.subscribers]
    result = {
        "command": f"python -m bench.bench_api --inputs {args.inputs} --channels {args.channels} "
        f"--config {args.config} --subscribers {args.subscribers} --repeats {args.repeats} --seed {args.seed}",
        "load_average_at_end": os.getloadavg(),
        "inputs": args.inputs,
        "workers": args.config,
        "status": latency,
        "runs": runs,
        "run_seconds_without_subscribers_median": statistics.median(alone),
        "run_seconds_with_subscribers_median": statistics.median(watched),
        "slowdown": round(statistics.median(watched) / statistics.median(alone), 3),
    }
    path = common.save_result("api", result)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
