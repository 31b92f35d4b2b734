"""Throughput: inputs per second through the real services, beside a no-op chain of four actors.

    .venv/bin/python -m bench.bench_throughput [--inputs 10000] [--chains 2000] [--configs 1x8 2x8] [--runs 3]

For each worker configuration (``dramatiq`` processes × threads) one worker group consumes the
pipeline's queues *and* four no-op queues, so both measurements see the same broker, processes and
threads. Each repetition (after one warm-up) starts from empty tables, Redis and queues, then

- sends ``--chains`` messages to ``bench_noop_1``; each of the four no-op actors sends the next, the
  fourth increments a Redis counter: chains/s = chains / (first send → counter reaches the total);
- starts one run of ``--inputs`` mixed inputs (the quota benchmark's shares, drawn from a
  20,000-channel emulator with no added latency): inputs/s = inputs / (``start_run`` → ``finished_at``).

Target (issue 6): inputs/s ≥ no-op chains/s. Medians of ``--runs``. Writes ``bench/results/throughput.json``.
The no-op actors are declared below at import (the workers import this module), under the same
broker and middleware as the pipeline's actors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from typing import Any

import dramatiq

NOOP_QUEUES = [f"bench_noop_{n}" for n in range(1, 5)]
NOOP_COUNTER = "bench:noop:done"
_noop: dict[str, Any] = {}
_redis: list[Any] = []


def _counter() -> Any:
    if not _redis:
        import redis

        _redis.append(redis.Redis.from_url(os.environ["REDIS_URL"]))
    return _redis[0]


def declare_noop_actors() -> dict[str, Any]:
    """The four no-op actors, each on its own queue, each sending the next; declared once per process."""
    if _noop:
        return _noop
    import dramatiq

    import actors  # noqa: F401  (the broker first: actors bind to it when declared)

    @dramatiq.actor(queue_name="bench_noop_1", max_retries=0)
    def bench_noop_1(n: int) -> None:
        bench_noop_2.send(n)

    @dramatiq.actor(queue_name="bench_noop_2", max_retries=0)
    def bench_noop_2(n: int) -> None:
        bench_noop_3.send(n)

    @dramatiq.actor(queue_name="bench_noop_3", max_retries=0)
    def bench_noop_3(n: int) -> None:
        bench_noop_4.send(n)

    @dramatiq.actor(queue_name="bench_noop_4", max_retries=0)
    def bench_noop_4(n: int) -> None:
        _counter().incr(NOOP_COUNTER)

    _noop.update(first=bench_noop_1, last=bench_noop_4)
    return _noop


CPU_KEY = "bench:actor_cpu:"
_cpu: dict[str, list[float]] = {}
_cpu_lock = threading.Lock()
_local = threading.local()


class ActorCpu(dramatiq.Middleware):
    """CPU seconds (``thread_time``) each actor's messages take in this worker process, published to
    Redis every 0.2 s as cumulative totals (``bench:actor_cpu:<pid>``): where a worker's CPU goes."""

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        threading.Thread(target=self._publish, name="bench-actor-cpu", daemon=True).start()

    def before_process_message(self, broker: Any, message: Any) -> None:
        _local.started = time.thread_time()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        spent = time.thread_time() - getattr(_local, "started", time.thread_time())
        with _cpu_lock:
            total = _cpu.setdefault(message.actor_name, [0.0, 0])
            total[0] += spent
            total[1] += 1

    after_skip_message = after_process_message

    @staticmethod
    def _publish() -> None:
        while True:
            time.sleep(0.2)
            with _cpu_lock:
                snapshot = {name: f"{cpu:.6f},{count}" for name, (cpu, count) in _cpu.items()}
            if snapshot:
                with contextlib.suppress(Exception):
                    _counter().hset(f"{CPU_KEY}{os.getpid()}", mapping=snapshot)


def actor_cpu() -> dict[str, tuple[float, int]]:
    """Summed over the worker processes: actor → (CPU seconds, messages), cumulative."""
    counter = _counter()
    totals: dict[str, list[float]] = {}
    for key in counter.scan_iter(f"{CPU_KEY}*"):
        for name, value in counter.hgetall(key).items():
            cpu, count = value.decode().split(",")
            total = totals.setdefault(name.decode(), [0.0, 0])
            total[0] += float(cpu)
            total[1] += int(count)
    return {name: (cpu, int(count)) for name, (cpu, count) in totals.items()}


def actor_cpu_between(
    before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]
) -> dict[str, Any]:
    spent = {}
    for name, (cpu, count) in after.items():
        cpu0, count0 = before.get(name, (0.0, 0))
        if count - count0:
            spent[name] = {
                "cpu_s": round(cpu - cpu0, 3),
                "messages": count - count0,
                "cpu_ms_per_message": round(1000 * (cpu - cpu0) / (count - count0), 2),
            }
    return spent


if __name__ != "__main__":  # imported by a dramatiq worker (``dramatiq actors bench.bench_throughput``)
    declare_noop_actors()
    dramatiq.get_broker().add_middleware(ActorCpu())


