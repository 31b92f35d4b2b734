"""``start_run`` on queue ``runs``: the public entry point a backend publishes to."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.errors import InvalidRequest
from pipeline.stages import record_run, reject_run, start_run_request, usable_run_id

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="runs", **STAGE_OPTIONS)
def start_run(*args: Any, **kwargs: Any) -> None:
    """Tolerant on purpose: a fixed signature raised TypeError on a missing, unknown or positional field
    before any check, and the message vanished unanswered. Every such message is rejected here instead
    (QueueGuard has already dead-lettered those that name no usable run_id)."""
    ctx = get_context()
    try:
        request = start_run_request(ctx, args, kwargs)
    except InvalidRequest as exc:
        answer_refused_start_run(kwargs, str(exc))
        return
    send_all(record_run(ctx, request))


def answer_refused_start_run(kwargs: Any, reason: str) -> bool:
    """Finish a run with ``reason`` as its error when the message names a usable run_id (a new one:
    an existing run is left alone), so the backend hears back; False when it names none."""
    run_id = usable_run_id(kwargs.get("run_id")) if isinstance(kwargs, dict) else None
    if run_id is None:
        return False
    log.warning("start_run %s rejected: %s", run_id, reason)
    reject_run(
        get_context(),
        run_id=run_id,
        analysis_id=kwargs.get("analysis_id"),
        owner_id=kwargs.get("owner_id"),
        error=reason,
    )
    return True
