"""Interactive runs are not starved: a 10-input interactive run on idle queues and behind a system run.

Per repetition, side by side on the same workers: (1) a 10-handle interactive run on idle queues;
(2) a ``--system-inputs`` system run (the periodic refresh's kind, sent at its priority) recorded, and
once its normalize has filled the resolve queue with ``--fill`` messages (each carries up to
``RESOLVE_LOOKUPS_PER_MESSAGE`` lookups: 300 is about 3,000 lookups), a second 10-handle interactive
run, timed from ``start_run`` to its ``finished_at``. Then the system run is cancelled and the state
emptied. Median of ``--runs``, for each ``--modes``: ``priority`` (``BROKER_MAX_PRIORITY=3``, the
default) and ``fifo`` (``BROKER_MAX_PRIORITY=0``: plain queues, as before priorities), whose loaded
run is cut off at ``--fifo-timeout`` seconds. Target: loaded ≤ 2 × idle.

    python -m bench.bench_priority            # --system-inputs 20000 --modes priority fifo --runs 3
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any


def interactive_handles(catalogue: Any, used: set[int], count: int, skip: int) -> list[str]:
    """``count`` live handles of channels the system workload does not name (after ``skip`` of them)."""
    lines: list[str] = []
    for index in range(len(catalogue) - 1, -1, -1):
        if index in used:
            continue
        entry = catalogue.entry(index)
        if entry["terminated"] or not entry["handle"] or not entry["handle"].isascii():
            continue
        if skip:
            skip -= 1
            continue
        lines.append(f"@{entry['handle']}")
        if len(lines) == count:
            return lines
    raise RuntimeError("the catalogue has too few channels outside the workload")


def queue_ready(common: Any, queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(common.BROKER_URL))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def repetition(
    common: Any, ctx: Any, system_lines: list[str], idle: list[str], loaded: list[str], args: Any, fifo: bool
) -> dict[str, Any]:
    from actors.dispatch import send_all
    from actors.priority import SYSTEM, sending_as
    from models import RunKind
    from pipeline.runs import cancel_run
    from pipeline.stages.requests import RunRequest, record_run

    common.reset_state()
    load_before = os.getloadavg()[0]
    idle_run = common.timed_run(ctx, idle, timeout=120, label="bench-priority-idle")
    system = RunRequest(str(uuid.uuid4()), "bench-priority-refresh", "system", system_lines, {})
    t0 = time.perf_counter()
    with sending_as(SYSTEM):
        send_all(record_run(ctx, system, kind=RunKind.SYSTEM))
    try:
        deadline = time.monotonic() + 300
        while (queued := queue_ready(common, "resolve")) < args.fill:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the system run queued only {queued} resolve messages")
            time.sleep(0.05)
        filled_after = time.perf_counter() - t0
        timeout = args.fifo_timeout if fifo else 300
        try:
            loaded_run = common.timed_run(ctx, loaded, timeout=timeout, label="bench-priority-loaded")
            loaded_seconds: float | None = loaded_run["seconds"]
        except TimeoutError:
            loaded_seconds = None  # still waiting behind the system run's lookups
        queued_after = queue_ready(common, "resolve")
    finally:
        # Also when the repetition failed: a system run left going would fill the next one's queues.
        cancel_run(system.run_id, ctx=ctx)
        common.reset_state()
        time.sleep(3)  # what the workers still held ends against empty tables; then empty again
        common.reset_state()
    return {
        "idle_seconds": round(idle_run["seconds"], 3),
        "loaded_seconds": None if loaded_seconds is None else round(loaded_seconds, 3),
        "resolve_queued_at_start": queued,  # messages, each of up to RESOLVE_LOOKUPS_PER_MESSAGE lookups
        "resolve_lookups_queued_at_start": queued * ctx.settings.resolve_lookups_per_message,  # at most
        "resolve_queued_at_end": queued_after,
        "system_filled_after_s": round(filled_after, 1),
        "load_before": round(load_before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system-inputs", type=int, default=20_000)
    parser.add_argument(
        "--fill", type=int, default=300, help="resolve messages queued before the loaded run starts"
    )
    parser.add_argument("--channels", type=int, default=40_000)
    parser.add_argument("--config", default="1x8")
    parser.add_argument("--modes", nargs="+", default=["priority", "fifo"], choices=["priority", "fifo"])
    parser.add_argument("--prefetch", type=int, default=0, help="WORKER_QUEUE_PREFETCH (0: 2 x threads)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fifo-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()

    from bench import common
    from bench.bench_api import own_resources
    from bench.common import log
    from emulator.catalogue import Catalogue

    own_resources("priority")  # a database and vhost of its own: it re-declares the queues
    common.REDIS_URL = "redis://127.0.0.1:6379/8"  # and a Redis db no other benchmark flushes
    catalogue = Catalogue(seed=7, channels=args.channels)
    work = common.mixed_workload(catalogue, args.system_inputs, seed=args.seed)
    used = {i.index for i in work.intents if i.index is not None}
    idle = interactive_handles(catalogue, used, 10, 0)
    loaded = interactive_handles(catalogue, used, 10, 10)
    processes, threads = (int(x) for x in args.config.split("x"))
    common.prepare_services()
    results: dict[str, Any] = {}
    with common.Emulator(channels=args.channels, name="priority-emulator") as emu:
        ctx = common.driver_context(emu.url)
        import dramatiq

        from actors.broker import redeclare_queues
        from actors.priority import Priorities

        broker = dramatiq.get_broker()
        try:
            for mode in args.modes:
                max_priority = 0 if mode == "fifo" else 3
                common.purge_queues(common.PIPELINE_QUEUES)
                redeclare_queues(common.BROKER_URL, common.PIPELINE_QUEUES, max_priority)
                broker.max_priority = max_priority or None  # type: ignore[attr-defined]
                for middleware in broker.middleware:  # the driver stamps no priority on plain queues
                    if isinstance(middleware, Priorities):
                        middleware.enabled = max_priority > 0
                broker.queues_pending |= broker.queues  # type: ignore[attr-defined]
                env = {"BROKER_MAX_PRIORITY": str(max_priority), "WORKER_QUEUE_PREFETCH": str(args.prefetch)}
                reps = []
                with common.Workers(
                    emu.url, processes=processes, threads=threads, name=f"priority-{mode}", env=env
                ):
                    common.reset_state()
                    common.timed_run(
                        ctx, interactive_handles(catalogue, used, 10, 20), timeout=120
                    )  # warm-up
                    for rep in range(args.runs):
                        result, discarded = common.undisturbed(
                            lambda m=mode: repetition(
                                common, ctx, work.lines, idle, loaded, args, m == "fifo"
                            ),
                            what=f"{mode} repetition",
                        )
                        result["discarded_attempts"] = discarded
                        reps.append(result)
                        log(f"{mode} rep {rep + 1}: {result}")
                idle_med = common.median([r["idle_seconds"] for r in reps])
                finished = [r["loaded_seconds"] for r in reps if r["loaded_seconds"] is not None]
                loaded_med = common.median(finished) if len(finished) == len(reps) else None
                results[mode] = {
                    "broker_max_priority": max_priority,
                    "idle_seconds_median": idle_med,
                    "loaded_seconds_median": loaded_med,
                    "ratio": round(loaded_med / idle_med, 2) if loaded_med else None,
                    "loaded_cut_off_at_s": None if loaded_med else args.fifo_timeout,
                    "reps": reps,
                }
                log(f"{mode}: idle {idle_med:.2f} s, loaded {loaded_med} s")
        finally:
            ctx.close()
    path = common.save_result(
        f"priority_prefetch{args.prefetch}" if args.prefetch else "priority",
        {
            "command": "python -m bench.bench_priority "
            + " ".join(
                f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}"
                for k, v in vars(args).items()
            ),
            "system_inputs": args.system_inputs,
            "config": args.config,
            "modes": results,
        },
    )
    log(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
