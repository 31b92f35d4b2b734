"""``resolve`` on its own queue: inputs to channel ids."""

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.stages import resolve_jobs


@dramatiq.actor(queue_name="resolve", **STAGE_OPTIONS)
def resolve(run_id: str, job_ids: list[int]) -> None:
    send_all(resolve_jobs(get_context(), run_id, job_ids))
