"""Latency-bound: API calls per second with 100 ms of emulator latency, against what the threads allow.

    .venv/bin/python -m bench.bench_latency [--handles 2000] [--latency-ms 100] [--configs 1x8 2x8] [--runs 3]

One run of ``--handles`` distinct live handles (mixed forms and cases; each costs exactly one
``channels.list?forHandle=`` call, which brings the metadata too) through the real services, with
the emulator adding ``--latency-ms`` to every answer. The bound is what ``processes × threads``
threads would allow making one call at a time: ``threads × 1000 / latency`` calls per second. A resolve
message asks ``RESOLVE_LOOKUP_CONCURRENCY`` of its lookups at once, so a thread can pass it: calls/s
per worker thread are reported too (10 would be one call at a time at 100 ms).

Reported per configuration (medians of ``--runs``): calls/s end to end (emulator requests /
``start_run`` → ``finished_at``) and within the calls' own window (first to last call recorded in
``api_calls``), each as a share of the bound. Target (issue 6): ≥ 80% of the bound.
Writes ``bench/results/latency.json``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench import common
from bench.common import log


def call_window(ctx: Any, run_id: str) -> tuple[int, float]:
    """(calls, seconds from the first call's start to the last call's end) from the api_calls table."""
    import sqlalchemy as sa

    with ctx.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT count(*), min(at), max(at), max(latency_ms) FROM api_calls WHERE run_id = :id"),
            {"id": run_id},
        ).one()
    calls, first, last = row[0], row[1], row[2]
    return calls, (last - first).total_seconds() if calls > 1 else 0.0


def repetition(ctx: Any, emu: Any, workers: Any, lines: list[str], bound: float) -> dict[str, Any]:
    common.reset_state()
    before, cpu0 = emu.usage(), common.cpu_snapshot(workers=workers, emulator=emu)
    run = common.timed_run(ctx, lines, timeout=900, label="bench-latency")
    after, cpu1 = emu.usage(), common.cpu_snapshot(workers=workers, emulator=emu)
    spent = common.units_between(before, after)
    recorded, window = call_window(ctx, run["run_id"])
    calls_per_s = spent["requests"] / run["seconds"]
    window_per_s = recorded / window if window else 0.0
    return {
        "seconds": run["seconds"],
        "requests": spent["requests"],
        "by_method": spent["by_method"],
        "calls_per_s": calls_per_s,
        "share_of_bound": calls_per_s / bound,
        "window_seconds": window,
        "window_calls_per_s": window_per_s,
        "window_share_of_bound": window_per_s / bound,
        "jobs": run["jobs"],
        "cpu": common.cpu_between(cpu0, cpu1),
        "load_before": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handles", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--channels", type=int, default=20_000)
    parser.add_argument("--configs", nargs="+", default=["1x8", "2x8"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    from emulator.catalogue import Catalogue

    catalogue = Catalogue(seed=7, channels=args.channels)
    work = common.handles_workload(catalogue, args.handles, seed=args.seed)
    warmup = common.handles_workload(catalogue, 100, seed=args.seed + 1)
    common.prepare_services()
    results: dict[str, Any] = {}
    with common.Emulator(channels=args.channels, latency_ms=args.latency_ms, name="latency-emulator") as emu:
        ctx = common.driver_context(emu.url)
        try:
            for config in args.configs:
                processes, threads = (int(x) for x in config.split("x"))
                bound = processes * threads * 1000 / args.latency_ms
                reps = []
                with common.Workers(
                    emu.url, processes=processes, threads=threads, name="latency-workers"
                ) as workers:
                    common.reset_state()
                    common.timed_run(ctx, warmup.lines, timeout=300, label="bench-warmup")
                    for rep in range(args.runs):
                        result, discarded = common.undisturbed(
                            lambda w=workers, b=bound: repetition(ctx, emu, w, work.lines, b),
                            what=f"{config} repetition",
                        )
                        result["discarded_attempts"] = discarded
                        reps.append(result)
                        log(
                            f"{config} rep {rep + 1}: {result['requests']} calls in {result['seconds']:.2f} s = "
                            f"{result['calls_per_s']:.1f}/s ({100 * result['share_of_bound']:.0f}% of {bound:.0f}); "
                            f"window {result['window_calls_per_s']:.1f}/s; cpu {result['cpu']}"
                        )
                results[config] = {
                    "processes": processes,
                    "threads": threads,
                    "bound_calls_per_s": bound,
                    "calls_per_s_median": round(common.median([r["calls_per_s"] for r in reps]), 1),
                    "share_of_bound_median": round(common.median([r["share_of_bound"] for r in reps]), 3),
                    "window_calls_per_s_median": round(
                        common.median([r["window_calls_per_s"] for r in reps]), 1
                    ),
                    "window_share_of_bound_median": round(
                        common.median([r["window_share_of_bound"] for r in reps]), 3
                    ),
                    "calls_per_s_per_worker_thread_median": round(
                        common.median([r["calls_per_s"] for r in reps]) / (processes * threads), 1
                    ),
                    "seconds_median": round(common.median([r["seconds"] for r in reps]), 2),
                    "reps": reps,
                }
                log(
                    f"{config}: {results[config]['calls_per_s_median']}/s = "
                    f"{100 * results[config]['share_of_bound_median']:.0f}% of the {bound:.0f}/s bound, "
                    f"{results[config]['calls_per_s_per_worker_thread_median']}/s per worker thread"
                )
        finally:
            ctx.close()
    path = common.save_result(
        "latency",
        {
            "command": "python -m bench.bench_latency "
            + " ".join(
                f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}"
                for k, v in vars(args).items()
            ),
            "handles": args.handles,
            "latency_ms": args.latency_ms,
            "configs": results,
        },
    )
    log(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
