"""The video part of a run: ``check_uploads`` on queue ``uploads``, ``fetch_video_stats`` on ``video_stats``.

Two queues so each scales on its own: upload checks are one call per channel (the hot one on a big
run), statistics one call per 50 videos.
"""

import dramatiq

from actors.dispatch import send_all
from actors.options import STAGE_OPTIONS
from actors.runtime import get_context
from pipeline.stages import check_uploads as check_uploads_stage
from pipeline.stages import fetch_video_stats as fetch_video_stats_stage


@dramatiq.actor(queue_name="uploads", **STAGE_OPTIONS)
def check_uploads(run_id: str, channel_ids: list[str]) -> None:
    send_all(check_uploads_stage(get_context(), run_id, channel_ids))


@dramatiq.actor(queue_name="video_stats", **STAGE_OPTIONS)
def fetch_video_stats(run_id: str, batch_nos: list[int]) -> None:
    send_all(fetch_video_stats_stage(get_context(), run_id, batch_nos))
