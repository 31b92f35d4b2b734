"""``normalize`` on its own queue: parse, dedupe, create jobs, fan out."""

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.stages import normalize_run


@dramatiq.actor(queue_name="normalize", **STAGE_OPTIONS)
def normalize(run_id: str) -> None:
    send_all(normalize_run(get_context(), run_id))
