"""SQLModel tables, one module per table. Importing this package registers them all on the metadata."""

from sqlmodel import SQLModel

from models.api_call import ApiCall
from models.api_token import ApiToken
from models.channel import Channel
from models.job import OPEN_STATUSES, TERMINAL_STATUSES, Job, JobStatus
from models.resolution import CACHE_PREFIX, Confidence, Resolution, ResolutionChange, ResolutionMethod
from models.run import Run, RunKind, RunStatus
from models.run_input import RunInput
from models.snapshot import ChannelSnapshot
from models.video import ShortMethod, Video, VideoSnapshot
from models.video_work import OPEN_TASK_STATUSES, RunVideoBatch, RunVideoChannel, VideoTaskStatus

metadata = SQLModel.metadata

__all__ = [
    "CACHE_PREFIX",
    "OPEN_STATUSES",
    "OPEN_TASK_STATUSES",
    "TERMINAL_STATUSES",
    "ApiCall",
    "ApiToken",
    "Channel",
    "ChannelSnapshot",
    "Confidence",
    "Job",
    "JobStatus",
    "Resolution",
    "ResolutionChange",
    "ResolutionMethod",
    "Run",
    "RunInput",
    "RunKind",
    "RunStatus",
    "RunVideoBatch",
    "RunVideoChannel",
    "ShortMethod",
    "Video",
    "VideoSnapshot",
    "VideoTaskStatus",
    "metadata",
]
