"""``start_run`` on queue ``runs``: the public entry point a backend publishes to."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import dramatiq

from actors.dispatch import send_all
from actors.middleware import call_fields
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
        named = call_fields(args, kwargs, beside={})
        run_id = usable_run_id(named.get("run_id"))
        if run_id is None:  # QueueGuard refuses these before they run; a direct call may not
            log.error("start_run rejected and unanswered, it names no usable run_id: %s", exc)
            return
        answer_refused_start_run(run_id, named, str(exc))
        return
    send_all(record_run(ctx, request))


def answer_refused_start_run(run_id: str, fields: Mapping[str, Any], reason: str) -> None:
    """Finish the run ``run_id`` with ``reason`` as its error, under the owner and analysis ``fields``
    name, so the backend hears back (only a new run: an existing one, anyone's, is left alone)."""
    log.warning("start_run %s rejected: %s", run_id, reason)
    reject_run(
        get_context(),
        run_id=run_id,
        analysis_id=fields.get("analysis_id"),
        owner_id=fields.get("owner_id"),
        error=reason,
    )
