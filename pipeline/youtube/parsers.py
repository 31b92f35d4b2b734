"""Pure functions from API JSON to typed records and error classes; no I/O, no order assumptions.

The API leaves fields out freely (no ``country`` when unset, no ``subscriberCount`` when hidden, no
``items`` key at all on an empty ``channels.list``), sends counts as strings and reports errors in
two lists (``errors[*].reason`` and, on platform errors, ``details[*].reason``). Everything here
tolerates absence and never raises on a well-formed but sparse item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pipeline.youtube.records import ChannelRecord, SearchHit, SearchResult, UploadItem, VideoRecord
from pipeline.youtube.redact import redact

# --- items -----------------------------------------------------------------------------------------


_EMPTY: Mapping[str, Any] = {}


def _dict(value: Any) -> Mapping[str, Any]:
    # json gives plain dicts; the exact-type test is several times cheaper than an ABC check.
    return value if type(value) is dict or isinstance(value, Mapping) else _EMPTY


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_count(value: Any) -> int | None:
    """A statistics count (a string of digits, sometimes a number) as an int; None when absent or odd."""
    if type(value) is str and value.isascii() and value.isdigit():  # the common case: "12345"
        return int(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def parse_bool(value: Any) -> bool:
    """``hiddenSubscriberCount`` is a JSON boolean; accept its string spellings too."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2012-03-01T12:34:56Z``, fractions allowed) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def parse_handle(custom_url: Any) -> str | None:
    """``snippet.customUrl`` (the handle, ``@name``) lowercased; percent-escapes decoded."""
    text = _text(custom_url)
    if text is None:
        return None
    # Handles cannot contain "%", so unquoting only undoes an encoding, never alters a handle.
    return unquote(text).strip().lower() or None


def best_thumbnail(thumbnails: Any) -> str | None:
    """The largest thumbnail URL offered."""
    thumbs = _dict(thumbnails)
    for size in ("maxres", "high", "medium", "standard", "default"):
        url = _text(_dict(thumbs.get(size)).get("url"))
        if url:
            return url
    for thumb in thumbs.values():
        url = _text(_dict(thumb).get("url"))
        if url:
            return url
    return None


def parse_channel(item: Mapping[str, Any]) -> ChannelRecord:
    """A ``channels.list`` item (any subset of snippet, statistics, contentDetails) as a record.

    Raises ``ValueError`` only when the item has no ``id``: nothing else is required.
    """
    channel_id = _text(item.get("id"))
    if channel_id is None:
        raise ValueError("channel item without an id")
    snippet = _dict(item.get("snippet"))
    statistics = _dict(item.get("statistics"))
    related = _dict(_dict(item.get("contentDetails")).get("relatedPlaylists"))
    hidden = parse_bool(statistics.get("hiddenSubscriberCount", False))
    return ChannelRecord(
        channel_id=channel_id,
        title=snippet.get("title") or "",
        description=snippet.get("description") or "",
        handle=parse_handle(snippet.get("customUrl")),
        published_at=parse_timestamp(snippet.get("publishedAt")),
        country=_text(snippet.get("country")),
        thumbnail_url=best_thumbnail(snippet.get("thumbnails")),
        uploads_playlist_id=_text(related.get("uploads")),
        view_count=parse_count(statistics.get("viewCount")),
        # A hidden count is unknown, whether the API leaves it out or (older answers) says "0".
        subscriber_count=None if hidden else parse_count(statistics.get("subscriberCount")),
        hidden_subscriber_count=hidden,
        video_count=parse_count(statistics.get("videoCount")),
    )


def response_items(response: Any) -> list[Mapping[str, Any]]:
    """``items`` of a list response: absent on an empty ``channels.list``, ``[]`` elsewhere."""
    items = _dict(response).get("items")
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def channels_by_id(response: Any) -> dict[str, ChannelRecord]:
    """Every channel item of a response keyed by its own ``id`` (never by position)."""
    result: dict[str, ChannelRecord] = {}
    for item in response_items(response):
        if _text(item.get("id")):
            result[item["id"]] = parse_channel(item)
    return result


