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
def retries_exhausted(message_data: Any = None, retry_info: Any = None) -> None:
    """A stage message gave up: fail its jobs with a reason and count them, so no job is left uncounted.

    Its arguments are read defensively: a malformed one is logged and dropped rather than failing
    twenty times in turn (a failure here has nobody to report to).
    """
    data: dict[str, Any] = message_data if isinstance(message_data, dict) else {}
    given = data.get("kwargs")
    kwargs: dict[str, Any] = given if isinstance(given, dict) else {}
    info = retry_info if isinstance(retry_info, dict) else {}
    actor = str(data.get("actor_name"))[:100]
    run_id = kwargs.get("run_id") if isinstance(kwargs.get("run_id"), str) else None
    job_ids = _integers(kwargs.get("job_ids"))
    batch_nos = _integers(kwargs.get("batch_nos"))
    channel_ids = kwargs.get("channel_ids") or []
    if not isinstance(channel_ids, list) or not all(isinstance(c, str) for c in channel_ids):
        channel_ids = None
    if job_ids is None or batch_nos is None or channel_ids is None:
        log.error("retries_exhausted for %s dropped: its message's kwargs are malformed", actor)
        return
    log.error("%s gave up after %s retries (run %s)", actor, info.get("retries"), run_id)
    reason = f"{actor} failed {info.get('retries')} times; the last error is in the worker log"
    if run_id and job_ids:
        send_all(fail_exhausted(get_context(), run_id, job_ids, reason))
    elif run_id and (channel_ids or batch_nos):
        send_all(
            fail_exhausted_videos(
                get_context(), run_id, channel_ids=channel_ids, batch_nos=batch_nos, reason=reason
            )
        )
    # normalize/finalize/start_run that gave up are picked up again by the periodic reconcile.


def _integers(value: Any) -> list[int] | None:
    """A list of integers (absent counts as empty), or None when it is anything else."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value
    return None
