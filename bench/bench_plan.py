"""Benchmark ``ytcollect plan`` on 100,000 realistic mixed input lines.

Run from the repository root: ``.venv/bin/python bench/bench_plan.py [--lines N] [--runs 3]``.
It writes the generated input to ``bench/out/plan-inputs.txt`` (ignored by git), times the real CLI
as a subprocess (``ytcollect plan --file F --json > /dev/null``), the CLI's start-up alone and the
pure ``plan_inputs`` call, prints the medians (wall clock and CPU) and records them in
``bench/results/plan.json``. They are written up in ``bench/RESULTS.md`` under ``## plan``.
Target: well under 5 s for 100,000 lines through the CLI.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.inputs import plan_inputs  # noqa: E402  (after the path tweak, when run as a script)

SEED = 20240601
_ID = string.ascii_letters + string.digits + "_-"
_TABS = [
    "",
    "",
    "",
    "/videos",
    "/featured",
    "/about",
    "/shorts",
    "/streams",
    "/live",
    "/playlists",
    "/community",
]
_HOSTS = [
    "https://www.youtube.com",
    "https://youtube.com",
    "youtube.com",
    "www.youtube.com",
    "https://m.youtube.com",
]
_WORDS = ["music", "gaming", "daily", "official", "tv", "news", "kids", "tech", "vlog", "studio", "clips"]
_UNICODE = ["あいう", "東京", "한국어", "привет", "السلام", "हिन्दी", "ñandú", "éclair"]


def _channel_id(rng: random.Random) -> str:
    return "UC" + "".join(rng.choices(_ID, k=21)) + rng.choice("AQgw")


def _video_id(rng: random.Random) -> str:
    return "".join(rng.choices(_ID, k=10)) + rng.choice("AEIMQUYcgkosw048")


def _name(rng: random.Random) -> str:
    name = (
        rng.choice(_WORDS) + rng.choice(["", "_", "-", "."]) + rng.choice(_WORDS) + str(rng.randint(0, 999))
    )
    return "".join(ch.upper() if rng.random() < 0.2 else ch for ch in name)


def _line(rng: random.Random, pool: list[str]) -> str:
    """One line as people paste them: mostly URLs and handles, some repeats, some junk."""
    if pool and rng.random() < 0.25:
        return rng.choice(pool)  # the same channel pasted again, often in another form
    host = rng.choice(_HOSTS)
    roll = rng.random()
    if roll < 0.30:
        line = f"{host}/@{_name(rng)}{rng.choice(_TABS)}"
    elif roll < 0.40:
        line = "@" + (_name(rng) if rng.random() < 0.8 else rng.choice(_UNICODE))
    elif roll < 0.55:
        line = f"{host}/channel/{_channel_id(rng)}{rng.choice(_TABS)}"
    elif roll < 0.60:
        line = _channel_id(rng)
    elif roll < 0.72:
        video = _video_id(rng)
        line = rng.choice(
            [
                f"https://youtu.be/{video}?si={''.join(rng.choices(_ID, k=16))}",
                f"{host}/watch?v={video}&t={rng.randint(1, 900)}s",
                f"{host}/shorts/{video}",
                f"{host}/watch?v={video}&list=PL{''.join(rng.choices(_ID, k=32))}",
            ]
        )
    elif roll < 0.77:
        line = f"{host}/playlist?list=PL{''.join(rng.choices(_ID, k=32))}"
    elif roll < 0.83:
        line = f"{host}/c/{_name(rng)}{rng.choice(_TABS)}"
    elif roll < 0.87:
        line = f"{host}/user/{_name(rng)}"
    elif roll < 0.92:
        line = _name(rng)  # a bare word
    else:
        line = rng.choice(
            [
                "https://www.youtube.com/",
                f"https://www.youtube.com/results?search_query={_name(rng)}",
                "javascript:alert(1)",
                f"https://youtube.com.evil.com/@{_name(rng)}",
                f"{_channel_id(rng)[:-1]}",
                f"@{_name(rng)} @{_name(rng)}",
                "",
            ]
        )
    if rng.random() < 0.05:
        line = f"  {line}\t"
    pool.append(line)
    return line


def generate(count: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    pool: list[str] = []
    return [_line(rng, pool) for _ in range(count)]


def _median(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall-clock seconds and median CPU seconds (this process and its children) of ``runs`` calls.

    CPU time is reported beside wall time because the machine is shared: when others load it, the
    wall clock measures them too, while CPU seconds stay close to what the command itself costs.
    """
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()  # start each run from a clean heap, not with the previous run's garbage
        before = _cpu_seconds()
        started = time.perf_counter()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu_seconds() - before)
    return statistics.median(walls), statistics.median(cpus)


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    lines = generate(args.lines)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "plan-inputs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    cli = ROOT / ".venv" / "bin" / "ytcollect"
    command = [str(cli), "plan", "--file", str(path), "--json"]

    def run_cli() -> None:
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)

    def run_help() -> None:
        subprocess.run([str(cli), "--help"], stdout=subprocess.DEVNULL, check=True)

    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs"
    )
    plan = plan_inputs(lines)
    print(f"lines: {len(lines):,}  jobs: {len(plan.jobs):,}  invalid lines: {plan.invalid_lines:,}")
    del plan
    results = {
        "plan_inputs(lines), in process": _median(lambda: plan_inputs(lines), args.runs),
        f"{' '.join(command)} > /dev/null": _median(run_cli, args.runs),
        # The CLI imports every command group at start-up; this separates that cost from plan's own.
        f"{cli} --help > /dev/null (start-up alone)": _median(run_help, args.runs),
    }
    for name, (wall, cpu) in results.items():
        print(f"{name}: median of {args.runs}: {wall:.3f} s wall, {cpu:.3f} s CPU")
    record = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average": os.getloadavg()[0],
        "lines": len(lines),
        "runs": args.runs,
        "seconds": {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu) in results.items()},
    }
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "plan.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
