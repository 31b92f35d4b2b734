"""Scale: one run of 100,000 inputs: time to finish, peak worker memory, status latency during the run.

    .venv/bin/python -m bench.bench_scale [--inputs 100000] [--channels 100000] [--config 2x8]

The quota benchmark's mix of inputs, drawn from a 100,000-channel emulator (no added latency),
goes through the real services with ``dramatiq`` workers ``--config`` (processes × threads). While
the run goes, the driver samples

- every 0.5 s, the worker processes' memory from ``/proc/<pid>/status`` (VmRSS, summed over the
  worker processes; the supervising master is reported apart) and ``smaps_rollup`` (Pss, which
  counts the pages forked processes share once);
- every 0.1 s, ``pipeline.runs.get_run_status(run_id)`` timed from the caller's side, as a backend
  would see it (the driver holds one Context like a backend process would).

Targets (issue 6): peak worker RSS ≤ 250 MB, status p99 ≤ 10 ms. One run, not three: it takes
minutes on this machine. Also reports the units spent against the theoretical minimum of
``bench_quota``. Writes ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from bench import common
from bench.common import log


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--config", default="2x8")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()

    from bench.bench_quota import theoretical_minimum
    from emulator.catalogue import Catalogue

    started = time.perf_counter()
    catalogue = Catalogue(seed=7, channels=args.channels)
    work = common.mixed_workload(catalogue, args.inputs, seed=args.seed)
    minimum = theoretical_minimum(work.intents, catalogue)
    log(
        f"{len(work.lines):,} inputs generated in {time.perf_counter() - started:.1f} s; "
        f"minimum {minimum.total:,} units"
    )
    processes, threads = (int(x) for x in args.config.split("x"))
    common.prepare_services()

    with common.Emulator(channels=args.channels, name="scale-emulator") as emu:
        ctx = common.driver_context(emu.url)
        try:
            with common.Workers(
                emu.url, processes=processes, threads=threads, name="scale-workers"
            ) as workers:
                from pipeline.runs import get_run_status

                common.reset_state()
                idle_memory = workers.memory()
                run_id = str(uuid.uuid4())

                def status_sample() -> tuple[float, str, float, float, float] | None:
                    """(wall ms, source, progress, this thread's CPU ms, wall ms of a bare SELECT 1 + PING)."""
                    t0, c0 = time.perf_counter(), time.thread_time()
                    try:
                        status = get_run_status(run_id, ctx=ctx)
                    except Exception:
                        return None
                    wall, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
                    t1 = time.perf_counter()
                    try:
                        with ctx.engine.connect() as conn:
                            conn.exec_driver_sql("SELECT 1")
                        ctx.redis.ping()
                    except Exception:
                        return None
                    control = (time.perf_counter() - t1) * 1000
                    return wall, status["counts_source"], status["progress"], cpu, control

                before, cpu0 = emu.usage(), common.cpu_snapshot(workers=workers, emulator=emu)
                with (
                    common.sampling(0.5, workers.memory) as memory,
                    common.sampling(0.1, status_sample) as statuses,
                ):
                    run = common.timed_run(ctx, work.lines, timeout=3600, label="bench-scale", run_id=run_id)
                after, cpu1 = emu.usage(), common.cpu_snapshot(workers=workers, emulator=emu)
        finally:
            ctx.close()

    spent = common.units_between(before, after)
    latencies = [s[0] for s in statuses if s is not None]
    live = [s for s in statuses if s is not None and s[1] == "redis"]
    cpu_ms = [s[3] for s in statuses if s is not None]
    control = [s[4] for s in statuses if s is not None]
    peak = max(memory, key=lambda m: m["rss_kb"])
    peak_pss = max(m["pss_kb"] for m in memory)
    result = {
        "command": f"python -m bench.bench_scale --inputs {args.inputs} --channels {args.channels} "
        f"--config {args.config} --seed {args.seed}",
        "inputs": args.inputs,
        "workers": args.config,
        "runs": 1,
        "seconds": round(run["seconds"], 1),
        "inputs_per_s": round(args.inputs / run["seconds"], 1),
        "jobs": run["jobs"],
        "total_jobs": run["total_jobs"],
        "peak_worker_rss_mb": round(peak["rss_kb"] / 1024, 1),
        "peak_worker_pss_mb": round(peak_pss / 1024, 1),
        "peak_master_rss_mb": round(max(m["master_rss_kb"] for m in memory) / 1024, 1),
        "idle_worker_rss_mb": round(idle_memory["rss_kb"] / 1024, 1),
        "worker_processes": peak["processes"],
        "memory_samples": len(memory),
        "rss_timeline_mb": [round(m["rss_kb"] / 1024) for m in memory[:: max(1, len(memory) // 60)]],
        "status_samples": len(latencies),
        "status_samples_live": len(live),
        "status_p50_ms": round(percentile(latencies, 50), 2),
        "status_p99_ms": round(percentile(latencies, 99), 2),
        "status_max_ms": round(max(latencies), 2),
        "status_live_p50_ms": round(percentile([s[0] for s in live], 50), 2) if live else None,
        "status_live_p99_ms": round(percentile([s[0] for s in live], 99), 2) if live else None,
        "status_cpu_p50_ms": round(percentile(cpu_ms, 50), 2),
        "status_cpu_p99_ms": round(percentile(cpu_ms, 99), 2),
        "control_select1_ping_p50_ms": round(percentile(control, 50), 2),
        "control_select1_ping_p99_ms": round(percentile(control, 99), 2),
        "units": spent["units"],
        "units_by_method": spent["by_method"],
        "minimum_units": minimum.total,
        "minimum_by_method": minimum.by_method,
        "cpu": common.cpu_between(cpu0, cpu1),
        "load_after": os.getloadavg()[0],
    }
    path = common.save_result("scale", result)
    log(
        f"{args.inputs:,} inputs in {result['seconds']} s ({result['inputs_per_s']}/s); peak worker RSS "
        f"{result['peak_worker_rss_mb']} MB (Pss {result['peak_worker_pss_mb']} MB); status p50 "
        f"{result['status_p50_ms']} ms p99 {result['status_p99_ms']} ms ({len(latencies)} samples; CPU p99 "
        f"{result['status_cpu_p99_ms']} ms; SELECT 1 + PING p99 {result['control_select1_ping_p99_ms']} ms); units "
        f"{spent['units']:,} vs minimum {minimum.total:,}; wrote {path.relative_to(common.ROOT)}"
    )


if __name__ == "__main__":
    main()