def owner_channel_id(item: Mapping[str, Any]) -> str | None:
    """The channel that owns a video or playlist item: ``snippet.channelId``."""
    return _text(_dict(item.get("snippet")).get("channelId"))


def owners_by_id(response: Any) -> dict[str, str]:
    """Video or playlist id → owning channel id, for every item that names both."""
    result: dict[str, str] = {}
    for item in response_items(response):
        item_id, owner = _text(item.get("id")), owner_channel_id(item)
        if item_id and owner:
            result[item_id] = owner
    return result


def playlist_item_video_id(item: Mapping[str, Any]) -> str | None:
    """A ``playlistItems.list`` item's video id, from contentDetails or snippet.resourceId."""
    video_id = _text(_dict(item.get("contentDetails")).get("videoId"))
    if video_id:
        return video_id
    return _text(_dict(_dict(item.get("snippet")).get("resourceId")).get("videoId"))


def upload_item(item: Mapping[str, Any]) -> UploadItem | None:
    """An uploads-playlist item with its video's publish time (``contentDetails.videoPublishedAt``)."""
    video_id = playlist_item_video_id(item)
    if video_id is None:
        return None
    published = parse_timestamp(_dict(item.get("contentDetails")).get("videoPublishedAt"))
    return UploadItem(video_id=video_id, published_at=published)


_DURATION = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: Any) -> int | None:
    """An ISO 8601 duration (``PT1H2M3S``, ``P1DT2H``, ``PT0S``) in whole seconds; None when absent or odd."""
    if not isinstance(value, str) or not value:
        return None
    match = _DURATION.fullmatch(value.strip().upper())
    if match is None or value.strip().upper() in ("P", "PT"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    seconds = parts["w"] * 604_800 + parts["d"] * 86_400 + parts["h"] * 3_600 + parts["m"] * 60 + parts["s"]
    return int(seconds)


def parse_video(item: Mapping[str, Any]) -> VideoRecord | None:
    """A ``videos.list`` item or a ``videos:batchGetStats`` ``youtube#videoStats`` item; None without an id.

    batchGetStats names the publish time ``snippet.publishTime`` and adds ``durationMillis``;
    videos.list has ``snippet.publishedAt`` and ``contentDetails.duration``. Both are read.
    """
    video_id = _text(item.get("id"))
    if video_id is None:
        return None
    snippet = _dict(item.get("snippet"))
    statistics = _dict(item.get("statistics"))
    details = _dict(item.get("contentDetails"))
    duration = parse_duration(details.get("duration"))
    millis = parse_count(details.get("durationMillis"))
    if millis is not None:
        duration = millis // 1000
    published = parse_timestamp(snippet.get("publishedAt")) or parse_timestamp(snippet.get("publishTime"))
    title = snippet.get("title")
    return VideoRecord(
        video_id=video_id,
        channel_id=_text(snippet.get("channelId")),
        title=title if isinstance(title, str) else None,
        published_at=published,
        duration_seconds=duration,
        view_count=parse_count(statistics.get("viewCount")),
        like_count=parse_count(statistics.get("likeCount")),
        comment_count=parse_count(statistics.get("commentCount")),
    )


def videos_by_id(response: Any) -> dict[str, VideoRecord]:
    """Every video item of a response keyed by its own ``id``."""
    result: dict[str, VideoRecord] = {}
    for item in response_items(response):
        record = parse_video(item)
        if record is not None:
            result[record.video_id] = record
    return result


def search_hit(item: Mapping[str, Any]) -> SearchHit | None:
    """A ``search.list?type=channel`` item; None for anything that is not a channel."""
    ident = item.get("id")
    snippet = _dict(item.get("snippet"))
    channel_id = _text(_dict(ident).get("channelId")) or _text(snippet.get("channelId"))
    if channel_id is None:
        return None
    return SearchHit(channel_id=channel_id, title=snippet.get("title") or snippet.get("channelTitle") or "")


_SEARCH_KINDS = {"youtube#video": "video", "youtube#channel": "channel", "youtube#playlist": "playlist"}


def search_result(item: Mapping[str, Any]) -> SearchResult | None:
    """A ``search.list`` item of any type, with the channel behind it; None when it names no channel."""
    ident = _dict(item.get("id"))
    snippet = _dict(item.get("snippet"))
    kind = _SEARCH_KINDS.get(str(ident.get("kind") or ""))
    video_id = _text(ident.get("videoId"))
    if kind is None:  # an answer that left out id.kind: go by the id it carries
        kind = "video" if video_id else "playlist" if _text(ident.get("playlistId")) else "channel"
    channel_id = _text(snippet.get("channelId")) or _text(ident.get("channelId"))
    if channel_id is None:
        return None
    return SearchResult(
        kind=kind,
        channel_id=channel_id,
        video_id=video_id if kind == "video" else None,
        title=snippet.get("title") or "",
        published_at=parse_timestamp(snippet.get("publishedAt")),
    )


# --- errors ----------------------------------------------------------------------------------------

QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# errors[*].reason or details[*].reason values that say the key (or its project) is unusable.
BAD_KEY_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "SERVICE_DISABLED",
        "accessNotConfigured",
        "keyInvalid",
        "keyExpired",
        "CONSUMER_INVALID",
    }
)
TRANSIENT_REASONS = frozenset({"backendError", "internalError"})


