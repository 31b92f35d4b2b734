"""``start_run``: check a request's shape and bounds, record the run and its raw inputs once.

A request that cannot be accepted still finishes, once, with the reason, so the backend hears of it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

from models import Run, RunKind, RunStatus
from pipeline import messages, store
from pipeline.context import Context
from pipeline.errors import InvalidRequest
from pipeline.messages import Send
from pipeline.stages.finalize import publish_finished

log = logging.getLogger(__name__)

RUN_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "allow_search": bool,  # may custom URLs fall back to search.list?
    "search_budget": int,  # how many search.list calls this run may make
    "freshness_hours": (int, float),  # metadata younger than this is not fetched again
    "use_resolution_cache": bool,  # answer inputs from earlier runs' resolutions
    "recent_videos": int,  # newest uploads per channel to follow, 0-50 (default RECENT_VIDEOS)
}
MAX_RECENT_VIDEOS = 50  # one playlistItems.list page
# Upper bounds for the numeric options: anything above is a mistake or an attack (1e9 hours overflowed
# the date arithmetic of every reconcile tick; a search budget above the search bucket means nothing).
OPTION_MAXIMUM: dict[str, float] = {
    "search_budget": 10_000,  # 100 calls a key a day: a hundred keys' worth
    "freshness_hours": 24 * 366 * 10,  # ten years
    "recent_videos": MAX_RECENT_VIDEOS,
}


@dataclass(frozen=True, slots=True)
class RunRequest:
    run_id: str
    analysis_id: str  # an integer's digits when the sender gave one (given_ids keeps the integer)
    owner_id: str
    channel_inputs: list[str]
    options: dict[str, Any]
    given_ids: dict[str, int] = field(default_factory=dict)


# The seed backend sends analysis_id and owner_id as JSON integers; any 64-bit one is accepted.
MAX_ID_INTEGER = 2**63 - 1


def id_text(value: str | int) -> str:
    """The string form an id is stored and compared as: owner 5 and owner "5" are one owner."""
    return str(value)


def _given_integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and -MAX_ID_INTEGER <= value <= MAX_ID_INTEGER:
        return value
    return None


START_RUN_FIELDS = ("run_id", "analysis_id", "owner_id", "channel_inputs", "options")


def usable_run_id(value: Any) -> str | None:
    """The id a start_run that cannot be accepted is still answered under (a storable string, or an
    integer's digits), or None when the message names no run."""
    if storable_id(value, 64):
        return cast(str, value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) <= 64:
        return str(value)
    return None


def start_run_request(ctx: Context, args: Any, kwargs: dict[str, Any]) -> RunRequest:
    """A start_run message checked as a foreign backend may have shaped it: fields in kwargs only,
    none unknown, none missing, then each field (raises InvalidRequest with the reason)."""
    if args:
        raise InvalidRequest(
            f"start_run takes its fields in kwargs, not {len(args)} positional argument(s) in args"
        )
    unknown = sorted(set(kwargs) - set(START_RUN_FIELDS))
    if unknown:
        raise InvalidRequest(f"unknown field(s) {unknown} in kwargs; known fields: {list(START_RUN_FIELDS)}")
    missing = [name for name in START_RUN_FIELDS[:-1] if name not in kwargs]
    if missing:
        raise InvalidRequest(f"kwargs is missing {', '.join(missing)}")
    return validate_run_request(
        ctx,
        run_id=kwargs["run_id"],
        analysis_id=kwargs["analysis_id"],
        owner_id=kwargs["owner_id"],
        channel_inputs=kwargs["channel_inputs"],
        options=kwargs.get("options"),
    )


def validate_run_request(
    ctx: Context, *, run_id: Any, analysis_id: Any, owner_id: Any, channel_inputs: Any, options: Any
) -> RunRequest:
    """Check a start_run message's shape and bounds; raise InvalidRequest with a sentence a person can act on."""
    if not storable_id(run_id, 64):
        raise InvalidRequest("run_id must be a string of 1 to 64 printable characters (a UUID)")
    given_ids: dict[str, int] = {}
    for name, given in (("analysis_id", analysis_id), ("owner_id", owner_id)):
        if _given_integer(given) is not None:
            given_ids[name] = given
        elif not storable_id(given, 200):
            raise InvalidRequest(
                f"{name} must be a string of 1 to 200 characters (without NUL) or a 64-bit integer"
            )
    if not isinstance(channel_inputs, list):
        raise InvalidRequest("channel_inputs must be a list of strings")
    limit = ctx.settings.max_inputs_per_run
    if len(channel_inputs) > limit:
        raise InvalidRequest(f"too many channel inputs: {len(channel_inputs)} (the limit is {limit} per run)")
    if not channel_inputs:
        raise InvalidRequest("channel_inputs is empty: give at least one channel input")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise InvalidRequest("options must be an object")
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise InvalidRequest(f"unknown option(s) {unknown}; known options: {sorted(RUN_OPTIONS)}")
    for name, value in options.items():
        expected = RUN_OPTIONS[name]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise InvalidRequest(f"option {name} has the wrong type")
        if name in OPTION_MAXIMUM:
            _check_bounded(name, cast(float, value), OPTION_MAXIMUM[name])
    # A non-string line (a foreign backend's null or number) is kept as text and will fail on its own.
    max_len = ctx.settings.max_input_length
    lines = [_input_text(item)[: max_len + 1] for item in channel_inputs]
    return RunRequest(run_id, id_text(analysis_id), id_text(owner_id), lines, dict(options), given_ids)


def _check_bounded(name: str, value: float, maximum: float) -> None:
    """A finite number from 0 to ``maximum``: NaN and Infinity pass isinstance(float) but not JSONB."""
    if (isinstance(value, float) and not math.isfinite(value)) or not 0 <= value <= maximum:
        raise InvalidRequest(f"option {name} must be a number from 0 to {maximum:g}, not {value}")


# PostgreSQL text and JSONB cannot hold NUL, nor a lone surrogate (a JSON "\udc80" escape or bytes
# decoded with surrogateescape make one): either failed the run's first insert and every retry of it,
# so the run was lost without a word. Each becomes U+FFFD, one for one, before anything is stored or
# parsed: the parser judges the text that is stored (a NUL inside a handle or an id makes it invalid).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable_id(value: Any, max_length: int) -> bool:
    """An id the database can store as it is: a non-empty string, bounded, without NUL or surrogates."""
    return isinstance(value, str) and 1 <= len(value) <= max_length and not _UNSTORABLE.search(value)


def _input_text(item: Any) -> str:
    text = item if isinstance(item, str) else ("" if item is None else str(item))
    return _UNSTORABLE.sub("\ufffd", text)


def record_run(
    ctx: Context,
    request: RunRequest,
    *,
    kind: RunKind = RunKind.INTERACTIVE,
    parent_run_id: str | None = None,
) -> list[Send]:
    """Record the run and its raw inputs once (idempotent on run_id) and ask for normalize."""
    with ctx.session() as session:
        run = Run(
            id=request.run_id,
            analysis_id=request.analysis_id,
            owner_id=request.owner_id,
            kind=kind,
            options=request.options,
            raw_inputs=request.channel_inputs,
            total_inputs=len(request.channel_inputs),
            parent_run_id=parent_run_id,
            created_at=ctx.now(),
            given_ids=request.given_ids or None,
        )
        created = store.insert_run(session, run=run)
        existing = None if created else store.get_run(session, run_id=request.run_id)
    if existing is not None and existing.status not in (RunStatus.PENDING, RunStatus.RUNNING):
        return []
    if existing is not None and (existing.owner_id != request.owner_id):
        log.warning("start_run %s resent with another owner; keeping the first", request.run_id)
    return [messages.normalize(request.run_id)]


def reject_run(ctx: Context, *, run_id: str, analysis_id: Any, owner_id: Any, error: str) -> bool:
    """A start_run that cannot be accepted still finishes, once, with the reason, so the backend hears of it.

    Only a run this rejection creates is finished: a malformed resend of an existing run_id (anyone's)
    leaves that run alone, or one message could end another owner's run. False when nothing was recorded.
    """
    now = ctx.now()
    summary = {"error": error, "counts_by_status": {}, "total_jobs": 0}
    with ctx.session() as session:
        created = store.insert_run(
            session,
            run=Run(
                id=run_id,
                analysis_id=_input_text(analysis_id)[:200] or "-",
                owner_id=_input_text(owner_id)[:200] or "-",
                error=_input_text(error)[:2000],
                created_at=now,
                given_ids={
                    name: given
                    for name, given in (("analysis_id", analysis_id), ("owner_id", owner_id))
                    if _given_integer(given) is not None
                }
                or None,
            ),
        )
        won = created and store.end_run(
            session, run_id=run_id, status=RunStatus.FINISHED, summary=summary, now=now
        )
    if not created:
        log.warning(
            "start_run %s rejected (%s); a run with that id exists and is left as it is", run_id, error
        )
        return False
    if won:
        publish_finished(ctx, run_id)
    return True
