"""``normalize`` on its own queue: parse, dedupe, create jobs, fan out."""

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.config import get_settings
from pipeline.stages import fan_out_part, normalize_run


# Every other stage works on one bounded batch; normalize handles the whole run, so it gets its own limit.
@dramatiq.actor(
    queue_name="normalize", **(STAGE_OPTIONS | {"time_limit": get_settings().normalize_time_limit_ms})
)
def normalize(run_id: str, kind: str | None = None, job_ids: list[int] | None = None) -> None:
    """The run's normalize, or (with ``kind`` and ``job_ids``) one part of its fan-out."""
    if kind is None or job_ids is None:
        send_all(normalize_run(get_context(), run_id))
    else:
        send_all(fan_out_part(get_context(), run_id, kind, job_ids))