def measure_chains(chains: int, timeout: float = 600) -> dict[str, float]:
    """Send ``chains`` chains and wait until the fourth actor has run for each; chains per second."""
    first = declare_noop_actors()["first"]
    counter = _counter()
    counter.delete(NOOP_COUNTER)
    t0 = time.perf_counter()
    for n in range(chains):
        first.send(n)
    sent = time.perf_counter() - t0
    deadline = time.monotonic() + timeout
    while int(counter.get(NOOP_COUNTER) or 0) < chains:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counter.get(NOOP_COUNTER)} of {chains} chains finished in {timeout} s")
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    return {"chains": chains, "seconds": seconds, "chains_per_s": chains / seconds, "send_seconds": sent}


def repetition(ctx: Any, emu: Any, workers: Any, lines: list[str], chains: int) -> dict[str, Any]:
    """From empty state: the no-op chains, then the pipeline run, each with the CPU it used by component."""
    from bench import common

    common.reset_state(NOOP_QUEUES)
    time.sleep(0.5)  # the workers republish their per-actor CPU totals after the flush
    load_before = os.getloadavg()[0]
    cpu0, actors0 = common.cpu_snapshot(workers=workers, emulator=emu), actor_cpu()
    noop = measure_chains(chains)
    time.sleep(0.3)
    cpu1, actors1 = common.cpu_snapshot(workers=workers, emulator=emu), actor_cpu()
    run = common.timed_run(ctx, lines, timeout=1800, label="bench-throughput")
    time.sleep(0.3)
    cpu2, actors2 = common.cpu_snapshot(workers=workers, emulator=emu), actor_cpu()
    return {
        "chains_per_s": noop["chains_per_s"],
        "chain_seconds": noop["seconds"],
        "chain_send_seconds": noop["send_seconds"],
        "inputs_per_s": len(lines) / run["seconds"],
        "run_seconds": run["seconds"],
        "jobs": run["jobs"],
        "total_jobs": run["total_jobs"],
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "cpu_chains": common.cpu_between(cpu0, cpu1),
        "cpu_run": common.cpu_between(cpu1, cpu2),
        "actor_cpu_chains": actor_cpu_between(actors0, actors1),
        "actor_cpu_run": actor_cpu_between(actors1, actors2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=2_000)
    parser.add_argument("--channels", type=int, default=20_000)
    parser.add_argument("--configs", nargs="+", default=["1x8", "2x8"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()

    from bench import common
    from bench.common import log
    from emulator.catalogue import Catalogue

    catalogue = Catalogue(seed=7, channels=args.channels)
    work = common.mixed_workload(catalogue, args.inputs, seed=args.seed)
    warmup = common.mixed_workload(catalogue, 300, seed=args.seed + 1)
    common.prepare_services()
    results: dict[str, Any] = {}
    with common.Emulator(channels=args.channels, name="throughput-emulator") as emu:
        ctx = common.driver_context(emu.url)
        declare_noop_actors()
        try:
            for config in args.configs:
                processes, threads = (int(x) for x in config.split("x"))
                workers = common.Workers(
                    emu.url,
                    processes=processes,
                    threads=threads,
                    queues=[*common.PIPELINE_QUEUES, *NOOP_QUEUES],
                    modules=["bench.bench_throughput"],
                    name="throughput-workers",
                )
                reps: list[dict[str, Any]] = []
                with workers:
                    common.reset_state(NOOP_QUEUES)
                    measure_chains(200)
                    common.timed_run(ctx, warmup.lines, timeout=300, label="bench-warmup")
                    for rep in range(args.runs):
                        rep_result, discarded = common.undisturbed(
                            lambda w=workers: repetition(ctx, emu, w, work.lines, args.chains),
                            what=f"{config} repetition",
                        )
                        rep_result["discarded_attempts"] = discarded
                        reps.append(rep_result)
                        log(
                            f"{config} rep {rep + 1}: no-op {rep_result['chains_per_s']:.0f} chains/s "
                            f"({rep_result['chain_seconds']:.2f} s, cpu {rep_result['cpu_chains']}); pipeline "
                            f"{rep_result['inputs_per_s']:.0f} inputs/s ({rep_result['run_seconds']:.2f} s, "
                            f"{rep_result['jobs']}, cpu {rep_result['cpu_run']}); load {rep_result['load_before']:.1f}"
                        )
                chains_med = common.median([r["chains_per_s"] for r in reps])
                inputs_med = common.median([r["inputs_per_s"] for r in reps])
                results[config] = {
                    "processes": processes,
                    "threads": threads,
                    "chains_per_s_median": round(chains_med, 1),
                    "inputs_per_s_median": round(inputs_med, 1),
                    "ratio": round(inputs_med / chains_med, 3),
                    "run_seconds_median": round(common.median([r["run_seconds"] for r in reps]), 2),
                    "reps": reps,
                }
                log(
                    f"{config}: {inputs_med:.0f} inputs/s vs {chains_med:.0f} chains/s "
                    f"(ratio {inputs_med / chains_med:.2f})"
                )
        finally:
            ctx.close()
    path = common.save_result(
        "throughput",
        {
            "command": "python -m bench.bench_throughput "
            + " ".join(f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items()),
            "inputs": args.inputs,
            "chains": args.chains,
            "emulator_channels": args.channels,
            "distinct_jobs": len(
                {(i.kind, i.key or line) for i, line in zip(work.intents, work.lines, strict=True)}
            ),
            "configs": results,
        },
    )
    log(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
