"""The emulator as a raw ASGI application: ``/youtube/v3/*`` as the API, ``/_emulator/*`` to steer it.

Raw ASGI rather than a framework because a ``channels.list`` of 50 ids must stay a few dict hits
and a byte join: the benchmark asks for thousands of requests per second on two cores.

Order of checks for an API request, as Google's front end does it: the key (missing, invalid,
disabled), then the project's quota in the method's bucket, then injected faults, then the
method's own validation.

Validation follows the API: ``part`` (required, known parts only), one filter, at most 50 ids,
``maxResults`` 0-50 (1-50 on ``videos.list``), enum values (``order``, ``safeSearch``, ``chart``,
the ``video*`` search filters; any letter case), issued page tokens only, video-only search filters
only with ``type=video``, and no parameter the method does not declare.

``fields`` is honoured, not refused: partial responses in Google's syntax (``items(id,snippet/
title)``, ``a/b``, ``*``) are applied to 200 answers, a malformed selection is the API's 400
``Invalid field selection``, and a name the resource lacks selects nothing (``fields.py``).

Admin API (no key):

- ``GET /_emulator/catalogue?limit=N&offset=M`` -> ``{"channels": [entry, ...], "total": N}``, an
  entry being ``{"id", "handle", "username", "custom_name", "title", "niche", "keywords",
  "video_ids" (public, upload order, oldest first), "removed_video_ids", "playlist_ids",
  "uploads_playlist_id", "shorts_playlist_id", "long_playlist_id", "live_playlist_id" (None when
  the channel has no such shelf), "terminated", "hidden", "no_videos", "country", "script"}``
- ``GET /_emulator/videos?channel_id=UC…`` -> ``{"channel_id", "uploads": [{"id", "title",
  "added_at", "published_at", "kind" (short|long|live), "short", "premiere", "duration",
  "duration_seconds", "views", "likes", "comments"}, ...] (newest upload first),
  "removed_video_ids", "playlists": {"uploads", "shorts", "long", "live"}}``
- ``POST /_emulator/uploads`` ``{"channel_id", "count"?: 1, "shorts"?: 0, "scheduled_seconds"?: 0}``
  -> ``{"channel_id", "video_ids" (oldest first), "video_count"}``: uploads now on the emulator's
  clock (the first ``shorts`` of them Shorts; the others premieres published that many seconds
  later when ``scheduled_seconds`` is given)
- ``POST /_emulator/remove`` ``{"video_ids": [...]}`` -> ``{"removed": [...], "unknown": [...]}``
- ``GET /_emulator/keywords`` -> ``{"niches": {niche: {"keywords": [...], "channels": [id, ...]}}}``
- ``GET /_emulator/search?q=&type=&channelId=&order=&limit=500`` -> ``{"total", "hits": [{"kind",
  "id", "channel_id", "title", "published_at"}, ...]}``: what ``search.list`` pages through
- ``GET /_emulator/usage`` -> ``{"units_total" (the default bucket's), "requests_total", "by_key":
  {fingerprint: {"units" (default bucket), "requests", "status", "project", "by_method", "by_status",
  "buckets": {bucket: units}}}, "by_method": {method: {"units", "requests"}} (units in the method's
  own bucket), "by_status", "by_verb", "buckets": {bucket: {"limit_per_project", "units_total",
  "requests_total", "by_method", "by_key": {fingerprint: {"units", "requests", "by_method"}},
  "projects": {name: {"keys", "units_today", "remaining_today"}}}}, "quota": {"day", "resets_at",
  "limit_per_project" (default bucket), "limits": {bucket: size}, "projects": {name: {"keys",
  "units_today", "remaining_today" (default bucket), "buckets": {bucket: {"units_today",
  "remaining_today"}}}}}, "feeds": {"requests", "by_status"}}``; the buckets are ``default``,
  ``search`` and ``video_stats``
- ``GET|POST /_emulator/faults``: ``{"faults": [{"endpoint", "kind", "rate"?, "count"?, "key"?,
  "until"?: "ISO instant"}], "latency_ms"?: ms | {endpoint: ms}}`` (POST replaces; ``{"faults": []}``
  clears); endpoint ``feeds.videos`` is the public feed
- ``GET|POST /_emulator/clock``: ``{"advance_seconds": N}`` or ``{"set": "ISO instant"}`` ->
  ``{"now", "pacific_day", "resets_at"}``
- ``POST /_emulator/reset`` (usage, quota, faults, clock, added uploads and removals);
  ``GET /_emulator/health``

The public feed ``GET /feeds/videos.xml?channel_id=UC…`` (or ``?user=NAME``) is served on the same
port, with no key and no quota (``feed.py``); ``usage`` counts it under ``feeds``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from emulator import errors, feed, fields
from emulator.catalogue import LIVE, LONG, SHORT, Catalogue, rfc3339
from emulator.clock import PACIFIC, EmulatorClock, next_pacific_midnight, pacific_day
from emulator.config import EmulatorConfig
from emulator.faults import FaultPlan, FaultSpecError
from emulator.quota import (
    DISABLED,
    INVALID,
    METHODS,
    MISSING,
    SERVICE_BLOCKED,
    QuotaBook,
    project_number,
)
from emulator.render import (
    CHANNEL_PARTS,
    PLAYLIST_ITEM_PARTS,
    PLAYLIST_PARTS,
    SEARCH_PARTS,
    STATS_PARTS,
    VIDEO_PARTS,
    Renderer,
    dumps,
    part_mask,
)
from emulator.search import Searcher, SearchQuery

Params = dict[str, list[str]]
Answer = tuple[int, bytes]

_METHODS = {
    "/youtube/v3/channels": "channels.list",
    "/youtube/v3/videos": "videos.list",
    "/youtube/v3/playlists": "playlists.list",
    "/youtube/v3/playlistItems": "playlistItems.list",
    "/youtube/v3/search": "search.list",
    "/youtube/v3/videos:batchGetStats": "videos.batchGetStats",
}
# Parameters every Google API takes, then each method's own (from the API's discovery document).
_STANDARD = {
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
}
_ALLOWED = {
    "channels.list": {
        "categoryId",
        "forHandle",
        "forUsername",
        "hl",
        "id",
        "managedByMe",
        "maxResults",
        "mine",
        "mySubscribers",
        "onBehalfOfContentOwner",
        "pageToken",
        "part",
    },
    "videos.list": {
        "chart",
        "hl",
        "id",
        "locale",
        "maxHeight",
        "maxResults",
        "maxWidth",
        "myRating",
        "onBehalfOfContentOwner",
        "pageToken",
        "part",
        "regionCode",
        "videoCategoryId",
    },
    "playlists.list": {
        "channelId",
        "hl",
        "id",
        "maxResults",
        "mine",
        "onBehalfOfContentOwner",
        "onBehalfOfContentOwnerChannel",
        "pageToken",
        "part",
    },
    "playlistItems.list": {
        "id",
        "maxResults",
        "onBehalfOfContentOwner",
        "pageToken",
        "part",
        "playlistId",
        "videoId",
    },
    "videos.batchGetStats": {"id", "onBehalfOfContentOwner", "part"},
    "search.list": {
        "channelId",
        "channelType",
        "eventType",
        "forContentOwner",
        "forDeveloper",
        "forMine",
        "location",
        "locationRadius",
        "maxResults",
        "onBehalfOfContentOwner",
        "order",
        "pageToken",
        "part",
        "publishedAfter",
        "publishedBefore",
        "q",
        "regionCode",
        "relevanceLanguage",
        "safeSearch",
        "topicId",
        "type",
        "videoCaption",
        "videoCategoryId",
        "videoDefinition",
        "videoDimension",
        "videoDuration",
        "videoEmbeddable",
        "videoLicense",
        "videoPaidProductPlacement",
        "videoSyndicated",
        "videoType",
    },
}
# Enum parameters and the values the API takes (from its discovery document).
_VIDEO_ENUMS = {"chart": ("chartUnspecified", "mostPopular"), "myRating": ("dislike", "like", "none")}
_SEARCH_ENUMS = {
    "order": ("date", "rating", "relevance", "searchSortUnspecified", "title", "videoCount", "viewCount"),
    "safeSearch": ("moderate", "none", "safeSearchSettingUnspecified", "strict"),
    "channelType": ("any", "channelTypeUnspecified", "show"),
    "eventType": ("completed", "live", "none", "upcoming"),
    "videoCaption": ("any", "closedCaption", "none", "videoCaptionUnspecified"),
    "videoDefinition": ("any", "high", "standard"),
    "videoDimension": ("2d", "3d", "any"),
    "videoDuration": ("any", "long", "medium", "short", "videoDurationUnspecified"),
    "videoEmbeddable": ("any", "true", "videoEmbeddableUnspecified"),
    "videoLicense": ("any", "creativeCommon", "youtube"),
    "videoPaidProductPlacement": ("any", "true", "videoPaidProductPlacementUnspecified"),
    "videoSyndicated": ("any", "true", "videoSyndicatedUnspecified"),
    "videoType": ("any", "episode", "movie", "videoTypeUnspecified"),
}
# Search filters that only make sense for videos: without type=video they are invalidSearchFilter.
_VIDEO_ONLY_FILTERS = (
    "eventType",
    "location",
    "locationRadius",
    "videoCaption",
    "videoCategoryId",
    "videoDefinition",
    "videoDimension",
    "videoDuration",
    "videoEmbeddable",
    "videoLicense",
    "videoPaidProductPlacement",
    "videoSyndicated",
    "videoType",
)
_SEARCH_TYPES = ("video", "channel", "playlist")
_JSON_HEADERS = [
    (b"content-type", b"application/json; charset=UTF-8"),
    (b"vary", b"Origin, X-Origin, Referer"),
    (b"server", b"ESF"),
    (b"cache-control", b"private"),
]


def parse_query(raw: str, into: Params | None = None) -> Params:
    """``a=1&b=x%2Cy&a=2`` -> ``{"a": ["1", "2"], "b": ["x,y"]}`` (``+`` is a space, UTF-8 escapes)."""
    params: Params = {} if into is None else into
    for pair in raw.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if "%" in value:
            # An id list is mostly "%2C" escapes: replacing them is much cheaper than a full unquote.
            value = value.replace("%2C", ",").replace("%2c", ",")
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "))
        found = params.get(name)
        if found is None:
            params[name] = [value]
        else:
            found.append(value)
    return params


def _list_param(params: Params, name: str) -> list[str] | None:
    """A comma-list parameter, given as ``a,b`` or repeated (``id=a&id=b``), or None when absent."""
    values = params.get(name)
    if values is None:
        return None
    if len(values) == 1 and "," not in values[0]:
        value = values[0].strip()
        return [value] if value else []
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _single(params: Params, name: str) -> str | None:
    values = params.get(name)
    return None if values is None else values[0]


def _rfc3339(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 date-time with a zone (``2026-01-01T00:00:00Z``), else None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None and "T" in text.upper() else None


# Page tokens in the API's own shape: base64 of a tiny protobuf (``CAUQAA`` = offset 5, forwards).
def page_token(offset: int, backwards: bool = False) -> str:
    out = bytearray(b"\x08")
    value = offset
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            break
    out += b"\x10\x01" if backwards else b"\x10\x00"
    return base64.urlsafe_b64encode(bytes(out)).decode().rstrip("=")


def read_page_token(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) < 4 or raw[0] != 0x08 or raw[-2] != 0x10:
        return None
    offset, shift = 0, 0
    for byte in raw[1:-2]:
        offset |= (byte & 0x7F) << shift
        shift += 7
    return offset


class Emulator:
    """State (catalogue, clock, quota, faults) plus the ASGI callable that serves it."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = EmulatorClock(config.start_time)
        # The catalogue's history ends where the emulator's clock starts.
        self.catalogue = Catalogue(config.seed, config.channels, anchor=self.clock.timestamp())
        self.searcher = Searcher(self.catalogue)
        self.renderer = Renderer(self.catalogue, config.hidden_subscriber_mode)
        self.quota = QuotaBook(config)
        self.faults = FaultPlan(config.seed, config.latency_ms)
        self._masks: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._selections: dict[str, fields.Selection | None] = {}
        self._handlers: dict[str, Callable[[Params, float], Answer]] = {
            "channels.list": self.channels_list,
            "videos.list": self.videos_list,
            "playlists.list": self.playlists_list,
            "playlistItems.list": self.playlist_items_list,
            "search.list": self.search_list,
            "videos.batchGetStats": self.videos_batch_get_stats,
        }

    # --- state the in-process API and the admin endpoints share ----------------------------------------
    def usage(self) -> dict:
        now = self.clock.now()
        return self.quota.report(pacific_day(now), next_pacific_midnight(now).isoformat())

    def reset(self) -> None:
        """Usage, quota, faults, clock, and uploads added or videos removed since, back to their start."""
        self.quota.reset()
        self.faults.set({})
        self.clock.reset()
        if self.catalogue.has_overlay():
            self.catalogue.reset_overlay()
            self.renderer.forget_all()
            self.searcher.forget()

    def add_uploads(
        self, channel_id: str, count: int = 1, shorts: int = 0, scheduled_seconds: float = 0.0
    ) -> list[str]:
        """Upload ``count`` videos to a channel now (on the emulator's clock); their ids, oldest first."""
        index = self._live_channel(channel_id)
        numbers = self.catalogue.add_uploads(index, self.clock.timestamp(), count, shorts, scheduled_seconds)
        self.renderer.forget_channel(index)
        self.searcher.forget()
        return [self.catalogue.codec.video_id(index, n) for n in numbers]

    def remove_videos(self, video_ids: list[str]) -> dict[str, list[str]]:
        """Remove public videos (gone from every answer from now on); ids that were not public are listed apart."""
        removed, unknown = [], []
        for video_id in video_ids:
            slot = self.catalogue.video_slot(video_id)
            if slot is not None and self.catalogue.remove_video(*slot):
                removed.append(video_id)
                self.renderer.forget_channel(slot[0])
            else:
                unknown.append(video_id)
        if removed:
            self.searcher.forget()
        return {"removed": removed, "unknown": unknown}

    def keywords(self) -> dict:
        """Every niche with its keyword phrases and its live channels (``GET /_emulator/keywords``)."""
        cat = self.catalogue
        out: dict[str, dict] = {}
        for index in range(len(cat)):
            if cat.live(index):
                niche = out.setdefault(
                    cat.niche(index), {"keywords": cat.entry_keywords(index), "channels": []}
                )
                niche["channels"].append(cat.channel_id(index))
        return {"niches": dict(sorted(out.items()))}

    def expected_search(self, query: Params) -> dict:
        """What ``search.list`` finds for ``q``, ``type``, ``channelId`` and ``order``, unpaged
        (``GET /_emulator/search``): the truth a test of a client compares its pages with."""
        channel_id = _single(query, "channelId")
        channel = None
        if channel_id:
            found = self.catalogue.index_of_id(channel_id) if channel_id.startswith("UC") else None
            channel = -1 if found is None else found
        types = _list_param(query, "type") or list(_SEARCH_TYPES)
        if any(t not in _SEARCH_TYPES for t in types):
            raise ValueError(f"type must be among {', '.join(_SEARCH_TYPES)}")
        limit = int(_single(query, "limit") or 500)
        now = self.clock.timestamp()
        hits = self.searcher.run(
            SearchQuery(
                q=_single(query, "q") or "",
                types=tuple(t for t in _SEARCH_TYPES if t in types),
                channel=channel,
                order=_single(query, "order") or "relevance",
            ),
            now,
        )
        cat = self.catalogue
        listed = []
        for hit in hits[:limit]:
            if hit.kind == "video":
                item_id = cat.codec.video_id(hit.index, hit.number)
            elif hit.kind == "playlist":
                item_id = cat.codec.playlist_id(hit.index, hit.number)
            else:
                item_id = cat.channel_id(hit.index)
            listed.append(
                {
                    "kind": hit.kind,
                    "id": item_id,
                    "channel_id": cat.channel_id(hit.index),
                    "title": self.searcher.title(hit),
                    "published_at": rfc3339(self.searcher.published(hit)),
                }
            )
        return {"total": len(hits), "hits": listed}

    def _live_channel(self, channel_id: str) -> int:
        index = self.catalogue.index_of_id(channel_id) if channel_id.startswith("UC") else None
        if index is None or not self.catalogue.live(index):
            raise ValueError(f"no live channel {channel_id!r} in the catalogue")
        return index

    def clock_state(self) -> dict:
        now = self.clock.now()
        return {
            "now": now.isoformat(),
            "pacific_day": pacific_day(now),
            "resets_at": next_pacific_midnight(now).isoformat(),
        }

    # --- ASGI ------------------------------------------------------------------------------------------
    async def __call__(
        self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        method = _METHODS.get(path)
        if method is not None:
            await self._api(method, scope, receive, send)
        elif path == "/feeds/videos.xml":
            await self._feed(scope, send)
        elif path.startswith("/_emulator/"):
            await self._admin(path[11:], scope, receive, send)
        else:
            await _respond(send, 404, errors.NOT_FOUND)

    @staticmethod
    async def _lifespan(
        receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _api(
        self,
        method: str,
        scope: dict,
        receive: Callable[[], Awaitable[dict]],
        send: Callable[[dict], Awaitable[None]],
    ) -> None:
        params = parse_query(scope["query_string"].decode("latin-1"))
        header_key = None
        if scope["method"] != "GET":
            override = None
            form = False
            for name, value in scope["headers"]:
                if name == b"x-http-method-override":
                    override = value.decode("latin-1").upper()
                elif name == b"content-type":
                    form = value.startswith(b"application/x-www-form-urlencoded")
            if scope["method"] != "POST" or override != "GET":
                await _respond(send, 404, errors.NOT_FOUND)
                return
            body = await _read_body(receive)
            if form and body:
                parse_query(body.decode("utf-8", "replace"), params)
        if "key" not in params:
            for name, value in scope["headers"]:
                if name == b"x-goog-api-key":
                    header_key = value.decode("latin-1")
        status, body, _units, drop = self.handle(method, params, header_key, scope["method"])
        latency = self.faults.latency_ms(method)
        if latency:
            await asyncio.sleep(latency / 1000)
        if drop:
            await _drop(send)
            return
        await _respond(send, status, body)

    async def _feed(self, scope: dict, send: Callable[[dict], Awaitable[None]]) -> None:
        status, body = self.feed(parse_query(scope["query_string"].decode("latin-1")))
        latency = self.faults.latency_ms(FEED)
        if latency:
            await asyncio.sleep(latency / 1000)
        if status == 0:
            await _drop(send)
            return
        content_type = feed.CONTENT_TYPE if status == 200 else b"text/html; charset=UTF-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"server", b"ESF"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def feed(self, params: Params) -> tuple[int, bytes]:
        """``GET /feeds/videos.xml?channel_id=UC…`` (or ``?user=NAME``): ``(status, body)``, 0 to drop.

        No key and no quota: it is counted in the usage report under ``feeds`` only.
        """
        ts = self.clock.timestamp()
        fault = self.faults.pick(FEED, "", ts)
        if fault is not None:
            status, body = _FEED_FAULTS.get(fault, (500, feed.SERVER_ERROR_HTML))
            self.quota.record_feed(status)
            return status, body
        cat = self.catalogue
        channel_id, user = _single(params, "channel_id"), _single(params, "user")
        index = None
        if channel_id and channel_id.startswith("UC"):
            index = cat.index_of_id(channel_id)
        elif user:
            index = cat.index_of_username(user)
        if index is None or not cat.live(index):
            self.quota.record_feed(404)
            return 404, feed.NOT_FOUND_HTML
        self.quota.record_feed(200)
        return 200, self.renderer.feed(index, ts, lambda: feed.render(cat, index, ts))

    def handle(
        self, method: str, params: Params, header_key: str | None = None, verb: str = "GET"
    ) -> tuple[int, bytes, int, bool]:
        """Answer one API request: ``(status, body, units charged, drop the connection)``.

        Synchronous on purpose: the quota check and the charge happen with no await in between, so
        concurrent requests on the event loop can never overspend a bucket.
        """
        keys = params.get("key")
        info = self.quota.key_info(keys[-1] if keys else header_key)
        ts = self.clock.timestamp()
        day = datetime.fromtimestamp(ts, PACIFIC).date().isoformat()
        if info.status != "valid":
            if info.status == MISSING:
                status, body = 403, errors.MISSING_KEY
            elif info.status == INVALID:
                status, body = 400, errors.API_KEY_INVALID
            elif info.status == DISABLED:
                status, body = 403, errors.service_disabled(project_number(info.project or ""))
            else:
                number = project_number(info.project or "")
                status, body = 403, errors.key_blocked(info.status == SERVICE_BLOCKED, method, number)
            self.quota.record(info, method, day, 0, status, verb)
            return status, body, 0, False
        bucket, cost = METHODS[method]
        if not self.quota.has_room(info.project or "", bucket, day, cost):
            # The same verbatim body for every bucket (assumed by youtube-api.md), for its methods only.
            self.quota.record(info, method, day, 0, 403, verb)
            if self.config.quota_exceeded_body == "per_bucket":
                return 403, errors.quota_exceeded_in(bucket), 0, False
            return 403, errors.QUOTA_EXCEEDED, 0, False
        fault = self.faults.pick(method, info.fingerprint, ts)
        if fault is not None:
            status, body, billed = _FAULTS[fault]
            units = cost if billed else 0
            self.quota.record(info, method, day, units, 0 if fault == "drop" else status, verb)
            return status, body, units, fault == "drop"
        unknown = next(
            (name for name in params if name not in _STANDARD and name not in _ALLOWED[method]), None
        )
        spec = _single(params, "fields")
        selection = self._selection(spec) if spec else None
        if unknown is not None:
            status, body = 400, errors.unknown_parameter(unknown)
        elif spec and selection is None:
            status, body = 400, errors.invalid_fields(spec)
        else:
            status, body = self._handlers[method](params, ts)
        if selection is not None and status == 200:
            body = dumps(fields.select(json.loads(body), selection)).encode()
        self.quota.record(info, method, day, cost, status, verb)
        return status, body, cost, False

    # --- shared validation -------------------------------------------------------------------------------
    def _selection(self, spec: str) -> fields.Selection | None:
        """The parsed ``fields`` value (cached), or None when it is not a valid selection."""
        if spec in self._selections:
            return self._selections[spec]
        try:
            found: fields.Selection | None = fields.parse(spec)
        except fields.FieldsError:
            found = None
        if len(self._selections) < 1_000:
            self._selections[spec] = found
        return found

    def _parts(self, params: Params, method: str, allowed: tuple[str, ...]) -> tuple[int, bytes | None]:
        values = params.get("part")
        raw = ",".join(values) if values else ""
        cached = self._masks.get((method, raw))
        if cached is None:
            wanted = _list_param(params, "part") or []
            cached = part_mask(allowed, wanted) if wanted else (0, "")
            if len(self._masks) < 10_000:
                self._masks[(method, raw)] = cached
        mask, unknown = cached
        if unknown is None:
            return mask, None
        return 0, errors.required_parameter("part") if unknown == "" else errors.unknown_part(unknown)

    @staticmethod
    def _max_results(params: Params, default: int = 5, low: int = 0) -> tuple[int, bytes | None]:
        raw = _single(params, "maxResults")
        if raw is None:
            return default, None
        try:
            value = int(raw)
        except ValueError:
            return 0, errors.invalid_range("maxResults", raw, low, 50)
        if not low <= value <= 50:
            return 0, errors.invalid_range("maxResults", raw, low, 50)
        return value, None

    @staticmethod
    def _enums(params: Params, enums: dict[str, tuple[str, ...]]) -> bytes | None:
        """400 ``invalidParameter`` for the first enum parameter given a value it does not take."""
        for name, allowed in enums.items():
            value = _single(params, name)
            if value is not None and value.lower() not in {v.lower() for v in allowed}:
                return errors.invalid_enum(name, value, allowed)
        return None

    @staticmethod
    def _offset(params: Params) -> tuple[int, bytes | None]:
        token = _single(params, "pageToken")
        if not token:
            return 0, None
        offset = read_page_token(token)
        return (0, errors.invalid_page_token()) if offset is None else (offset, None)

    def _ids(self, params: Params) -> tuple[list[str], bytes | None]:
        ids = _list_param(params, "id") or []
        if len(ids) > 50:
            return [], errors.too_many_ids(len(ids))
        return ids, None

    # --- channels.list -----------------------------------------------------------------------------------
    _CHANNEL_FILTERS = (
        "id",
        "forHandle",
        "forUsername",
        "mine",
        "managedByMe",
        "mySubscribers",
        "categoryId",
    )

    def channels_list(self, params: Params, now: float) -> Answer:
        mask, error = self._parts(params, "channels.list", CHANNEL_PARTS)
        if error:
            return 400, error
        per_page, error = self._max_results(params)
        if error:
            return 400, error
        if "pageToken" in params:  # a valid token changes nothing for an id or handle lookup
            _, error = self._offset(params)
            if error:
                return 400, error
        filters = [name for name in self._CHANNEL_FILTERS if name in params]
        if not filters:
            return 400, errors.no_filter(
                "forUsername, managedByMe, categoryId, mySubscribers, id, mine, idParam, forHandle"
            )
        if len(filters) > 1:
            return 400, errors.invalid_criteria("id, categoryId, mine, managedByMe, forHandle, forUsername")
        which = filters[0]
        cat = self.catalogue
        indices: list[int] = []
        if which == "id":
            ids, error = self._ids(params)
            if error:
                return 400, error
            known = cat.live_ids  # live_index's memo, read inline: 50 lookups a call
            found = {}
            for channel_id in ids:
                index = known.get(channel_id)
                if index is None:
                    index = cat.live_index(channel_id)
                if index >= 0:
                    found[channel_id] = index
            # Sorted ids, not the request's order: clients must key results by id.
            indices = [found[k] for k in sorted(found)]
        elif which in ("forHandle", "forUsername"):
            value = _single(params, which) or ""
            if which == "forHandle":
                index = cat.index_of_handle(value)
                # The assumed-strict reading: only the handle as customUrl shows it, lowercased.
                strict = self.config.handle_case_sensitive
                if index is not None and strict and value.removeprefix("@") != cat.handles[index].lower():
                    index = None
            else:
                index = cat.index_of_username(value)
            if index is not None and cat.live(index):
                indices = [index]
        elif which in ("mine", "managedByMe", "mySubscribers"):
            return 401, errors.LOGIN_REQUIRED
        # categoryId is deprecated: it matches nothing.
        if not indices:
            etag = self.catalogue.codec.etag("channels-empty", which)
            return 200, (
                f'{{"kind":"youtube#channelListResponse","etag":"{etag}",'
                f'"pageInfo":{{"totalResults":0,"resultsPerPage":{per_page}}}}}'
            ).encode()
        rendered = self.renderer.channels(indices, mask, now)
        etag = cat.codec.etag("channels", "".join([hit[1] for hit in rendered]))
        head = (
            f'{{"kind":"youtube#channelListResponse","etag":"{etag}","pageInfo":{{"totalResults":'
            f'{len(rendered)},"resultsPerPage":{per_page}}},"items":['
        ).encode()
        parts = [head]
        for hit in rendered:  # one join, one copy of the ~75 kB body
            parts.append(hit[2])
            parts.append(b",")
        parts[-1] = b"]}"
        return 200, b"".join(parts)

    @staticmethod
    def _one_filter(params: Params, names: tuple[str, ...]) -> tuple[str, Answer | None]:
        """The one filter among ``names`` the request uses; a 400 answer when it has none or several."""
        filters = [name for name in names if name in params]
        if not filters:
            return "", (400, errors.no_filter(", ".join(sorted(names, key=str.lower))))
        if len(filters) > 1:
            return "", (
                400,
                errors.youtube_error(
                    400,
                    "incompatibleParameters",
                    "The request specifies two or more parameters that cannot be used "
                    "in the same request: " + ", ".join(filters),
                    location="parameters.",
                    location_type="other",
                ),
            )
        return filters[0], None

    # --- videos.list -------------------------------------------------------------------------------------
    def videos_list(self, params: Params, now: float) -> Answer:
        mask, error = self._parts(params, "videos.list", VIDEO_PARTS)
        if error:
            return 400, error
        error = self._enums(params, _VIDEO_ENUMS)
        if error:
            return 400, error
        _, error = self._max_results(params, low=1)  # 1-50 here, where the other lists take 0
        if error:
            return 400, error
        _, error = self._offset(params)
        if error:
            return 400, error
        chosen, refusal = self._one_filter(params, ("id", "chart", "myRating"))
        if refusal:
            return refusal
        if chosen == "myRating":
            return 401, errors.LOGIN_REQUIRED
        found: dict[str, tuple[int, int]] = {}
        if chosen == "id":
            ids, error = self._ids(params)
            if error:
                return 400, error
            for video_id in ids:
                slot = self.catalogue.video_slot(video_id)
                if slot is not None:
                    found[video_id] = slot
        # chart=mostPopular is not modelled: it answers an empty page.
        rendered = [self.renderer.video(*found[k], mask, now) for k in sorted(found)]
        return 200, self._list_body(
            "youtube#videoListResponse", rendered, len(rendered), len(rendered), items_first=True
        )

    # --- videos.batchGetStats -----------------------------------------------------------------------------
    def videos_batch_get_stats(self, params: Params, now: float) -> Answer:
        """Statistics, publish time and duration of up to 50 videos; unknown and removed ids left out."""
        mask, error = self._parts(params, "videos.batchGetStats", STATS_PARTS)
        if error:
            return 400, error
        ids = _list_param(params, "id")
        if not ids:
            return 400, errors.required_parameter("id")
        if len(ids) > 50:
            return 400, errors.too_many_ids(len(ids))
        found: dict[str, tuple[int, int]] = {}
        for video_id in ids:
            slot = self.catalogue.video_slot(video_id)
            if slot is not None:
                found[video_id] = slot
        rendered = [self.renderer.video_stats(*found[k], mask, now) for k in sorted(found)]
        etag = self.catalogue.codec.etag("batchGetStats", *(e for e, _ in rendered))
        return 200, (
            f'{{"kind":"youtube#batchGetStatsResponse","etag":"{etag}","items":['.encode()
            + b",".join(body for _, body in rendered)
            + b"]}"
        )

    # --- playlists.list ----------------------------------------------------------------------------------
    def playlists_list(self, params: Params, now: float) -> Answer:
        mask, error = self._parts(params, "playlists.list", PLAYLIST_PARTS)
        if error:
            return 400, error
        per_page, error = self._max_results(params)
        if error:
            return 400, error
        chosen, refusal = self._one_filter(params, ("id", "channelId", "mine"))
        if refusal:
            return refusal
        if chosen == "mine":
            return 401, errors.LOGIN_REQUIRED
        cat = self.catalogue
        if chosen == "id":
            ids, error = self._ids(params)
            if error:
                return 400, error
            found: dict[str, tuple[int, int | None]] = {}
            shelves: dict[str, str | None] = {}
            for playlist_id in ids:
                owner = cat.channel_playlist(playlist_id)
                if owner is not None:
                    index, shelf = owner
                    if cat.live(index) and self._channel_playlist_videos(index, shelf):
                        found[playlist_id] = (index, None)
                        shelves[playlist_id] = shelf
                else:
                    slot = cat.playlist_slot(playlist_id)
                    if slot is not None:
                        found[playlist_id] = slot
            rendered = [self.renderer.playlist(*found[k], mask, now, shelves.get(k)) for k in sorted(found)]
            return 200, self._list_body("youtube#playlistListResponse", rendered, len(rendered), per_page)
        offset, error = self._offset(params)
        if error:
            return 400, error
        channel_id = _single(params, "channelId") or ""
        owner_index = cat.index_of_id(channel_id) if channel_id.startswith("UC") else None
        numbers = []
        if owner_index is not None and cat.live(owner_index):
            numbers = list(range(cat.detail(owner_index).n_playlists))
        page = numbers[offset : offset + per_page]
        rendered = [self.renderer.playlist(owner_index, n, mask, now) for n in page]  # type: ignore[arg-type]
        return 200, self._list_body(
            "youtube#playlistListResponse",
            rendered,
            len(numbers),
            per_page,
            offset=offset,
            total=len(numbers),
        )

    # --- playlistItems.list ------------------------------------------------------------------------------
    def playlist_items_list(self, params: Params, now: float) -> Answer:
        mask, error = self._parts(params, "playlistItems.list", PLAYLIST_ITEM_PARTS)
        if error:
            return 400, error
        per_page, error = self._max_results(params)
        if error:
            return 400, error
        filters = [name for name in ("id", "playlistId") if name in params]
        if not filters:
            return 400, errors.no_filter("id, playlistId")
        if len(filters) > 1:
            return 400, errors.youtube_error(
                400,
                "incompatibleParameters",
                "The request specifies two or more parameters that cannot be used "
                "in the same request: id, playlistId",
                location="parameters.",
                location_type="other",
            )
        offset, error = self._offset(params)
        if error:
            return 400, error
        if filters[0] == "id":  # playlist item ids are not looked up: nothing matches
            return 200, self._list_body("youtube#playlistItemListResponse", [], 0, per_page, items_first=True)
        cat = self.catalogue
        playlist_id = (_single(params, "playlistId") or "").strip()
        videos: list[int] = []
        index: int | None = None
        owner = cat.channel_playlist(playlist_id)
        if owner is not None:
            index, shelf = owner
            if cat.live(index):
                videos = self._channel_playlist_videos(index, shelf)[::-1]  # upload order, newest first
            if not videos:  # terminated, no such shelf, or a channel with no public videos
                return 404, errors.PLAYLIST_NOT_FOUND
        else:
            slot = cat.playlist_slot(playlist_id)
            if slot is None:
                return 404, errors.PLAYLIST_NOT_FOUND
            index = slot[0]
            videos = cat.playlist_videos(*slot)
        video_filter = _single(params, "videoId")
        positions = list(enumerate(videos))
        if video_filter:
            positions = [(p, n) for p, n in positions if cat.codec.video_id(index, n) == video_filter]
        page = positions[offset : offset + per_page]
        rendered = [self.renderer.playlist_item(playlist_id, p, index, n, mask, now) for p, n in page]
        return 200, self._list_body(
            "youtube#playlistItemListResponse",
            rendered,
            len(positions),
            per_page,
            offset=offset,
            total=len(positions),
            items_first=True,
        )

    def _channel_playlist_videos(self, index: int, shelf: str | None) -> list[int]:
        """The public videos of a channel's uploads playlist (shelf None) or of one of its shelves."""
        cat = self.catalogue
        if shelf is None:
            return cat.uploads(index)
        return cat.shelf(index, shelf) if cat.detail(index).has_shelves else []

    # --- search.list -------------------------------------------------------------------------------------
    def search_list(self, params: Params, now: float) -> Answer:
        mask, error = self._parts(params, "search.list", SEARCH_PARTS)
        if error:
            return 400, error
        error = self._enums(params, _SEARCH_ENUMS)
        if error:
            return 400, error
        per_page, error = self._max_results(params)
        if error:
            return 400, error
        offset, error = self._offset(params)
        if error:
            return 400, error
        types = _list_param(params, "type") or list(_SEARCH_TYPES)
        unknown_type = next((t for t in types if t not in _SEARCH_TYPES), None)
        if unknown_type is not None:
            return 400, errors.youtube_error(
                400,
                "invalidParameter",
                f"Invalid value '{unknown_type}' for the type parameter.",
                location="type",
            )
        if types != ["video"] and any(name in params for name in _VIDEO_ONLY_FILTERS):
            return 400, errors.invalid_search_filter()
        if any((_single(params, name) or "").lower() == "true" for name in ("forMine", "forContentOwner")):
            return 401, errors.LOGIN_REQUIRED
        window: dict[str, float | None] = {}
        for name in ("publishedAfter", "publishedBefore"):
            raw = _single(params, name)
            window[name] = None if raw is None else _rfc3339(raw)
            if raw is not None and window[name] is None:
                return 400, errors.invalid_time(name, raw)
        channel = None
        channel_id = _single(params, "channelId")
        if channel_id:
            found = self.catalogue.index_of_id(channel_id) if channel_id.startswith("UC") else None
            channel = -1 if found is None else found
        query = SearchQuery(
            q=_single(params, "q") or "",
            types=tuple(t for t in _SEARCH_TYPES if t in types),
            channel=channel,
            order=_single(params, "order") or "relevance",
            published_after=window["publishedAfter"],
            published_before=window["publishedBefore"],
            video_filters=tuple(
                (name, _single(params, name) or "") for name in _VIDEO_ONLY_FILTERS if name in params
            ),
        )
        hits = self.searcher.run(query, now)
        page = hits[offset : offset + per_page]
        renderer = self.renderer
        rendered = [
            renderer.search_video(hit.index, hit.number, mask, now)
            if hit.kind == "video"
            else renderer.search_channel(hit.index, mask)
            if hit.kind == "channel"
            else renderer.search_playlist(hit.index, hit.number, mask)
            for hit in page
        ]
        etag = self.catalogue.codec.etag("search", offset, *(e for e, _ in rendered))
        head = f'{{"kind":"youtube#searchListResponse","etag":"{etag}",'
        if offset + per_page < len(hits) and per_page:
            head += f'"nextPageToken":"{page_token(offset + per_page)}",'
        if offset and per_page:
            head += f'"prevPageToken":"{page_token(max(0, offset - per_page), backwards=True)}",'
        region = (_single(params, "regionCode") or "US").upper()
        head += (
            f'"regionCode":{dumps(region)},"pageInfo":{{"totalResults":{min(len(hits), 1_000_000)},'
            f'"resultsPerPage":{per_page}}},"items":['
        )
        return 200, head.encode() + b",".join(body for _, body in rendered) + b"]}"

    def _list_body(
        self,
        kind: str,
        rendered: list[tuple[str, bytes]],
        total_results: int,
        per_page: int,
        *,
        offset: int = 0,
        total: int | None = None,
        items_first: bool = False,
    ) -> bytes:
        etag = self.catalogue.codec.etag(kind, offset, *(e for e, _ in rendered))
        head = f'{{"kind":"{kind}","etag":"{etag}",'
        if total is not None and per_page:
            if offset + per_page < total:
                head += f'"nextPageToken":"{page_token(offset + per_page)}",'
            if offset:
                head += f'"prevPageToken":"{page_token(max(0, offset - per_page), backwards=True)}",'
        items = b'"items":[' + b",".join(body for _, body in rendered) + b"]"
        page_info = f'"pageInfo":{{"totalResults":{total_results},"resultsPerPage":{per_page}}}'.encode()
        parts = (items, b",", page_info) if items_first else (page_info, b",", items)
        return head.encode() + b"".join(parts) + b"}"

    # --- admin -------------------------------------------------------------------------------------------
    async def _admin(
        self,
        name: str,
        scope: dict,
        receive: Callable[[], Awaitable[dict]],
        send: Callable[[dict], Awaitable[None]],
    ) -> None:
        verb = scope["method"]
        query = parse_query(scope["query_string"].decode("latin-1"))
        payload: Any = None
        if verb == "POST":
            raw = await _read_body(receive)
            try:
                payload = json.loads(raw) if raw.strip() else {}
            except ValueError:
                await _respond_json(send, 400, {"error": "the body must be JSON"})
                return
        try:
            status, answer = self.admin(verb, name, query, payload)
        except (FaultSpecError, ValueError) as exc:
            status, answer = 400, {"error": str(exc)}
        await _respond_json(send, status, answer)

    def admin(self, verb: str, name: str, query: Params, payload: Any) -> tuple[int, Any]:
        """One ``/_emulator/<name>`` request; raises ValueError on a bad one."""
        if verb == "GET" and name == "catalogue":
            limit = int(_single(query, "limit") or 100)
            offset = int(_single(query, "offset") or 0)
            return 200, {"channels": self.catalogue.sample(limit, offset), "total": len(self.catalogue)}
        if verb == "GET" and name == "usage":
            return 200, self.usage()
        if verb == "GET" and name == "health":
            return 200, {"ok": True, "channels": len(self.catalogue)}
        if name == "faults" and verb in ("GET", "POST"):
            return 200, self.faults.describe() if verb == "GET" else self.faults.set(payload)
        if name == "clock" and verb == "GET":
            return 200, self.clock_state()
        if name == "clock" and verb == "POST":
            if not isinstance(payload, dict):
                raise ValueError('expected {"advance_seconds": N} or {"set": "ISO instant"}')
            if "set" in payload:
                moment = datetime.fromisoformat(str(payload["set"]).replace("Z", "+00:00"))
                self.clock.set(moment)
            elif "advance_seconds" in payload:
                self.clock.advance(float(payload["advance_seconds"]))
            else:
                raise ValueError('expected {"advance_seconds": N} or {"set": "ISO instant"}')
            return 200, self.clock_state()
        if name == "reset" and verb == "POST":
            self.reset()
            return 200, {"ok": True, **self.clock_state()}
        if name == "uploads" and verb == "POST":
            if not isinstance(payload, dict) or not isinstance(payload.get("channel_id"), str):
                raise ValueError(
                    'expected {"channel_id": "UC…", "count"?: N, "shorts"?: N, "scheduled_seconds"?: S}'
                )
            ids = self.add_uploads(
                payload["channel_id"],
                _int(payload.get("count", 1), "count"),
                _int(payload.get("shorts", 0), "shorts"),
                float(payload.get("scheduled_seconds") or 0),
            )
            index = self._live_channel(payload["channel_id"])
            return 200, {
                "channel_id": payload["channel_id"],
                "video_ids": ids,
                "video_count": self.catalogue.video_count(index),
            }
        if name == "remove" and verb == "POST":
            listed = payload.get("video_ids") if isinstance(payload, dict) else None
            if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
                raise ValueError('expected {"video_ids": ["…", …]}')
            return 200, self.remove_videos(listed)
        if name == "videos" and verb == "GET":
            channel_id = _single(query, "channel_id") or ""
            index = self._live_channel(channel_id)
            cat = self.catalogue
            return 200, {
                "channel_id": channel_id,
                "uploads": cat.videos(index, self.clock.timestamp()),
                "removed_video_ids": [cat.codec.video_id(index, k) for k in cat.removed_uploads(index)],
                "playlists": {
                    "uploads": "UU" + channel_id[2:],
                    "shorts": cat.shelf_id(index, SHORT),
                    "long": cat.shelf_id(index, LONG),
                    "live": cat.shelf_id(index, LIVE),
                },
            }
        if name == "keywords" and verb == "GET":
            return 200, self.keywords()
        if name == "search" and verb == "GET":
            return 200, self.expected_search(query)
        return 404, {"error": f"no such admin endpoint: {verb} /_emulator/{name}"}


FEED = "feeds.videos"
# How a fault shows on the feed, which is a web page, not an API: HTML error pages (0: dropped).
_FEED_FAULTS = {
    "not_found_404": (404, feed.NOT_FOUND_HTML),
    "drop": (0, b""),
    "rate_limit_429": (429, feed.SERVER_ERROR_HTML.replace(b"500", b"429")),
    "backend_503": (503, feed.SERVER_ERROR_HTML.replace(b"500", b"503")),
}


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    return value


# kind -> (status, body, billed: the method's units are charged)
_FAULTS: dict[str, tuple[int, bytes, bool]] = {
    "backend_500": (500, errors.BACKEND_500, True),
    "backend_503": (503, errors.BACKEND_503, True),
    "rate_limit_429": (429, errors.RATE_LIMIT_429, True),
    "rate_limit_403": (403, errors.RATE_LIMIT_403, True),
    "user_rate_limit_403": (403, errors.USER_RATE_LIMIT_403, True),
    "drop": (0, b"", True),
    "quota_exceeded": (403, errors.QUOTA_EXCEEDED, False),
    # A method this key's project may not call (how a key without batchGetStats would be told):
    "forbidden_403": (403, errors.PERMISSION_DENIED, False),
    "not_found_404": (404, errors.NOT_FOUND, False),
}


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _respond(send: Callable[[dict], Awaitable[None]], status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Callable[[dict], Awaitable[None]], status: int, value: Any) -> None:
    await _respond(send, status, json.dumps(value, ensure_ascii=False).encode("utf-8"))


async def _drop(send: Callable[[dict], Awaitable[None]]) -> None:
    """Close the connection without answering.

    ASGI has no message for that, so this reaches uvicorn's request cycle behind ``send`` (its
    transport, and its ``disconnected`` flag so uvicorn does not answer 500 in our place). Under
    another server it falls back to an exception, which that server turns into a bare 500.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: drop")
    transport.close()
    cycle.disconnected = True  # type: ignore[union-attr]
