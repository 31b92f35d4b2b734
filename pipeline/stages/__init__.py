"""The pipeline's stages as plain functions, one module per stage.

Each loads by id, does its work, commits, and returns the next messages for the actor to send
(database commit → Redis mark → send, in that order). ``advance`` is the one place that decides how
a run moves on (the resolution barrier, finalize, the database when Redis lost the run).

Every stage may run twice for the same message (RabbitMQ redelivers when a worker dies), so each one
reads the jobs' state, skips what is done, and writes with guarded updates and upserts.
"""

from pipeline.stages.advance import (
    Progress,
    advance,
    after_jobs,
    dispatch_metadata,
    resume_from_database,
    upload_messages,
)
from pipeline.stages.exhausted import fail_exhausted, fail_exhausted_videos
from pipeline.stages.finalize import cancel_open_jobs, finalize_run, finished_event, publish_finished
from pipeline.stages.metadata import fetch_metadata_jobs
from pipeline.stages.normalize import (
    BATCH_KINDS,
    SINGLE_KINDS,
    fan_out_part,
    normalize_run,
    resolve_messages,
)
from pipeline.stages.requests import (
    RUN_OPTIONS,
    RunRequest,
    id_text,
    record_run,
    reject_run,
    start_run_request,
    storable_id,
    usable_run_id,
    validate_run_request,
)
from pipeline.stages.resolve import resolve_jobs
from pipeline.stages.uploads import check_uploads
from pipeline.stages.video_stats import fetch_video_stats

__all__ = [
    "BATCH_KINDS",
    "RUN_OPTIONS",
    "SINGLE_KINDS",
    "Progress",
    "RunRequest",
    "advance",
    "after_jobs",
    "cancel_open_jobs",
    "check_uploads",
    "dispatch_metadata",
    "fail_exhausted",
    "fail_exhausted_videos",
    "fan_out_part",
    "fetch_metadata_jobs",
    "fetch_video_stats",
    "finalize_run",
    "finished_event",
    "id_text",
    "normalize_run",
    "publish_finished",
    "record_run",
    "reject_run",
    "resolve_jobs",
    "resolve_messages",
    "resume_from_database",
    "start_run_request",
    "storable_id",
    "upload_messages",
    "usable_run_id",
    "validate_run_request",
]
