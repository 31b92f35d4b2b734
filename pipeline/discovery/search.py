"""The one place discovery calls ``search.list``, and what a page of results says about channels.

One call per keyword: ``type=video,channel`` (or ``video`` alone) with 50 results, so a call finds
both the channels whose videos match and the channels named after the keyword. Exactly one request
per call (``max_attempts=1``): the cycle claims every request against its budgets before it is sent,
so the client must not retry behind its back; a transient failure is retried by the actor, with a
new claim.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from models import CycleTrigger, DiscoveryCycle
from pipeline.context import Context
from pipeline.youtube.records import SearchResult

RESULTS_PER_SEARCH = 50  # search.list's maximum page: one call brings as much as a call can


def search_priority(cycle: DiscoveryCycle) -> str:
    """Manual cycles (a person waiting) may use the search bucket's interactive share; the others may not."""
    return "interactive" if cycle.trigger == CycleTrigger.MANUAL else "system"


def search_keyword(ctx: Context, cycle: DiscoveryCycle, keyword: str) -> list[SearchResult]:
    """Search one keyword with the cycle's region, language and window (1 call of the search bucket)."""
    options = cycle.options or {}
    after = options.get("published_after")
    return ctx.youtube.search(
        keyword,
        types=("video", "channel") if options.get("include_channels", True) else ("video",),
        max_results=RESULTS_PER_SEARCH,
        published_after=datetime.fromisoformat(after) if after else None,
        region_code=options.get("region_code"),
        relevance_language=options.get("relevance_language"),
        run_id=cycle.id,  # api_calls.run_id names the run or the discovery cycle that made the call
        priority=search_priority(cycle),
        max_attempts=1,
    )


def channel_hits(results: Iterable[SearchResult]) -> dict[str, dict[str, Any]]:
    """Channel id → ``{"videos": videos of it found, "channel": whether the channel itself was found}``."""
    hits: dict[str, dict[str, Any]] = {}
    for result in results:
        entry = hits.setdefault(result.channel_id, {"videos": 0, "channel": False})
        if result.kind == "video":
            entry["videos"] += 1
        elif result.kind == "channel":
            entry["channel"] = True
    return hits
