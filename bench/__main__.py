"""``python -m bench``: list the benchmarks, then run the pipeline's four and redraw the chart.

    python -m bench              # quota, throughput, latency, scale, then bench/results_chart.png
    python -m bench --list       # only list them
    python -m bench quota latency
    python -m bench plan         # the other benchmarks of bench/ run by name too

Each benchmark runs as its own process (``python -m bench.bench_<name>``) with its defaults, records
``bench/results/<name>.json`` and prints what it measured; results are written up in ``RESULTS.md``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (command, what it measures); the first four run by default, in this order.
BENCHMARKS = {
    "quota": (
        ["-m", "bench.bench_quota"],
        "units for 1,000 mixed inputs vs the theoretical minimum and naive",
    ),
    "throughput": (
        ["-m", "bench.bench_throughput"],
        "10,000 inputs/s vs no-op 4-actor chains/s, 1x8 and 2x8",
    ),
    "latency": (["-m", "bench.bench_latency"], "2,000 handles at 100 ms API latency vs the threads' bound"),
    "scale": (["-m", "bench.bench_scale"], "one 100,000-input run: time, peak worker RSS, status p50/p99"),
    "plan": (["bench/bench_plan.py"], "ytcollect plan on 100,000 lines (CLI and plan_inputs)"),
    "emulator": (["bench/bench_emulator.py"], "the emulator's own request rate"),
    "api": (
        ["-m", "bench.bench_api"],
        "GET /v1/runs/{id} p50/p99 during a 10,000-input run; run time with 1,000 SSE subscribers vs none",
    ),
    "priority": (
        ["-m", "bench.bench_priority"],
        "a 10-input interactive run on idle queues vs behind a 20,000-input system run, priority vs fifo",
    ),
}
DEFAULT = ["quota", "throughput", "latency", "scale"]


def main(argv: list[str]) -> int:
    print("benchmarks (python -m bench NAME ...):")
    for name, (_command, what) in BENCHMARKS.items():
        print(f"  {name:<11} {what}{'' if name in DEFAULT else '  (by name only)'}")
    if "--list" in argv or "-l" in argv:
        return 0
    names = [a for a in argv if not a.startswith("-")] or DEFAULT
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, *BENCHMARKS[name][0]], cwd=ROOT)
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if {"quota", "throughput"} & set(names) and (ROOT / "bench" / "results" / "throughput.json").exists():
        subprocess.call([sys.executable, "-m", "bench.chart"], cwd=ROOT)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
