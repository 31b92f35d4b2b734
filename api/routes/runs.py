"""``/v1/runs``: start runs, list them, read their status and results, cancel, retry and delete them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import Caller, State
from api.routes.common import checked_id, errors
from api.schemas import (
    Cancelled,
    ResultPage,
    Retried,
    RetryOptions,
    RunAccepted,
    RunPage,
    RunStatusOut,
    StartRun,
)
from pipeline import runs
from pipeline.errors import InvalidRequest, RunNotFound
from pipeline.stages import storable_id

RunStatusName = Literal["PENDING", "RUNNING", "FINISHED", "CANCELLED"]
router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=errors(401))

CSV_PAGE = 1_000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")  # a header is Latin-1: the file name keeps only these
RESULT_FIELDS = [
    "line",
    "input",
    "job_id",
    "kind",
    "value",
    "status",
    "channel_id",
    "method",
    "confidence",
    "note",
    "error_code",
    "error_message",
    "title",
    "handle",
    "subscribers",
    "views",
    "videos",
]


def _path(run_id: str) -> str:
    """The run's URL path: a client-chosen id may hold any printable character, so it is quoted."""
    return f"/v1/runs/{quote(run_id, safe='')}"


def _accepted(run_id: str, run_status: str, created: bool) -> RunAccepted:
    return RunAccepted(
        run_id=run_id,
        run_status=run_status,
        created=created,
        status_url=_path(run_id),
        events_url=f"{_path(run_id)}/events",
    )


@router.post("", status_code=202, response_model=RunAccepted, responses=errors(400, 409, 413, 422))
def start_run(body: StartRun, principal: Caller, state: State, response: Response) -> RunAccepted:
    """Start a run for the caller. Send your own ``run_id`` (a UUID) to make a resend harmless."""
    if body.run_id is not None and storable_id(body.run_id, 64):  # else start_run refuses it below
        try:
            existing = runs.get_run_status(body.run_id, ctx=state.ctx)
        except RunNotFound:
            existing = None
        if existing is not None:
            if existing["owner_id"] != principal.owner_id:
                raise HTTPException(
                    status_code=409, detail="this run_id is already taken: choose another UUID"
                )
            response.headers["Location"] = _path(body.run_id)
            return _accepted(body.run_id, existing["run_status"], created=False)
    try:
        run_id = runs.start_run(
            body.analysis_id,
            principal.owner_id,
            body.channel_inputs,
            body.options,
            run_id=body.run_id,
            ctx=state.ctx,
            send=state.send,
        )
    except InvalidRequest as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    response.headers["Location"] = _path(run_id)
    return _accepted(run_id, "PENDING", created=True)


@router.get("", response_model=RunPage, responses=errors(422))
def list_runs(
    principal: Caller,
    state: State,
    status: Annotated[list[RunStatusName] | None, Query(description="repeat to ask for several")] = None,
    analysis_id: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, object]:
    """The caller's runs, newest first, filtered by status and analysis, a page at a time."""
    return runs.list_runs(
        principal.owner_id,
        statuses=status,
        analysis_id=analysis_id,
        offset=offset,
        limit=limit,
        ctx=state.ctx,
    )


@router.get("/{run_id}", response_model=RunStatusOut, responses=errors(404))
def get_run(run_id: str, principal: Caller, state: State) -> dict[str, object]:
    """The run's status, live counts and progress; its summary once it has finished."""
    try:
        return runs.get_run_status(checked_id(run_id, "run"), principal.owner_id, ctx=state.ctx)
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get(
    "/{run_id}/results",
    response_model=ResultPage,
    responses={**errors(404, 422), 200: {"content": {"text/csv": {}}}},
)
def get_results(
    run_id: str,
    principal: Caller,
    state: State,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> object:
    """One row per input line, in input order (JSON a page at a time, or the whole run as streamed CSV)."""
    run_id = checked_id(run_id, "run")
    try:
        page = runs.get_run_results(
            run_id,
            principal.owner_id,
            ctx=state.ctx,
            offset=0 if format == "csv" else offset,
            limit=CSV_PAGE if format == "csv" else limit + 1,
        )
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    if format == "csv":
        return StreamingResponse(
            _csv_rows(state, run_id, principal.owner_id, page),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="run-{_SAFE_NAME.sub("_", run_id)[:64]}.csv"'
            },
        )
    more = len(page) > limit
    return {
        "run_id": run_id,
        "items": page[:limit],
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if more else None,
    }


def _csv_rows(state: State, run_id: str, owner_id: str, first: list[dict[str, object]]) -> Iterator[str]:
    """The CSV a page of rows at a time, so a 100,000-line run never sits in memory whole."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    page, offset = first, 0
    while True:
        writer.writerows(page)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < CSV_PAGE:
            return
        offset += CSV_PAGE
        page = runs.get_run_results(run_id, owner_id, ctx=state.ctx, offset=offset, limit=CSV_PAGE)


@router.post("/{run_id}/cancel", response_model=Cancelled, responses=errors(404))
def cancel_run(run_id: str, principal: Caller, state: State) -> Cancelled:
    """Cancel the run: its open jobs end as CANCELLED and the run as CANCELLED, once."""
    try:
        won = runs.cancel_run(checked_id(run_id, "run"), principal.owner_id, ctx=state.ctx)
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return Cancelled(run_id=run_id, cancelled=won)


@router.post(
    "/{run_id}/retry", status_code=202, response_model=Retried, responses=errors(400, 404, 409, 413, 422)
)
def retry_run(
    run_id: str, principal: Caller, state: State, body: Annotated[RetryOptions | None, Body()] = None
) -> Retried:
    """Start a new run, linked to this one, with its failed and needs-search inputs."""
    options = body or RetryOptions()
    try:
        new_id = runs.retry_run(
            checked_id(run_id, "run"),
            principal.owner_id,
            allow_search=options.allow_search,
            search_budget=options.search_budget,
            ctx=state.ctx,
            send=state.send,
        )
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except InvalidRequest as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return Retried(run_id=run_id, retry_run_id=new_id)


@router.delete("/{run_id}", status_code=204, responses=errors(404, 409))
def delete_run(run_id: str, principal: Caller, state: State) -> Response:
    """Delete a finished run with its inputs, jobs and snapshots (channels other runs share stay)."""
    try:
        runs.delete_run(checked_id(run_id, "run"), principal.owner_id, ctx=state.ctx)
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except InvalidRequest as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return Response(status_code=204)
