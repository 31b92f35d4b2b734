"""Quota: units a 1,000-input run spends, beside the theoretical minimum and a naive strategy.

    .venv/bin/python -m bench.bench_quota [--inputs 1000] [--channels 3000] [--runs 3] [--seed 20261121]

A seeded workload drawn from the emulator's catalogue (30% channel ids, 10% ``/channel/`` URLs, 25%
handles in mixed forms and cases, 5% usernames, 5% custom URLs, 10% video URLs, 5% playlists, 5%
invalid, plus 5% duplicates) goes through the real pipeline: RabbitMQ (vhost ``ytc_bench``), Redis
(db 5), PostgreSQL (``ytc_bench``), one ``dramatiq`` worker process with 8 threads, and the emulator as
a subprocess. Units are read from the emulator's ``/_emulator/usage`` before and after each run.

Run 1 starts from empty tables and Redis; run 2 sends the same inputs again at once, inside the
freshness window (24 h) and the resolution cache's lifetime (7 days). The units are deterministic
(the check below fails loudly if two repetitions disagree); wall times are medians of ``--runs``.
Writes ``bench/results/quota.json``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from bench import common
from bench.common import Intent, ceil50, log
from pipeline.inputs import plan_inputs
from pipeline.quota_plan import minimum_quota


@dataclass(frozen=True)
class Minimum:
    """The least units any strategy can spend on a set of inputs, term by term."""

    handle_lookups: int
    username_lookups: int
    custom_url_units: int
    video_calls: int
    playlist_calls: int
    metadata_channels: int
    metadata_calls: int
    total: int
    by_method: dict[str, int]
    shared_probe_overlap: int  # custom-URL probes that repeat a handle/username lookup of the same list


def _playlist_owner(catalogue: Any, playlist_id: str) -> int | None:
    """The slot owning a playlist as the emulator's ``playlists.list`` answers it (None: not found)."""
    if playlist_id.startswith("UU"):
        index = catalogue.index_of_id(playlist_id)
        ok = index is not None and catalogue.live(index) and catalogue.detail(index).n_videos > 0
        return index if ok else None
    slot = catalogue.playlist_slot(playlist_id)
    return None if slot is None else slot[0]


def _video_owner(catalogue: Any, video_id: str) -> int | None:
    slot = catalogue.video_slot(video_id)
    return None if slot is None else slot[0]


def _live(catalogue: Any, index: int | None) -> int | None:
    return index if index is not None and catalogue.live(index) else None


def theoretical_minimum(intents: list[Intent], catalogue: Any) -> Minimum:
    """The fewest units that can resolve these inputs and bring every named channel's metadata.

    Computed from the catalogue's truth, not from the pipeline, with the API's prices
    (``youtube-api.md``): every list call costs 1 unit, id filters take 50 ids, ``forHandle`` and
    ``forUsername`` one value, and a lookup asks for all the parts, so its channel needs no more calls.

    - 1 unit per distinct handle (compared without case) and per distinct username: one lookup each,
      found or not (a miss costs its unit too);
    - per distinct custom URL name: 1 when ``forHandle`` finds it, else 2 (``forUsername`` is tried
      next), and never ``search.list`` (the run does not allow it; the input ends ``NEEDS_SEARCH``);
    - ⌈videos/50⌉ + ⌈playlists/50⌉ for the distinct video and playlist ids, found or not;
    - ⌈m/50⌉ metadata calls, m = the distinct channels still needing metadata: explicit channel ids
      (terminated ones included: only the call can tell they are gone) ∪ owners of the videos and
      playlists found, minus the channels a handle, username or custom-URL lookup already brought.

    Duplicate lines and invalid inputs cost nothing. ``shared_probe_overlap`` counts custom-URL
    probes that repeat, value for value, a handle or username lookup of the same list: the brief's
    formula charges them (the pipeline resolves each job on its own); a strategy sharing lookups
    across kinds could save that many units more.
    """
    from emulator.catalogue import fold

    by_kind: dict[str, set[str]] = {}
    for intent in intents:
        by_kind.setdefault(intent.kind, set()).add(intent.key)
    handles = by_kind.get("handle", set())
    usernames = by_kind.get("username", set())
    customs = by_kind.get("custom_url", set())
    videos = by_kind.get("video", set())
    playlists = by_kind.get("playlist", set())
    explicit = by_kind.get("channel_id", set())

    brought: set[str] = set()
    for handle in handles:
        index = _live(catalogue, catalogue.index_of_handle(handle))
        if index is not None:
            brought.add(catalogue.channel_id(index))
    for name in usernames:
        index = _live(catalogue, catalogue.index_of_username(name))
        if index is not None:
            brought.add(catalogue.channel_id(index))
    custom_units = 0
    overlap = 0
    folded_handles = {fold(h) for h in handles}
    folded_users = {fold(u) for u in usernames}
    for name in customs:
        custom_units += 1
        overlap += fold(name) in folded_handles
        index = _live(catalogue, catalogue.index_of_handle(name))
        if index is None:
            custom_units += 1
            overlap += fold(name) in folded_users
            index = _live(catalogue, catalogue.index_of_username(name))
        if index is not None:
            brought.add(catalogue.channel_id(index))

    owners = {catalogue.channel_id(i) for v in videos if (i := _video_owner(catalogue, v)) is not None}
    owners |= {catalogue.channel_id(i) for p in playlists if (i := _playlist_owner(catalogue, p)) is not None}
    need = (explicit | owners) - brought
    lookups = len(handles) + len(usernames) + custom_units
    metadata_calls = ceil50(len(need))
    total = lookups + ceil50(len(videos)) + ceil50(len(playlists)) + metadata_calls
    by_method = {
        "channels.list": lookups + metadata_calls,
        "videos.list": ceil50(len(videos)),
        "playlists.list": ceil50(len(playlists)),
    }
    return Minimum(
        len(handles),
        len(usernames),
        custom_units,
        ceil50(len(videos)),
        ceil50(len(playlists)),
        len(need),
        metadata_calls,
        total,
        {k: v for k, v in by_method.items() if v},
        overlap,
    )