@dataclass(frozen=True, slots=True)
class ApiFailure:
    """What an error answer means for the caller, with nothing from the request in it.

    ``kind`` is one of ``quota`` (switch key), ``bad_key`` (disable the key, switch), ``transient``
    (back off, retry), ``not_sent`` (the request never left: retried like ``transient``, not billed),
    ``not_found`` (404: an answer, not a fault) and ``permanent`` (fail at once).
    """

    kind: str
    reason: str
    status: int | None
    message: str = ""
    retry_after: float | None = None


def error_reasons(content: bytes | str | None) -> tuple[list[str], list[str], str]:
    """``(errors[*].reason, details[*].reason, message)`` of an error body; empty when not JSON."""
    try:
        body = json.loads(content) if content else None
    except (ValueError, TypeError):
        return [], [], ""
    error = _dict(_dict(body).get("error"))
    errors = [
        str(e["reason"]) for e in error.get("errors") or [] if isinstance(e, Mapping) and e.get("reason")
    ]
    details = [
        str(d["reason"]) for d in error.get("details") or [] if isinstance(d, Mapping) and d.get("reason")
    ]
    message = error.get("message")
    return errors, details, message if isinstance(message, str) else ""


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: rare enough to fall back on our own backoff


def classify_error(
    status: int, content: bytes | str | None, headers: Mapping[str, Any] | None = None
) -> ApiFailure:
    """Decide what an error answer means from its status and body (both reason lists are read)."""
    errors, details, message = error_reasons(content)
    reasons = errors + details
    message = redact(message)[:300]
    first = errors[0] if errors else (details[0] if details else f"http{status}")
    if any(r in QUOTA_REASONS for r in reasons):
        return ApiFailure("quota", "quotaExceeded", status, message)
    bad_key = next((r for r in details + errors if r in BAD_KEY_REASONS or r.startswith("API_KEY_")), None)
    if bad_key is not None:
        return ApiFailure("bad_key", bad_key, status, message)
    if status == 429 or any(r in RATE_LIMIT_REASONS for r in reasons):
        reason = next((r for r in reasons if r in RATE_LIMIT_REASONS), "rateLimitExceeded")
        return ApiFailure("transient", reason, status, message, _retry_after(headers))
    if status >= 500 or status == 408 or any(r in TRANSIENT_REASONS for r in reasons):
        return ApiFailure("transient", first, status, message, _retry_after(headers))
    if status == 404:
        return ApiFailure("not_found", first, status, message)
    return ApiFailure("permanent", first, status, message)
