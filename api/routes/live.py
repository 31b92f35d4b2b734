"""Live progress of a run: Server-Sent Events at ``/v1/runs/{id}/events`` and a WebSocket at ``/stream``.

Both carry the same payloads: ``progress`` snapshots (counts, progress, jobs settled) and one final
``finished`` event with the summary, after which the server closes. SSE ids are the Redis stream ids,
so a reconnecting ``EventSource`` resumes with ``Last-Event-ID``; a client that connects after the
run ended gets ``finished`` at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.concurrency import run_in_threadpool

from api import live
from api.deps import Caller, State, principal_of, state_of
from api.routes.common import checked_id, errors
from pipeline.errors import RunNotFound
from pipeline.progress import ProgressEvent
from pipeline.runs import get_run_status

router = APIRouter(prefix="/v1/runs", tags=["live progress"])

RETRY_MS = 2_000  # how soon a dropped EventSource reconnects


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, default=str, separators=(",", ":"))


async def _sse(events: AsyncIterator[ProgressEvent | None]) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    async for event in events:
        if event is None:
            yield b": ping\n\n"
            continue
        yield format_sse_event(data_str=_json(event.data), event=event.event, id=event.id)


@router.get(
    "/{run_id}/events",
    responses={
        **errors(401, 404),
        200: {
            "description": "text/event-stream: `progress` events, then one `finished` event",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def run_events(
    run_id: str,
    principal: Caller,
    state: State,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> EventSourceResponse:
    """Server-Sent Events of the run's progress; resume with ``Last-Event-ID``."""
    run_id = checked_id(run_id, "run")
    try:
        status = await run_in_threadpool(get_run_status, run_id, principal.owner_id, ctx=state.ctx)
    except RunNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    events = live.follow(state.feeds, run_id, principal.owner_id, status, last_event_id)
    return EventSourceResponse(_sse(events), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/{run_id}/stream")
async def run_stream(websocket: WebSocket, run_id: str) -> None:
    """The same events over a WebSocket: ``{"id", "event", "data"}`` per message, then close (1000).

    Authenticated like HTTP (``Authorization: Bearer`` or the dashboard's cookie); a missing token
    closes with 4401, another owner's or an unknown run with 4404.
    """
    state = state_of(websocket)
    header = websocket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    principal = await principal_of(websocket, token)
    if principal is None:
        await websocket.close(code=4401, reason="a bearer token is required")
        return
    try:
        status = await run_in_threadpool(
            get_run_status, checked_id(run_id, "run"), principal.owner_id, ctx=state.ctx
        )
    except (RunNotFound, HTTPException):
        await websocket.close(code=4404, reason="run not found")
        return
    await websocket.accept()
    last_event_id = websocket.query_params.get("last_event_id")
    try:
        async for event in live.follow(state.feeds, run_id, principal.owner_id, status, last_event_id):
            if event is None:
                continue
            await websocket.send_text(_json({"id": event.id, "event": event.event, "data": event.data}))
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
