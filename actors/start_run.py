"""``start_run`` on queue ``runs``: the public entry point a backend publishes to."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.errors import InvalidRequest
from pipeline.stages import record_run, reject_run, storable_id, validate_run_request

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="runs", **STAGE_OPTIONS)
def start_run(
    run_id: str,
    analysis_id: str,
    owner_id: str,
    channel_inputs: list[Any],
    options: dict[str, Any] | None = None,
) -> None:
    ctx = get_context()
    try:
        request = validate_run_request(
            ctx,
            run_id=run_id,
            analysis_id=analysis_id,
            owner_id=owner_id,
            channel_inputs=channel_inputs,
            options=options,
        )
    except InvalidRequest as exc:
        if storable_id(run_id, 64):  # the run can be recorded as rejected, so the backend hears of it
            log.warning("start_run %s rejected: %s", run_id, exc)
            reject_run(ctx, run_id=run_id, analysis_id=analysis_id, owner_id=owner_id, error=str(exc))
        else:
            log.error("start_run message dropped: %s", exc)
        return
    send_all(record_run(ctx, request))
