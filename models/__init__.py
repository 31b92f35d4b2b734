"""SQLModel tables, one module per table. Importing this package registers them all on the metadata."""

from sqlmodel import SQLModel

from models.api_call import ApiCall
from models.api_token import ApiToken
from models.channel import Channel
from models.discovery import Discovery
from models.discovery_budget import DiscoveryBudgetDay
from models.discovery_cycle import OPEN_CYCLE_STATUSES, CycleStatus, CycleTrigger, DiscoveryCycle
from models.discovery_search import FINAL_SEARCH_STATUSES, DiscoverySearch, SearchStatus
from models.job import OPEN_STATUSES, TERMINAL_STATUSES, Job, JobStatus
from models.lookup_miss import LookupMiss
from models.resolution import CACHE_PREFIX, Confidence, Resolution, ResolutionChange, ResolutionMethod
from models.run import Run, RunKind, RunStatus
from models.run_input import RunInput
from models.snapshot import ChannelSnapshot
from models.video import ShortMethod, Video, VideoSnapshot
from models.video_work import OPEN_TASK_STATUSES, RunVideoBatch, RunVideoChannel, VideoTaskStatus
from models.watchlist import Watchlist

metadata = SQLModel.metadata

__all__ = [
    "CACHE_PREFIX",
    "FINAL_SEARCH_STATUSES",
    "OPEN_CYCLE_STATUSES",
    "OPEN_STATUSES",
    "OPEN_TASK_STATUSES",
    "TERMINAL_STATUSES",
    "ApiCall",
    "ApiToken",
    "Channel",
    "ChannelSnapshot",
    "Confidence",
    "CycleStatus",
    "CycleTrigger",
    "Discovery",
    "DiscoveryBudgetDay",
    "DiscoveryCycle",
    "DiscoverySearch",
    "Job",
    "JobStatus",
    "LookupMiss",
    "Resolution",
    "ResolutionChange",
    "ResolutionMethod",
    "Run",
    "RunInput",
    "RunKind",
    "RunStatus",
    "RunVideoBatch",
    "RunVideoChannel",
    "SearchStatus",
    "ShortMethod",
    "Video",
    "VideoSnapshot",
    "VideoTaskStatus",
    "Watchlist",
    "metadata",
]
