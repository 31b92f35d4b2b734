"""Typed records the client returns; parsers fill them from API items and tolerate missing fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """One ``channels.list`` item with the parts ``snippet,statistics,contentDetails``.

    Counts are Python ints (they exceed 2**31); ``None`` where the API left them out
    (``subscriber_count`` is absent when hidden).
    """

    channel_id: str
    title: str = ""
    description: str = ""
    handle: str | None = None  # snippet.customUrl, lowercased, with its leading "@"
    published_at: datetime | None = None
    country: str | None = None
    thumbnail_url: str | None = None
    uploads_playlist_id: str | None = None
    view_count: int | None = None
    subscriber_count: int | None = None
    hidden_subscriber_count: bool = False
    video_count: int | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ``search.list?type=channel`` item."""

    channel_id: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One ``search.list`` item of any type: the channel behind it, and the video when it is one."""

    kind: str  # "video", "channel" or "playlist"
    channel_id: str
    video_id: str | None = None
    title: str = ""
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiCallRecord:
    """What every API call reports to the sink the pipeline persists (never the key itself)."""

    endpoint: str  # "channels.list", "videos.list", ...
    key_fingerprint: str | None  # first 8 hex of sha256(key); None when no key could be reserved
    units: int
    outcome: str  # "ok", "not_found", or the API's error reason ("quotaExceeded", "backendError", ...)
    http_status: int | None
    latency_ms: float
    at: datetime
    run_id: str | None = None
    attempt: int = 1
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UploadItem:
    """One ``playlistItems.list`` item of an uploads playlist (``part=contentDetails``).

    ``published_at`` is ``contentDetails.videoPublishedAt``: the video's publish time, which for a
    scheduled premiere lies after the upload (the playlist is in upload order, not publish order).
    """

    video_id: str
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """A ``videos.list`` item (``videos:batchGetStats`` gives the same minus title and channel).

    Counts are Python ints and ``None`` where the API left them out (likes can be hidden).
    """

    video_id: str
    channel_id: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    duration_seconds: int | None = None
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a channel's public feed (``/feeds/videos.xml``): no key, no quota."""

    video_id: str
    title: str = ""
    published_at: datetime | None = None