def naive_units(intents: list[Intent]) -> int:
    """One call per input line per stage, nothing shared, nothing deduplicated: a channel id pays its
    metadata call, every other valid line a resolve call and a metadata call, invalid lines nothing."""
    return sum(0 if i.kind == "invalid" else 1 if i.kind == "channel_id" else 2 for i in intents)


def second_run_required(intents: list[Intent], catalogue: Any) -> dict[str, int]:
    """Units a repeat of the inputs still needs inside the freshness window, with the design's caches.

    The resolution cache keeps successful resolutions only, and fresh metadata is whatever run 1
    stored. What remains: lookups that found nothing (handles, usernames: 1; custom URL names that
    neither lookup found: 2), the video and playlist ids that were not found (⌈n/50⌉ each), and
    explicit channel ids that no call returned (terminated: ⌈n/50⌉). A negative cache would make it 0.
    """
    seen: set[tuple[str, str]] = set()
    units = 0
    missing_videos = missing_playlists = missing_channels = 0
    for intent in intents:
        if (intent.kind, intent.key) in seen or intent.kind == "invalid":
            continue
        seen.add((intent.kind, intent.key))
        if intent.kind == "handle":
            units += _live(catalogue, catalogue.index_of_handle(intent.key)) is None
        elif intent.kind == "username":
            units += _live(catalogue, catalogue.index_of_username(intent.key)) is None
        elif intent.kind == "custom_url":
            found = (
                _live(catalogue, catalogue.index_of_handle(intent.key)) is not None
                or _live(catalogue, catalogue.index_of_username(intent.key)) is not None
            )
            units += 0 if found else 2
        elif intent.kind == "video":
            missing_videos += _video_owner(catalogue, intent.key) is None
        elif intent.kind == "playlist":
            missing_playlists += _playlist_owner(catalogue, intent.key) is None
        elif intent.kind == "channel_id":
            index = catalogue.index_of_id(intent.key)
            missing_channels += _live(catalogue, index) is None
    calls = ceil50(missing_videos) + ceil50(missing_playlists) + ceil50(missing_channels)
    return {
        "units": units + calls,
        "failed_lookup_units": units,
        "missing_video_ids": missing_videos,
        "missing_playlist_ids": missing_playlists,
        "missing_channel_ids": missing_channels,
    }


