"""Quota of the video part: a 1,000-input run with ``recent_videos=30``, then the same run the next day.

    .venv/bin/python -m bench.bench_videos [--inputs 1000] [--channels 3000] [--recent 30] [--seed 20261121]
    .venv/bin/python -m bench.bench_videos --feed --channels 10000   # the zero-unit feed path, a day's pass

The same seeded workload as ``bench_quota`` goes through the real pipeline (RabbitMQ, Redis, PostgreSQL,
one ``dramatiq`` worker process over every queue, the emulator as a subprocess), with the run option
``recent_videos``. Units are read from the emulator's ``/_emulator/usage`` (per method; each method's
bucket is fixed: ``videos.batchGetStats`` is the ``video_stats`` bucket, the rest ``default``).

The minimum is computed from the catalogue's truth, not from the pipeline: the channel part as
``bench_quota.theoretical_minimum``, plus one ``playlistItems.list`` per distinct live channel with
videos, plus ⌈new videos / 50⌉ ``videos.list`` calls for titles and ⌈new videos / 50⌉ batchGetStats,
new videos being each such channel's min(recent, uploads).

"The next day": every stored timestamp (channels, snapshots, videos, checks, resolutions, API calls)
is moved 25 hours into the past and the emulator's clock 25 hours ahead, which is what a day's
wait looks like to the pipeline, without waiting a day.

``--feed``: a first run over ``--channels`` channel ids through the playlist (to know them), then the
next day's pass with ``VIDEO_DISCOVERY=feed``: ⌈channels/50⌉ default units for their metadata plus
one playlist page per feed fallback, which the summary counts.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from bench import common
from bench.bench_quota import _live, _playlist_owner, _video_owner, theoretical_minimum
from bench.common import ceil50, log


def live_channels(intents: list[common.Intent], catalogue: Any) -> set[int]:
    """The catalogue slots of the live channels a run of these inputs ends with (DONE jobs)."""
    found: set[int] = set()
    for intent in intents:
        index = None
        if intent.kind == "handle":
            index = catalogue.index_of_handle(intent.key)
        elif intent.kind == "username":
            index = catalogue.index_of_username(intent.key)
        elif intent.kind == "custom_url":
            index = _live(catalogue, catalogue.index_of_handle(intent.key))
            if index is None:
                index = catalogue.index_of_username(intent.key)
        elif intent.kind == "video":
            index = _video_owner(catalogue, intent.key)
        elif intent.kind == "playlist":
            index = _playlist_owner(catalogue, intent.key)
        elif intent.kind == "channel_id":
            index = catalogue.index_of_id(intent.key)
        index = _live(catalogue, index)
        if index is not None:
            found.add(index)
    return found


def video_minimum(slots: set[int], catalogue: Any, recent: int) -> dict[str, int]:
    # Public videos only: the catalogue's n_videos counts removed uploads too, which no playlist lists.
    with_videos = [i for i in slots if catalogue.video_count(i) > 0]
    new = sum(min(recent, catalogue.video_count(i)) for i in with_videos)
    return {
        "channels": len(slots),
        "channels_with_videos": len(with_videos),
        "new_videos": new,
        "playlistItems.list": len(with_videos),
        "videos.list (titles)": ceil50(new),
        "videos.batchGetStats": ceil50(new),
    }


def next_day(emu: common.Emulator, hours: float = 25.0) -> None:
    """Make a day pass for the pipeline (stored times move back) and for the emulator (its clock moves on)."""
    import json
    import urllib.request

    import psycopg

    shifts = {
        "channels": ["fetched_at", "first_seen_at", "uploads_checked_at"],
        "channel_snapshots": ["fetched_at"],
        "resolutions": ["resolved_at", "first_resolved_at"],
        "api_calls": ["at"],
        "videos": ["first_seen_at", "last_seen_at", "stats_at", "details_at", "added_at"],
        "video_snapshots": ["fetched_at"],
        "runs": ["created_at", "started_at", "finished_at"],
    }
    with psycopg.connect(common.DATABASE_URL, autocommit=True) as conn:
        for table, columns in shifts.items():
            sets = ", ".join(f"{c} = {c} - %(shift)s::interval" for c in columns)
            # Table and column names are the constants above; the shift is a bound parameter.
            conn.execute(f"UPDATE {table} SET {sets}", {"shift": f"{hours} hours"})  # noqa: S608
    request = urllib.request.Request(
        emu.url + "/_emulator/clock",
        data=json.dumps({"advance_seconds": hours * 3600}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    delta = common.units_between(before, after)
    by_method = {method: int(spent["units"]) for method, spent in delta["by_method"].items()}
    return {
        "by_method": by_method,
        "default": sum(u for m, u in by_method.items() if m not in ("videos.batchGetStats", "search.list")),
        "video_stats": by_method.get("videos.batchGetStats", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000)
    parser.add_argument("--channels", type=int, default=3_000)
    parser.add_argument("--recent", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--feed", action="store_true", help="the feed path over --channels channel ids")
    args = parser.parse_args()

    from emulator.catalogue import Catalogue

    catalogue = Catalogue(seed=7, channels=args.channels)
    if args.feed:
        lines = [catalogue.channel_id(i) for i in range(args.channels) if catalogue.live(i)]
        intents = [common.Intent("channel_id", line) for line in lines]
    else:
        work = common.mixed_workload(catalogue, args.inputs, seed=args.seed)
        lines, intents = work.lines, work.intents
    slots = live_channels(intents, catalogue)
    channel_min = theoretical_minimum(intents, catalogue)
    video_min = video_minimum(slots, catalogue, args.recent)
    minimum_default = channel_min.total + video_min["playlistItems.list"] + video_min["videos.list (titles)"]
    log(
        f"{len(lines)} lines, {len(slots)} live channels; minimum {minimum_default} default units {video_min}"
    )

    load_start = [round(x, 2) for x in os.getloadavg()]
    common.prepare_services()
    result: dict[str, Any] = {
        "command": "python -m bench.bench_videos "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not False and v is not True)
        + (" --feed" if args.feed else ""),
        "inputs": len(lines),
        "recent_videos": args.recent,
        "minimum": {
            "channel_part": channel_min.total,
            "channel_part_by_method": channel_min.by_method,
            **video_min,
            "default_units": minimum_default,
            "video_stats_units": video_min["videos.batchGetStats"],
        },
    }
    with common.Emulator(channels=args.channels, name="videos-emulator") as emu:
        ctx = common.driver_context(emu.url)
        try:
            common.reset_state()
            emu.reset()
            options = {"recent_videos": args.recent}
            with common.Workers(emu.url, processes=1, threads=args.threads, name="videos-workers"):
                before = emu.usage()
                first = common.timed_run(ctx, lines, timeout=1_200, label="bench-videos", options=options)
                middle = emu.usage()
            result["first_run"] = {
                **spent(before, middle),
                "seconds": round(first["seconds"], 2),
                "jobs": first["jobs"],
            }
            result["first_run"]["videos"] = _videos_summary(ctx, first["run_id"])
            log(f"run 1: {result['first_run']}")

            next_day(emu)
            env = {"VIDEO_DISCOVERY": "feed"} if args.feed else {}
            with common.Workers(emu.url, processes=1, threads=args.threads, name="videos-workers-2", env=env):
                before = emu.usage()
                second = common.timed_run(ctx, lines, timeout=1_200, label="bench-videos", options=options)
                after = emu.usage()
            result["second_run"] = {
                **spent(before, after),
                "seconds": round(second["seconds"], 2),
                "jobs": second["jobs"],
                "discovery": "feed" if args.feed else "playlist",
                "videos": _videos_summary(ctx, second["run_id"]),
            }
            log(f"run 2: {result['second_run']}")
        finally:
            ctx.close()
    first_video = result["first_run"]["by_method"]
    result["first_run_at_minimum"] = (
        result["first_run"]["default"] == minimum_default
        and result["first_run"]["video_stats"] == video_min["videos.batchGetStats"]
    )
    result["first_run_playlist_pages"] = first_video.get("playlistItems.list", 0)
    second = result["second_run"]
    result["second_run_main_units_per_channel_video_part"] = round(
        second["by_method"].get("playlistItems.list", 0) / max(1, len(slots)), 3
    )
    result["feed_metadata_calls_expected"] = math.ceil(len(slots) / 50) if args.feed else None
    if args.feed:
        # The feed pass's minimum: one channels.list per 50 channels, plus one playlist page per fallback.
        fallbacks = sum(second["videos"].get("feed_fallbacks", {}).values())
        result["feed_pass_minimum_default"] = math.ceil(len(slots) / 50) + fallbacks
        result["feed_pass_at_minimum"] = second["default"] == result["feed_pass_minimum_default"]
    result["load_average"] = {"start": load_start, "end": [round(x, 2) for x in os.getloadavg()]}
    path = common.save_result("videos_feed" if args.feed else "videos", result)
    log(f"wrote {path.relative_to(common.ROOT)}: at minimum={result['first_run_at_minimum']}")


def _videos_summary(ctx: Any, run_id: str) -> dict[str, Any]:
    from pipeline.runs import get_run_status

    return (get_run_status(run_id, ctx=ctx).get("summary") or {}).get("videos") or {}


if __name__ == "__main__":
    main()
