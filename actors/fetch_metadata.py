"""``fetch_metadata`` on queue ``metadata``: channel metadata and statistics snapshots."""

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.stages import fetch_metadata_jobs


@dramatiq.actor(queue_name="metadata", **STAGE_OPTIONS)
def fetch_metadata(run_id: str, job_ids: list[int]) -> None:
    send_all(fetch_metadata_jobs(get_context(), run_id, job_ids))