def _pipeline_units(ctx: Any, run_id: str) -> dict[str, Any]:
    from pipeline.runs import get_run_status

    return get_run_status(run_id, ctx=ctx)["quota_units"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000)
    parser.add_argument("--channels", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    from emulator.catalogue import Catalogue

    catalogue = Catalogue(seed=7, channels=args.channels)
    work = common.mixed_workload(catalogue, args.inputs, seed=args.seed)
    minimum = theoretical_minimum(work.intents, catalogue)
    naive = naive_units(work.intents)
    required2 = second_run_required(work.intents, catalogue)
    lines_by_kind = Counter(i.kind for i in work.intents)
    log(
        f"{len(work.lines)} lines {dict(lines_by_kind)}; minimum {minimum.total} {minimum.by_method}, "
        f"naive {naive}, second run requires {required2['units']}"
    )

    common.prepare_services()
    runs: list[dict[str, Any]] = []
    with common.Emulator(channels=args.channels, name="quota-emulator") as emu:
        ctx = common.driver_context(emu.url)
        try:
            with common.Workers(
                emu.url, processes=args.processes, threads=args.threads, name="quota-workers"
            ):
                for rep in range(args.runs):
                    common.reset_state()
                    emu.reset()
                    before = emu.usage()
                    first = common.timed_run(ctx, work.lines, timeout=300, label="bench-quota")
                    middle = emu.usage()
                    second = common.timed_run(ctx, work.lines, timeout=300, label="bench-quota")
                    after = emu.usage()
                    rep_result = {
                        "first": {
                            **first,
                            "spent": common.units_between(before, middle),
                            "pipeline_units": _pipeline_units(ctx, first["run_id"]),
                        },
                        "second": {
                            **second,
                            "spent": common.units_between(middle, after),
                            "pipeline_units": _pipeline_units(ctx, second["run_id"]),
                        },
                    }
                    runs.append(rep_result)
                    log(
                        f"rep {rep + 1}: run 1 {rep_result['first']['spent']} in {first['seconds']:.2f} s "
                        f"{first['jobs']}; run 2 {rep_result['second']['spent']} in {second['seconds']:.2f} s "
                        f"{second['jobs']}"
                    )
        finally:
            ctx.close()

    first_units = {r["first"]["spent"]["units"] for r in runs}
    second_units = {r["second"]["spent"]["units"] for r in runs}
    deterministic = len(first_units) == 1 and len(second_units) == 1
    spent1 = runs[0]["first"]["spent"]
    spent2 = runs[0]["second"]["spent"]
    result = {
        "command": "python -m bench.bench_quota " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
        "inputs": len(work.lines),
        "lines_by_intent": dict(lines_by_kind),
        "distinct_jobs": len(
            {
                (i.kind, i.key if i.kind != "invalid" else line)
                for i, line in zip(work.intents, work.lines, strict=True)
            }
        ),
        "workers": f"{args.processes}x{args.threads}",
        "minimum": asdict(minimum),
        "naive": naive,
        "first_run_units": spent1["units"],
        "first_run_by_method": spent1["by_method"],
        "first_run_over_minimum": spent1["units"] - minimum.total,
        "naive_over_spent": round(naive / spent1["units"], 2) if spent1["units"] else None,
        "second_run_units": spent2["units"],
        "second_run_by_method": spent2["by_method"],
        "second_run_required": required2,
        "deterministic": deterministic,
        "units_per_rep": [[r["first"]["spent"]["units"], r["second"]["spent"]["units"]] for r in runs],
        "first_run_seconds_median": round(common.median([r["first"]["seconds"] for r in runs]), 3),
        "second_run_seconds_median": round(common.median([r["second"]["seconds"] for r in runs]), 3),
        "first_run_seconds": [round(r["first"]["seconds"], 3) for r in runs],
        "second_run_seconds": [round(r["second"]["seconds"], 3) for r in runs],
        "first_run_jobs": runs[0]["first"]["jobs"],
        "second_run_jobs": runs[0]["second"]["jobs"],
        "pipeline_units_first": runs[0]["first"]["pipeline_units"],
        "pipeline_units_second": runs[0]["second"]["pipeline_units"],
    }
    # What `ytcollect plan` promised for these lines before anything ran (the video part is off here,
    # RECENT_VIDEOS=0, as in the minimum above): a fresh run must land inside its range.
    estimate = minimum_quota(plan_inputs(work.lines), recent_videos=0)
    result["plan"] = {
        "min_units": estimate.min_units,
        "max_units_without_search": estimate.max_units_without_search,
        "search_calls_max": estimate.search_calls_max,
    }
    result["first_run_within_plan"] = (
        estimate.min_units <= spent1["units"] <= estimate.max_units_without_search
    )
    path = common.save_result("quota", result)
    log(
        f"minimum {minimum.total}, spent {spent1['units']} ({spent1['by_method']}), naive {naive} "
        f"({result['naive_over_spent']}x); second run {spent2['units']} (requires {required2['units']}); "
        f"deterministic={deterministic}; plan {estimate.min_units}-{estimate.max_units_without_search} "
        f"(within: {result['first_run_within_plan']}); wrote {path.relative_to(common.ROOT)}"
    )
    if not deterministic:
        log(f"WARNING: units differ between repetitions: {result['units_per_rep']}")


if __name__ == "__main__":
    main()
