"""``finalize`` on its own queue: the run's summary and its one ``run_finished`` event.

``retries_exhausted`` lives here too: it is the bookkeeping that lets a run finish when a stage gives up.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.stages import fail_exhausted, fail_exhausted_videos, finalize_run

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="finalize", **STAGE_OPTIONS)
def finalize(run_id: str) -> None:
    send_all(finalize_run(get_context(), run_id))


@dramatiq.actor(queue_name="finalize", max_retries=20, max_backoff=60_000)
def retries_exhausted(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A stage message gave up: fail its jobs with a reason and count them, so no job is left uncounted."""
    kwargs = message_data.get("kwargs") or {}
    actor = message_data.get("actor_name")
    run_id, job_ids = kwargs.get("run_id"), kwargs.get("job_ids")
    log.error("%s gave up after %s retries (run %s)", actor, retry_info.get("retries"), run_id)
    reason = f"{actor} failed {retry_info.get('retries')} times; the last error is in the worker log"
    if run_id and job_ids:
        send_all(fail_exhausted(get_context(), run_id, job_ids, reason))
    elif run_id and (kwargs.get("channel_ids") or kwargs.get("batch_nos")):
        send_all(
            fail_exhausted_videos(
                get_context(),
                run_id,
                channel_ids=kwargs.get("channel_ids") or (),
                batch_nos=kwargs.get("batch_nos") or (),
                reason=reason,
            )
        )
    # normalize/finalize/start_run that gave up are picked up again by the periodic reconcile.
